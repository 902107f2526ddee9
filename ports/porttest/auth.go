package porttest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

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
	// AuthTimeKeptOnRefresh: tokens from Refresh carry the `auth_time` of
	// the sign-in (without it they must still carry one).
	AuthTimeKeptOnRefresh bool
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

	t.Run("SignOutLeavesOtherUsersRefreshTokens", func(t *testing.T) {
		ctx := t.Context()
		victim := authSignIn(t, h, authSignedUp(t, h), authPassword)
		email := authSignedUp(t, h)
		caller := authSignIn(t, h, email, authPassword)
		callerOther := authSignIn(t, h, email, authPassword) // another device
		victimErr := h.Identity.SignOut(ctx, caller.AccessToken, victim.RefreshToken)
		// The answer is the one a worthless refresh token gets, so the
		// caller learns nothing about the victim's token. (A new sign-in:
		// the provider may have revoked the first access token.)
		again := authSignIn(t, h, email, authPassword)
		garbageErr := h.Identity.SignOut(ctx, again.AccessToken, "not-a-refresh-token")
		if domain.ErrorCode(victimErr) != domain.ErrorCode(garbageErr) || domain.ErrorMessage(victimErr) != domain.ErrorMessage(garbageErr) {
			t.Fatalf("SignOut with another user's refresh token: %v; with a worthless one: %v (the answers must not differ)", victimErr, garbageErr)
		}
		if h.Caps.GlobalSignOut && victimErr != nil {
			t.Fatalf("SignOut with another user's refresh token: %v", victimErr)
		}
		if _, err := h.Identity.Refresh(ctx, victim.RefreshToken); err != nil {
			t.Fatalf("another user's sign-out revoked the victim's refresh token: Refresh: %v", err)
		}
		if _, err := h.Verifier.Verify(ctx, victim.AccessToken); err != nil {
			t.Fatalf("another user's sign-out revoked the victim's access token: %v", err)
		}
		if h.Caps.GlobalSignOut {
			for _, tok := range []domain.Tokens{caller, callerOther} {
				_, err := h.Identity.Refresh(ctx, tok.RefreshToken)
				authWantCode(t, err, domain.Unauthenticated)
			}
		}
		// The caller's own refresh token is revoked.
		own := authSignIn(t, h, email, authPassword)
		if err := h.Identity.SignOut(ctx, own.AccessToken, own.RefreshToken); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		_, err := h.Identity.Refresh(ctx, own.RefreshToken)
		authWantCode(t, err, domain.Unauthenticated)
		if _, err := h.Identity.Refresh(ctx, victim.RefreshToken); err != nil {
			t.Fatalf("the victim's refresh token after the caller's own sign-out: %v", err)
		}
	})

	t.Run("AuthTime", func(t *testing.T) {
		ctx := t.Context()
		tok := authSignIn(t, h, authSignedUp(t, h), authPassword)
		authTime := authClaimTime(t, tok.AccessToken, "auth_time")
		if got := authClaimTime(t, tok.IDToken, "auth_time"); !got.Equal(authTime) {
			t.Fatalf("id token auth_time %v, access token auth_time %v", got, authTime)
		}
		if d := time.Since(authTime); d < -10*time.Minute || d > 10*time.Minute {
			t.Fatalf("auth_time %v is not the sign-in time (now %v)", authTime, time.Now())
		}
		// Refresh in a later second than the sign-in (auth_time has whole
		// seconds), so that a provider that stamps the time of the refresh
		// is caught.
		for wait := time.Until(authTime.Add(time.Second)); wait > 0; wait = time.Until(authTime.Add(time.Second)) {
			time.Sleep(min(wait+10*time.Millisecond, 2*time.Second))
		}
		fresh, err := h.Identity.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		freshAccess := authClaimTime(t, fresh.AccessToken, "auth_time")
		freshID := authClaimTime(t, fresh.IDToken, "auth_time")
		if !h.Caps.AuthTimeKeptOnRefresh {
			return // present (authClaimTime checked it) is all it can do
		}
		if !freshAccess.Equal(authTime) || !freshID.Equal(authTime) {
			t.Fatalf("refreshed tokens have auth_time %v (access) and %v (id), want the sign-in's %v", freshAccess, freshID, authTime)
		}
		if iat := authClaimTime(t, fresh.AccessToken, "iat"); !iat.After(authTime) {
			t.Fatalf("refreshed access token has iat %v, not after the sign-in's %v", iat, authTime)
		}
		p, err := h.Verifier.Verify(ctx, fresh.AccessToken)
		if err != nil {
			t.Fatalf("Verify refreshed access token: %v", err)
		}
		if !p.AuthTime.IsZero() && !p.AuthTime.Equal(authTime) {
			t.Fatalf("principal AuthTime %v, want %v", p.AuthTime, authTime)
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
		email, userID := authSignedUpID(t, h)
		before := authSignIn(t, h, email, authPassword)
		if err := h.Identity.ForgotPassword(ctx, email); err != nil {
			t.Fatalf("ForgotPassword: %v", err)
		}
		code := h.Code(t, email, AuthCodeReset)
		confirm := func(code, password string) error {
			t.Helper()
			id, err := h.Identity.ConfirmForgotPassword(ctx, email, code, password)
			if err != nil && id != "" {
				t.Fatalf("ConfirmForgotPassword returned user id %q with error %v", id, err)
			}
			return err
		}
		authWantCode(t, confirm(authOtherCode(code), authNewPassword), domain.Invalid)
		if h.Caps.PasswordPolicy {
			authWantCode(t, confirm(code, "weak"), domain.Invalid)
		}
		id, err := h.Identity.ConfirmForgotPassword(ctx, email, code, authNewPassword)
		if err != nil {
			t.Fatalf("ConfirmForgotPassword: %v", err)
		}
		if id != userID {
			t.Fatalf("ConfirmForgotPassword returned user id %q, SignUp returned %q", id, userID)
		}
		authWantCode(t, confirm(code, "another-pass-5"), domain.Invalid)
		_, err = h.Identity.ConfirmForgotPassword(ctx, authEmail(), code, authNewPassword)
		authWantCode(t, err, domain.Invalid)

		_, err = h.Identity.SignIn(ctx, email, authPassword)
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
	email, _ := authSignedUpID(t, h)
	return email
}

// authSignedUpID creates and confirms an account with authPassword and
// returns its email and the user id SignUp returned.
func authSignedUpID(t *testing.T, h AuthHarness) (email, userID string) {
	t.Helper()
	email = authEmail()
	res, err := h.Identity.SignUp(t.Context(), email, authPassword, "Test User")
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	authConfirm(t, h, email)
	return email, res.UserID
}

// authClaimTime reads a NumericDate claim (seconds since the epoch) of a
// token the provider issued. It fails the test when the claim is missing.
func authClaimTime(t *testing.T, token, claim string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var n json.Number
	if v, ok := claims[claim]; !ok || json.Unmarshal(v, &n) != nil {
		t.Fatalf("token has no numeric %s claim (claims %s)", claim, raw)
	}
	f, err := n.Float64()
	if err != nil || f <= 0 {
		t.Fatalf("token claim %s = %s", claim, n)
	}
	return time.Unix(int64(f), 0)
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
