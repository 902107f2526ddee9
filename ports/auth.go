package ports

import (
	"context"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Identity is the identity provider (a Cognito user pool, or the local one).
// Emails are normalised (trimmed, lower case) by the caller.
type Identity interface {
	// SignUp registers an account and sends a confirmation code to the
	// email. Returns Conflict if the email is taken, Invalid for a password
	// that breaks the policy, TooManyRequests when throttled.
	SignUp(ctx context.Context, email, password, displayName string) (domain.SignUpResult, error)
	// ConfirmSignUp confirms the account with the mailed code. Returns
	// Invalid for a wrong or expired code (also for an unknown email, so
	// accounts cannot be enumerated), TooManyRequests when throttled.
	ConfirmSignUp(ctx context.Context, email, code string) error
	// ResendConfirmation mails a new confirmation code to an unconfirmed
	// account (the code mailed before may stop working). It returns nil for
	// unknown and already confirmed emails (no enumeration). Returns
	// TooManyRequests when throttled.
	ResendConfirmation(ctx context.Context, email string) error
	// SignIn checks the password and issues tokens. Returns Unauthenticated
	// for an unknown email or a wrong password (the same answer for both),
	// UserNotConfirmed for an unconfirmed account, TooManyRequests after
	// repeated failures for the account.
	SignIn(ctx context.Context, email, password string) (domain.Tokens, error)
	// Refresh issues new access and id tokens for a refresh token, and a new
	// refresh token only when the provider rotates them (else RefreshToken
	// is empty). Returns Unauthenticated for an unknown, expired or revoked
	// refresh token.
	Refresh(ctx context.Context, refreshToken string) (domain.Tokens, error)
	// ForgotPassword mails a reset code. It returns nil for unknown emails
	// (no enumeration). Returns TooManyRequests when throttled.
	ForgotPassword(ctx context.Context, email string) error
	// ConfirmForgotPassword sets a new password with the mailed code,
	// revokes the account's refresh tokens and returns the account's user
	// id. Returns Invalid for a wrong or expired code or a weak password,
	// TooManyRequests when throttled.
	ConfirmForgotPassword(ctx context.Context, email, code, newPassword string) (userID string, err error)
	// SignOut revokes every refresh token of the access token's user
	// (global sign-out), and refreshToken when it is not empty and belongs
	// to that same user: another user's refresh token is left alone (and
	// its owner learns nothing). Afterwards Refresh with the revoked tokens
	// returns Unauthenticated. Returns Unauthenticated for an invalid access
	// token.
	SignOut(ctx context.Context, accessToken, refreshToken string) error
	// GetIdentity returns the account of a user id. Returns NotFound.
	GetIdentity(ctx context.Context, userID string) (domain.Identity, error)
	// DeleteIdentity removes the account; its refresh tokens stop working.
	// Deleting an unknown user is not an error.
	DeleteIdentity(ctx context.Context, userID string) error
}

// TokenVerifier verifies bearer (access) tokens.
type TokenVerifier interface {
	// Verify checks signature, issuer, audience/client, token use and expiry
	// of an access token and returns its principal. Returns Unauthenticated
	// for any token that fails a check, Unavailable when the keys cannot be
	// fetched.
	Verify(ctx context.Context, token string) (domain.Principal, error)
}
