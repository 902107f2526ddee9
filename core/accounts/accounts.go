// Package accounts runs the sign-up, sign-in, password and sign-out flows
// against the identity provider, with input validation done before any
// provider call. Failed sign-ins and wrong codes are counted per account and
// client address (core/limits) before the provider is asked; sign-out,
// password reset and account deletion end every session at once
// (core/sessions).
package accounts

import (
	"context"
	"errors"

	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/ports"
)

// maxCodeLen bounds confirmation codes before they reach the provider.
const maxCodeLen = 16

// Service implements the account use cases.
type Service struct {
	identity ports.Identity
	verifier ports.TokenVerifier
	profiles *profiles.Service
	limits   *limits.Service
	sessions *sessions.Service
	devices  *devices.Service
}

// New returns an account service; verifier checks the tokens a refresh
// returns against the sessions revoked; deviceSvc (may be nil) removes
// push devices at sign-out and account deletion.
func New(identity ports.Identity, verifier ports.TokenVerifier, profileSvc *profiles.Service, limitSvc *limits.Service, sessionSvc *sessions.Service, deviceSvc *devices.Service) *Service {
	return &Service{identity: identity, verifier: verifier, profiles: profileSvc, limits: limitSvc, sessions: sessionSvc, devices: deviceSvc}
}

// SignUp registers an account. Returns Invalid for a bad email, password or
// display name, Conflict for a taken email.
func (s *Service) SignUp(ctx context.Context, email, password, displayName string) (domain.SignUpResult, error) {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return domain.SignUpResult{}, err
	}
	if err := domain.ValidatePassword(password); err != nil {
		return domain.SignUpResult{}, err
	}
	displayName = domain.NormalizeDisplayName(displayName)
	if err := domain.ValidateText("displayName", displayName, 1, domain.MaxDisplayName, false); err != nil {
		return domain.SignUpResult{}, err
	}
	return s.identity.SignUp(ctx, email, password, displayName)
}

// Confirm confirms a sign-up with the mailed code, sent from addr. The
// profile row is made by the post-confirmation trigger (Cognito) or, as a
// backstop, on the user's first authenticated call
// (profiles.Service.Ensure). Returns Invalid for a bad or wrong code,
// TooManyRequests after too many wrong codes for the account from addr (or
// from everywhere).
func (s *Service) Confirm(ctx context.Context, email, code, addr string) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := validateCode(code); err != nil {
		return err
	}
	return s.counted(ctx, limits.BadCode, email, addr, domain.Invalid, func() error {
		return s.identity.ConfirmSignUp(ctx, email, code)
	})
}

// SignIn exchanges email and password, sent from addr, for tokens. Returns
// Unauthenticated for bad credentials, UserNotConfirmed, TooManyRequests
// after too many failures for the account from addr (or from everywhere),
// or when the provider throttles.
func (s *Service) SignIn(ctx context.Context, email, password, addr string) (domain.Tokens, error) {
	email, err := domain.NormalizeEmail(email)
	if err != nil || password == "" || len(password) > 4*domain.MaxPasswordLen {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, "incorrect email or password")
	}
	var tokens domain.Tokens
	err = s.counted(ctx, limits.BadPassword, email, addr, domain.Unauthenticated, func() error {
		tokens, err = s.identity.SignIn(ctx, email, password)
		return err
	})
	return tokens, err
}

// counted runs attempt unless account has used up its failures of kind
// from addr, and counts a failure when attempt fails with failCode.
func (s *Service) counted(ctx context.Context, kind limits.Failure, account, addr string, failCode domain.Code, attempt func() error) error {
	if err := s.limits.CheckFailures(ctx, kind, account, addr); err != nil {
		return err
	}
	err := attempt()
	if domain.IsCode(err, failCode) {
		if rerr := s.limits.RecordFailure(ctx, kind, account, addr); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}

// Refresh exchanges a refresh token for new access and id tokens. A
// refresh token of a session that was ended (sign-out everywhere, password
// reset, account deletion) is refused even where the provider would still
// honour it. Returns Unauthenticated, Unavailable.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (domain.Tokens, error) {
	if refreshToken == "" || len(refreshToken) > 8192 {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, "invalid refresh token")
	}
	t, err := s.identity.Refresh(ctx, refreshToken)
	if err != nil {
		return domain.Tokens{}, err
	}
	p, err := s.verifier.Verify(ctx, t.AccessToken)
	if err != nil {
		return domain.Tokens{}, err
	}
	if err := s.sessions.Check(ctx, p); err != nil {
		if domain.IsCode(err, domain.Unauthenticated) {
			err = domain.Wrap(err, domain.Unauthenticated, "invalid refresh token: the session has ended")
		}
		return domain.Tokens{}, err
	}
	return t, nil
}

// ResendConfirmation mails a new sign-up confirmation code. Unknown and
// confirmed emails get the same answer. Returns Invalid for a malformed
// email, TooManyRequests.
func (s *Service) ResendConfirmation(ctx context.Context, email string) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return err
	}
	return s.identity.ResendConfirmation(ctx, email)
}

// Forgot mails a password reset code. Unknown emails get the same answer.
// Returns Invalid for a malformed email, TooManyRequests.
func (s *Service) Forgot(ctx context.Context, email string) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return err
	}
	return s.identity.ForgotPassword(ctx, email)
}

// Reset sets a new password with the mailed code, sent from addr, and ends
// every session of the account: tokens issued before stop working on
// every instance. Returns Invalid for a bad code or password,
// TooManyRequests after too many wrong codes for the account from addr (or
// from everywhere), or when the provider throttles.
func (s *Service) Reset(ctx context.Context, email, code, password, addr string) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := validateCode(code); err != nil {
		return err
	}
	if err := domain.ValidatePassword(password); err != nil {
		return err
	}
	var userID string
	err = s.counted(ctx, limits.BadCode, email, addr, domain.Invalid, func() error {
		userID, err = s.identity.ConfirmForgotPassword(ctx, email, code, password)
		return err
	})
	if err != nil {
		return err
	}
	return s.sessions.Revoke(ctx, userID)
}

// SignOut ends every session of the caller p (signs out everywhere): the
// provider revokes the caller's refresh tokens (and refreshToken, if given
// and the caller's), and access tokens issued before stop working on every
// instance. A deviceID names the caller's push device to remove first, so
// the phone or browser signing out stops receiving the account's pushes
// (an unknown device is not an error). Returns Unauthenticated, Invalid
// for a bad device id.
func (s *Service) SignOut(ctx context.Context, p domain.Principal, accessToken, refreshToken, deviceID string) error {
	if deviceID != "" && s.devices != nil {
		if err := s.devices.Delete(ctx, p, deviceID); err != nil && !domain.IsCode(err, domain.NotFound) {
			return err
		}
	}
	if err := s.identity.SignOut(ctx, accessToken, refreshToken); err != nil {
		return err
	}
	return s.sessions.Revoke(ctx, p.UserID)
}

// DeleteAccount ends every session of the caller p, then deletes the
// account and everything it owns (profiles.Service.Delete): a token of the
// deleted account gets Unauthenticated everywhere. Returns the errors of
// profiles.Service.Delete.
func (s *Service) DeleteAccount(ctx context.Context, p domain.Principal) error {
	if err := s.sessions.Revoke(ctx, p.UserID); err != nil {
		return err
	}
	if s.devices != nil {
		// The rows go with the account; their push endpoints are released here.
		s.devices.ReleaseAll(ctx, p.UserID)
	}
	return s.profiles.Delete(ctx, p)
}

// CreateProfile creates the profile of a confirmed user id (the Cognito
// post-confirmation trigger); idempotent. Returns NotFound for an unknown
// user.
func (s *Service) CreateProfile(ctx context.Context, userID string) (domain.Profile, error) {
	id, err := s.identity.GetIdentity(ctx, userID)
	if err != nil {
		return domain.Profile{}, err
	}
	return s.profiles.CreateFromIdentity(ctx, id)
}

func validateCode(code string) error {
	if code == "" || len(code) > maxCodeLen {
		return domain.Errorf(domain.Invalid, "code is invalid")
	}
	return nil
}
