package porttest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Kinds of mailed code, for AuthHarness.Code.
const (
	AuthCodeSignUp = "signup"
	AuthCodeReset  = "reset"
)

// AuthHarness is what RunAuth needs of an identity adapter.
type AuthHarness struct {
	// Identity is the provider under test.
	Identity ports.Identity
	// Verifier verifies the access tokens Identity issues.
	Verifier ports.TokenVerifier
	// Code returns the latest code mailed to email; kind is AuthCodeSignUp
	// or AuthCodeReset. It fails the test when there is none.
	Code func(t *testing.T, email, kind string) string
	// Caps says which optional behaviours the provider has.
	Caps AuthCaps
}

// AuthCaps are the behaviours a real identity service has but an emulator
// may lack (cognito-local); a case needing one is skipped without it.
type AuthCaps struct {
	// GlobalSignOut: SignOut revokes every refresh token of the user and
	// refuses an invalid access token, and ConfirmForgotPassword revokes
	// the account's refresh tokens.
	GlobalSignOut bool
	// PasswordPolicy: weak passwords are refused with Invalid.
	PasswordPolicy bool
	// WrongPasswordIsUnauthenticated: a wrong password answers
	// Unauthenticated with the same message as an unknown email (without
	// it, any Unauthenticated or Invalid error is accepted).
	WrongPasswordIsUnauthenticated bool
	// Throttling: repeated failed sign-ins of one account end in
	// TooManyRequests with a RetryAfter hint.
	Throttling bool
	// ResendConfirmation: ResendConfirmation mails a new sign-up code.
	ResendConfirmation bool
}

// authPassword and authNewPassword satisfy domain.ValidatePassword.
const (
	authPassword    = "correct-horse-9"
	authNewPassword = "battery-staple-7"
)

// RunAuth runs the identity contract suite. newHarness is called once;
// every case uses its own email addresses, so the provider may hold other
// accounts.
func RunAuth(t *testing.T, newHarness func(t *testing.T) AuthHarness) {
	h := newHarness(t)

	t.Run("SignUpConfirmSignIn", func(t *testing.T) {
		ctx := t.Context()
		email := authEmail()
		res, err := h.Identity.SignUp(ctx, email, authPassword, "Ada Lovelace")
		if err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		if res.UserID == "" || !res.ConfirmationRequired {
			t.Fatalf("SignUp = %+v, want a user id and ConfirmationRequired", res)
		}
		id, err := h.Identity.GetIdentity(ctx, res.UserID)
		if err != nil {
			t.Fatalf("GetIdentity before confirmation: %v", err)
		}
		if id.UserID != res.UserID || id.Email != email || id.Confirmed {
			t.Fatalf("GetIdentity before confirmation = %+v", id)
		}
		if err := h.Identity.ConfirmSignUp(ctx, email, h.Code(t, email, AuthCodeSignUp)); err != nil {
			t.Fatalf("ConfirmSignUp: %v", err)
		}
		tok, err := h.Identity.SignIn(ctx, email, authPassword)
		if err != nil {
			t.Fatalf("SignIn: %v", err)
		}
		if tok.AccessToken == "" || tok.IDToken == "" || tok.RefreshToken == "" || tok.ExpiresIn <= 0 {
			t.Fatalf("SignIn tokens incomplete: access %t, id %t, refresh %t, expires in %v",
				tok.AccessToken != "", tok.IDToken != "", tok.RefreshToken != "", tok.ExpiresIn)
		}
		p, err := h.Verifier.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify access token: %v", err)
		}
		if p.UserID != res.UserID || p.ClientID == "" || p.ExpiresAt.IsZero() {
			t.Fatalf("principal = %+v, want user %s", p, res.UserID)
		}
		id, err = h.Identity.GetIdentity(ctx, p.UserID)
		if err != nil {
			t.Fatalf("GetIdentity: %v", err)
		}
		want := domain.Identity{UserID: res.UserID, Email: email, DisplayName: "Ada Lovelace", Confirmed: true}
		if id != want {
			t.Fatalf("GetIdentity = %+v, want %+v", id, want)
		}
	})

	t.Run("DuplicateEmail", func(t *testing.T) {
		ctx := t.Context()
		email := authEmail()
		if _, err := h.Identity.SignUp(ctx, email, authPassword, "First"); err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		_, err := h.Identity.SignUp(ctx, email, authNewPassword, "Second")
		authWantCode(t, err, domain.Conflict)
		// Also once the first account is confirmed.
		authConfirm(t, h, email)
		_, err = h.Identity.SignUp(ctx, email, authNewPassword, "Third")
		authWantCode(t, err, domain.Conflict)
	})

	t.Run("ConcurrentSignUpSameEmail", func(t *testing.T) {
		email := authEmail()
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = h.Identity.SignUp(context.WithoutCancel(t.Context()), email, authPassword, "Racer")
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case domain.ErrorCode(err) != domain.Conflict:
				t.Errorf("concurrent SignUp: %v, want nil or Conflict", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent sign-ups of one email succeeded, want 1", ok)
		}
	})

	t.Run("WeakPassword", func(t *testing.T) {
		if !h.Caps.PasswordPolicy {
			t.Skip("provider has no password policy (AuthCaps.PasswordPolicy)")
		}
		for _, pw := range []string{"", "short1", "onlyletters", "1234567890"} {
			_, err := h.Identity.SignUp(t.Context(), authEmail(), pw, "Weak")
			authWantCode(t, err, domain.Invalid)
		}
	})

	t.Run("WrongCode", func(t *testing.T) {
		ctx := t.Context()
		email := authEmail()
		if _, err := h.Identity.SignUp(ctx, email, authPassword, "Coder"); err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		code := h.Code(t, email, AuthCodeSignUp)
		authWantCode(t, h.Identity.ConfirmSignUp(ctx, email, authOtherCode(code)), domain.Invalid)
		authWantCode(t, h.Identity.ConfirmSignUp(ctx, authEmail(), code), domain.Invalid)
		// A wrong attempt does not burn the right code.
		if err := h.Identity.ConfirmSignUp(ctx, email, code); err != nil {
			t.Fatalf("ConfirmSignUp with the right code after a wrong one: %v", err)
		}
		// The code is single use.
		authWantCode(t, h.Identity.ConfirmSignUp(ctx, email, code), domain.Invalid)
	})

	t.Run("UnconfirmedSignIn", func(t *testing.T) {
		ctx := t.Context()
		email := authEmail()
		if _, err := h.Identity.SignUp(ctx, email, authPassword, "Waiting"); err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		_, err := h.Identity.SignIn(ctx, email, authPassword)
		authWantCode(t, err, domain.UserNotConfirmed)
	})

	t.Run("WrongPasswordAndUnknownEmail", func(t *testing.T) {
		ctx := t.Context()
		email := authSignedUp(t, h)
		_, unknownErr := h.Identity.SignIn(ctx, authEmail(), authPassword)
		authWantCode(t, unknownErr, domain.Unauthenticated)
		_, wrongErr := h.Identity.SignIn(ctx, email, authNewPassword)
		if !h.Caps.WrongPasswordIsUnauthenticated {
			if c := domain.ErrorCode(wrongErr); c != domain.Unauthenticated && c != domain.Invalid {
				t.Fatalf("wrong password: %v, want Unauthenticated or Invalid", wrongErr)
			}
			return
		}
		authWantCode(t, wrongErr, domain.Unauthenticated)
		if a, b := domain.ErrorMessage(unknownErr), domain.ErrorMessage(wrongErr); a != b {
			t.Fatalf("unknown email says %q, wrong password says %q: the answers must not differ", a, b)
		}
	})

	t.Run("Refresh", func(t *testing.T) {
		ctx := t.Context()
		email := authSignedUp(t, h)
		tok := authSignIn(t, h, email, authPassword)
		first, err := h.Verifier.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		fresh, err := h.Identity.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if fresh.AccessToken == "" || fresh.IDToken == "" || fresh.RefreshToken != "" || fresh.ExpiresIn <= 0 {
			t.Fatalf("Refresh tokens: access %t, id %t, refresh %q, expires in %v",
				fresh.AccessToken != "", fresh.IDToken != "", fresh.RefreshToken, fresh.ExpiresIn)
		}
		p, err := h.Verifier.Verify(ctx, fresh.AccessToken)
		if err != nil {
			t.Fatalf("Verify refreshed access token: %v", err)
		}
		if p.UserID != first.UserID {
			t.Fatalf("refreshed token is for %q, want %q", p.UserID, first.UserID)
		}
		for _, bad := range []string{"", "not-a-refresh-token", tok.AccessToken} {
			_, err := h.Identity.Refresh(ctx, bad)
			authWantCode(t, err, domain.Unauthenticated)
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		ctx := t.Context()
		email := authSignedUp(t, h)
		tok := authSignIn(t, h, email, authPassword)
		other := authSignIn(t, h, email, authPassword) // another device
		if err := h.Identity.SignOut(ctx, tok.AccessToken, tok.RefreshToken); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		_, err := h.Identity.Refresh(ctx, tok.RefreshToken)
		authWantCode(t, err, domain.Unauthenticated)
		if !h.Caps.GlobalSignOut {
			return
		}
		_, err = h.Identity.Refresh(ctx, other.RefreshToken)
		authWantCode(t, err, domain.Unauthenticated)
		authWantCode(t, h.Identity.SignOut(ctx, "not-a-token", ""), domain.Unauthenticated)
		authWantCode(t, h.Identity.SignOut(ctx, tok.IDToken, ""), domain.Unauthenticated)
		// A later sign-in works again.
		again := authSignIn(t, h, email, authPassword)
		if _, err := h.Identity.Refresh(ctx, again.RefreshToken); err != nil {
			t.Fatalf("Refresh after a new sign-in: %v", err)
		}
	})

	t.Run("ResendConfirmation", func(t *testing.T) {
		if !h.Caps.ResendConfirmation {
			t.Skip("the provider cannot resend confirmation codes")
		}
		ctx := t.Context()
		if err := h.Identity.ResendConfirmation(ctx, authEmail()); err != nil {
			t.Fatalf("ResendConfirmation for an unknown email: %v, want nil", err)
		}
		email := authEmail()
		if _, err := h.Identity.SignUp(ctx, email, authPassword, "Resend"); err != nil {
			t.Fatalf("SignUp: %v", err)
		}
		first := h.Code(t, email, AuthCodeSignUp)
		if err := h.Identity.ResendConfirmation(ctx, email); err != nil {
			t.Fatalf("ResendConfirmation: %v", err)
		}
		code := h.Code(t, email, AuthCodeSignUp)
		if code == first {
			t.Logf("the new code equals the first one (possible, unlikely)")
		}
		if err := h.Identity.ConfirmSignUp(ctx, email, code); err != nil {
			t.Fatalf("ConfirmSignUp with the resent code: %v", err)
		}
		if err := h.Identity.ResendConfirmation(ctx, email); err != nil {
			t.Fatalf("ResendConfirmation for a confirmed account: %v, want nil", err)
		}
		authSignIn(t, h, email, authPassword)
	})

	t.Run("ForgotPassword", func(t *testing.T) {
		ctx := t.Context()
		if err := h.Identity.ForgotPassword(ctx, authEmail()); err != nil {
			t.Fatalf("ForgotPassword for an unknown email: %v, want nil", err)
		}
		email := authSignedUp(t, h)
		before := authSignIn(t, h, email, authPassword)
		if err := h.Identity.ForgotPassword(ctx, email); err != nil {
			t.Fatalf("ForgotPassword: %v", err)
		}
		code := h.Code(t, email, AuthCodeReset)
		authWantCode(t, h.Identity.ConfirmForgotPassword(ctx, email, authOtherCode(code), authNewPassword), domain.Invalid)
		if h.Caps.PasswordPolicy {
			authWantCode(t, h.Identity.ConfirmForgotPassword(ctx, email, code, "weak"), domain.Invalid)
		}
		if err := h.Identity.ConfirmForgotPassword(ctx, email, code, authNewPassword); err != nil {
			t.Fatalf("ConfirmForgotPassword: %v", err)
		}
		authWantCode(t, h.Identity.ConfirmForgotPassword(ctx, email, code, "another-pass-5"), domain.Invalid)

		_, err := h.Identity.SignIn(ctx, email, authPassword)
		if c := domain.ErrorCode(err); c != domain.Unauthenticated && (h.Caps.WrongPasswordIsUnauthenticated || c != domain.Invalid) {
			t.Fatalf("SignIn with the old password: %v, want Unauthenticated", err)
		}
		tok := authSignIn(t, h, email, authNewPassword)
		if _, err := h.Verifier.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatalf("Verify after reset: %v", err)
		}
		if h.Caps.GlobalSignOut {
			_, err = h.Identity.Refresh(ctx, before.RefreshToken)
			authWantCode(t, err, domain.Unauthenticated)
		}
	})

	t.Run("IDTokenIsNotAnAccessToken", func(t *testing.T) {
		ctx := t.Context()
		tok := authSignIn(t, h, authSignedUp(t, h), authPassword)
		_, err := h.Verifier.Verify(ctx, tok.IDToken)
		authWantCode(t, err, domain.Unauthenticated)
		for _, bad := range []string{"", "garbage", tok.RefreshToken, tok.AccessToken + "x"} {
			_, err := h.Verifier.Verify(ctx, bad)
			authWantCode(t, err, domain.Unauthenticated)
		}
	})

	t.Run("DeleteIdentity", func(t *testing.T) {
		ctx := t.Context()
		email := authSignedUp(t, h)
		tok := authSignIn(t, h, email, authPassword)
		p, err := h.Verifier.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if err := h.Identity.DeleteIdentity(ctx, p.UserID); err != nil {
			t.Fatalf("DeleteIdentity: %v", err)
		}
		_, err = h.Identity.SignIn(ctx, email, authPassword)
		authWantCode(t, err, domain.Unauthenticated)
		_, err = h.Identity.GetIdentity(ctx, p.UserID)
		authWantCode(t, err, domain.NotFound)
		_, err = h.Identity.Refresh(ctx, tok.RefreshToken)
		authWantCode(t, err, domain.Unauthenticated)
		if err := h.Identity.DeleteIdentity(ctx, p.UserID); err != nil {
			t.Fatalf("DeleteIdentity again: %v, want nil", err)
		}
		// The email is free again.
		if _, err := h.Identity.SignUp(ctx, email, authPassword, "Reborn"); err != nil {
			t.Fatalf("SignUp after delete: %v", err)
		}
	})

	t.Run("GetIdentityUnknown", func(t *testing.T) {
		_, err := h.Identity.GetIdentity(t.Context(), NewID())
		authWantCode(t, err, domain.NotFound)
		if err := h.Identity.DeleteIdentity(t.Context(), NewID()); err != nil {
			t.Fatalf("DeleteIdentity of an unknown user: %v, want nil", err)
		}
	})

	t.Run("Throttling", func(t *testing.T) {
		if !h.Caps.Throttling {
			t.Skip("provider does not throttle (AuthCaps.Throttling)")
		}
		ctx := t.Context()
		email := authSignedUp(t, h)
		const attempts = 20
		var throttled error
		for i := 0; i < attempts && throttled == nil; i++ {
			_, err := h.Identity.SignIn(ctx, email, authNewPassword)
			switch c := domain.ErrorCode(err); {
			case c == domain.TooManyRequests:
				throttled = err
			case c == domain.Unauthenticated, c == domain.Invalid && !h.Caps.WrongPasswordIsUnauthenticated:
			default:
				t.Fatalf("wrong password, attempt %d: %v", i+1, err)
			}
		}
		if throttled == nil {
			t.Fatalf("no TooManyRequests after %d wrong passwords", attempts)
		}
		// The throttle applies before the password is checked.
		_, err := h.Identity.SignIn(ctx, email, authPassword)
		authWantCode(t, err, domain.TooManyRequests)
		if domain.RetryAfter(err) <= 0 {
			t.Fatalf("TooManyRequests without a RetryAfter hint: %v", err)
		}
		// Other accounts are not affected.
		authSignIn(t, h, authSignedUp(t, h), authPassword)
	})
}

// authEmail returns a new unique address.
func authEmail() string { return "auth-" + NewID() + "@example.com" }

// authOtherCode returns a code of the same shape that differs from code.
func authOtherCode(code string) string {
	if code == "" {
		return "000000"
	}
	last := code[len(code)-1]
	next := byte('0')
	if last >= '0' && last <= '8' {
		next = last + 1
	}
	return code[:len(code)-1] + string(next)
}

// authConfirm confirms email with its mailed sign-up code.
func authConfirm(t *testing.T, h AuthHarness, email string) {
	t.Helper()
	if err := h.Identity.ConfirmSignUp(t.Context(), email, h.Code(t, email, AuthCodeSignUp)); err != nil {
		t.Fatalf("ConfirmSignUp %s: %v", email, err)
	}
}

// authSignedUp creates and confirms an account with authPassword.
func authSignedUp(t *testing.T, h AuthHarness) string {
	t.Helper()
	email := authEmail()
	if _, err := h.Identity.SignUp(t.Context(), email, authPassword, "Test User"); err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	authConfirm(t, h, email)
	return email
}

func authSignIn(t *testing.T, h AuthHarness, email, password string) domain.Tokens {
	t.Helper()
	tok, err := h.Identity.SignIn(t.Context(), email, password)
	if err != nil {
		t.Fatalf("SignIn %s: %v", email, err)
	}
	return tok
}

func authWantCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		msg := "<nil>"
		if err != nil {
			msg = strings.TrimSpace(err.Error())
		}
		t.Fatalf("got %s (%s), want %s", got, msg, code)
	}
}
