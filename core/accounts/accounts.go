// Package accounts runs the sign-up, sign-in and password flows against the
// identity provider, with input validation done before any provider call.
package accounts

import (
	"context"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/ports"
)

// maxCodeLen bounds confirmation codes before they reach the provider.
const maxCodeLen = 16

// Service implements the account use cases.
type Service struct {
	identity ports.Identity
	profiles *profiles.Service
}

// New returns an account service.
func New(identity ports.Identity, profileSvc *profiles.Service) *Service {
	return &Service{identity: identity, profiles: profileSvc}
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
	if err := domain.ValidateText("displayName", displayName, 1, domain.MaxDisplayName, false); err != nil {
		return domain.SignUpResult{}, err
	}
	return s.identity.SignUp(ctx, email, password, strings.TrimSpace(displayName))
}

// Confirm confirms a sign-up with the mailed code. The profile row is made
// by the post-confirmation trigger (Cognito) or, as a backstop, on the
// user's first authenticated call (profiles.Service.Ensure). Returns Invalid
// for a bad or wrong code.
func (s *Service) Confirm(ctx context.Context, email, code string) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := validateCode(code); err != nil {
		return err
	}
	return s.identity.ConfirmSignUp(ctx, email, code)
}

// SignIn exchanges email and password for tokens. Returns Unauthenticated
// for bad credentials, UserNotConfirmed, TooManyRequests.
func (s *Service) SignIn(ctx context.Context, email, password string) (domain.Tokens, error) {
	email, err := domain.NormalizeEmail(email)
	if err != nil || password == "" || len(password) > 4*domain.MaxPasswordLen {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, "incorrect email or password")
	}
	return s.identity.SignIn(ctx, email, password)
}

// Refresh exchanges a refresh token for new access and id tokens. Returns
// Unauthenticated.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (domain.Tokens, error) {
	if refreshToken == "" || len(refreshToken) > 8192 {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, "invalid refresh token")
	}
	return s.identity.Refresh(ctx, refreshToken)
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

// Reset sets a new password with the mailed code. Returns Invalid for a bad
// code or password, TooManyRequests.
func (s *Service) Reset(ctx context.Context, email, code, password string) error {
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
	return s.identity.ConfirmForgotPassword(ctx, email, code, password)
}

// SignOut revokes the refresh token (if given) and all refresh tokens of
// the caller. Returns Unauthenticated.
func (s *Service) SignOut(ctx context.Context, accessToken, refreshToken string) error {
	return s.identity.SignOut(ctx, accessToken, refreshToken)
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
