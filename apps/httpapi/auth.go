package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Account routes: /v1/auth/* (sign-up, confirmation, sign-in, refresh,
// password reset, sign-out).

func (a *api) signUp(c echo.Context) error {
	var req signUpRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := a.Accounts.SignUp(c.Request().Context(), req.Email, req.Password, req.DisplayName)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, signUpResponse{UserID: res.UserID, ConfirmationRequired: res.ConfirmationRequired})
}

func (a *api) confirm(c echo.Context) error {
	var req confirmRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Accounts.Confirm(c.Request().Context(), req.Email, req.Code, c.RealIP()); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) signIn(c echo.Context) error {
	var req signInRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := a.Accounts.SignIn(c.Request().Context(), req.Email, req.Password, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTokens(t, true))
}

func (a *api) refresh(c echo.Context) error {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := a.Accounts.Refresh(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	// A provider with refresh-token rotation returns a new one; the client
	// must get it or its session ends when the old one expires.
	return c.JSON(http.StatusOK, toTokens(t, true))
}

func (a *api) forgot(c echo.Context) error { return a.mailCode(c, a.Accounts.Forgot) }

func (a *api) resend(c echo.Context) error { return a.mailCode(c, a.Accounts.ResendConfirmation) }

// mailCode asks send to mail a code to the request's email and answers 202
// whether or not the account exists.
func (a *api) mailCode(c echo.Context, send func(ctx context.Context, email string) error) error {
	var req emailRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := send(c.Request().Context(), req.Email); err != nil {
		return err
	}
	return noContent(c, http.StatusAccepted)
}

func (a *api) reset(c echo.Context) error {
	var req resetRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Accounts.Reset(c.Request().Context(), req.Email, req.Code, req.Password, c.RealIP()); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

// signOut ends every session of the caller; the body, optional, may name
// the refresh token of this session and the push device to remove.
func (a *api) signOut(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req signOutRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	if err := a.Accounts.SignOut(c.Request().Context(), p, rawBearerToken(c), req.RefreshToken, req.DeviceID); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

type signUpRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"displayName"`
}

type confirmRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

type emailRequest struct {
	Email string `json:"email"`
}

type resetRequest struct {
	Email    string `json:"email"`
	Code     string `json:"code"`
	Password string `json:"password"`
}

type signOutRequest struct {
	RefreshToken string `json:"refreshToken"`
	DeviceID     string `json:"deviceId"`
}

type signUpResponse struct {
	UserID               string `json:"userId"`
	ConfirmationRequired bool   `json:"confirmationRequired"`
}

type tokensResponse struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int64  `json:"expiresIn"`
	TokenType string `json:"tokenType"`
}

func toTokens(t domain.Tokens, withRefresh bool) tokensResponse {
	r := tokensResponse{
		AccessToken: t.AccessToken, IDToken: t.IDToken,
		ExpiresIn: int64(t.ExpiresIn / time.Second), TokenType: "Bearer",
	}
	if withRefresh {
		r.RefreshToken = t.RefreshToken
	}
	return r
}
