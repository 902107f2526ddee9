package cognitoauth_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

type apiTokens struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int64  `json:"expiresIn"`
	TokenType    string `json:"tokenType"`
}

// TestAPIWithCognito is the end-to-end auth flow of the HTTP API in Cognito
// mode: every /v1/auth route against cognito-local, the profile made on the
// first authenticated call (the backstop of the post-confirmation trigger),
// and the revocation of a deleted user's token. Every exchange is checked
// against openapi.yaml.
func TestAPIWithCognito(t *testing.T) {
	e, p := newEmulatorProvider(t, false)
	api := newAPI(t, p, p.Verifier())
	email := "e2e-" + porttest.NewID() + "@example.com"
	const pw, pw2 = "s3cret-pass", "n3w-secret-pass"

	var su struct {
		UserID               string `json:"userId"`
		ConfirmationRequired bool   `json:"confirmationRequired"`
	}
	api.do("POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": pw, "displayName": "Ada"}, 201, &su)
	if su.UserID == "" || !su.ConfirmationRequired {
		t.Fatalf("signup: %+v", su)
	}
	api.do("POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": pw, "displayName": "Eve"}, 409, nil)
	var prob httpapi.ProblemDetails
	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": pw}, 403, &prob)
	if prob.Code != "UserNotConfirmed" {
		t.Fatalf("unconfirmed sign-in: %+v", prob)
	}
	code := e.code(t, email, porttest.AuthCodeSignUp)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	api.do("POST", "/v1/auth/confirm", "", map[string]string{"email": email, "code": wrong}, 400, nil)
	api.do("POST", "/v1/auth/confirm", "", map[string]string{"email": email, "code": code}, 204, nil)
	var unknown, wrongPw httpapi.ProblemDetails
	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": "nobody-" + porttest.NewID() + "@example.com", "password": pw}, 401, &unknown)
	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": pw2}, 401, &wrongPw)
	if unknown.Detail != wrongPw.Detail {
		t.Fatalf("unknown email says %q, wrong password %q", unknown.Detail, wrongPw.Detail)
	}

	var tk apiTokens
	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": pw}, 200, &tk)
	if tk.AccessToken == "" || tk.IDToken == "" || tk.RefreshToken == "" || tk.ExpiresIn <= 0 || tk.TokenType != "Bearer" {
		t.Fatalf("signin: %+v", tk)
	}

	// No trigger runs in cognito-local: the first call makes the profile.
	var me struct {
		ID          string `json:"id"`
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
	}
	api.do("GET", "/v1/me", tk.AccessToken, nil, 200, &me)
	if me.ID != su.UserID || me.Email != email || me.DisplayName != "Ada" {
		t.Fatalf("GET /v1/me = %+v", me)
	}
	api.do("POST", "/v1/posts", tk.AccessToken, map[string]any{"body": "hello from cognito"}, 201, nil)

	var fresh apiTokens
	api.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": tk.RefreshToken}, 200, &fresh)
	if fresh.AccessToken == "" || fresh.RefreshToken != "" {
		t.Fatalf("refresh: %+v", fresh)
	}
	api.do("GET", "/v1/me", fresh.AccessToken, nil, 200, nil)
	api.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": "not-a-refresh-token"}, 401, nil)

	api.do("POST", "/v1/auth/forgot", "", map[string]string{"email": "nobody-" + porttest.NewID() + "@example.com"}, 202, nil)
	api.do("POST", "/v1/auth/forgot", "", map[string]string{"email": email}, 202, nil)
	reset := e.code(t, email, porttest.AuthCodeReset)
	api.do("POST", "/v1/auth/reset", "", map[string]string{"email": email, "code": reset, "password": pw2}, 204, nil)
	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": pw2}, 200, &tk)

	api.do("POST", "/v1/auth/signout", tk.AccessToken, map[string]string{"refreshToken": tk.RefreshToken}, 204, nil)
	api.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": tk.RefreshToken}, 401, nil)

	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": pw2}, 200, &tk)
	api.do("DELETE", "/v1/me", tk.AccessToken, nil, 204, nil)
	// The deleted user's token is refused at once, not when it expires.
	api.do("GET", "/v1/me", tk.AccessToken, nil, 401, nil)
	api.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": tk.RefreshToken}, 401, nil)
	api.do("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": pw2}, 401, nil)
}
