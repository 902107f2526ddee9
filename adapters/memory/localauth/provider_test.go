package localauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// codeOf returns the latest code of the kind mailed to email.
func codeOf(p *localauth.Provider) func(t *testing.T, email, kind string) string {
	return func(t *testing.T, email, kind string) string {
		t.Helper()
		subject := map[string]string{porttest.AuthCodeSignUp: localauth.SubjectSignUp, porttest.AuthCodeReset: localauth.SubjectReset}[kind]
		for _, m := range p.Mail(email) {
			if m.Subject == subject {
				return m.Code
			}
		}
		t.Fatalf("no %s code mailed to %s", kind, email)
		return ""
	}
}

// newVerifier verifies p's tokens through its JWKS, as the server does in
// local mode.
func newVerifier(t *testing.T, p *localauth.Provider, clock *fakeclock.Clock) *jwtauth.Verifier {
	t.Helper()
	cfg := jwtauth.Config{Issuer: p.Issuer(), ClientIDs: []string{p.ClientID()}, JWKS: p.JWKS}
	if clock != nil {
		cfg.Clock = clock
	}
	v, err := jwtauth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// patientWait is the HashWait of tests that are not about the bound on
// hashing: on a small, busy machine (a race-enabled run) a burst of
// concurrent calls may queue for the slots longer than the default.
const patientWait = time.Minute

func TestContract(t *testing.T) {
	porttest.RunAuth(t, func(t *testing.T) porttest.AuthHarness {
		p := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, HashWait: patientWait})
		return porttest.AuthHarness{
			Identity: p,
			Verifier: newVerifier(t, p, nil),
			Code:     codeOf(p),
			Caps: porttest.AuthCaps{
				GlobalSignOut:                  true,
				PasswordPolicy:                 true,
				WrongPasswordIsUnauthenticated: true,
				Throttling:                     true,
				ResendConfirmation:             true,
				AuthTimeKeptOnRefresh:          true,
			},
		}
	})
}

// env is a provider on a fake clock with its verifier.
type env struct {
	p     *localauth.Provider
	v     *jwtauth.Verifier
	clock *fakeclock.Clock
	code  func(t *testing.T, email, kind string) string
}

var envStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newEnv(t *testing.T) *env {
	clock := fakeclock.New(envStart)
	p := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, Clock: clock, HashWait: patientWait})
	return &env{p: p, v: newVerifier(t, p, clock), clock: clock, code: codeOf(p)}
}

func (e *env) signUp(t *testing.T, email string) string {
	t.Helper()
	res, err := e.p.SignUp(t.Context(), email, "password1", "Grace")
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	return res.UserID
}

func (e *env) confirmed(t *testing.T, email string) string {
	t.Helper()
	id := e.signUp(t, email)
	if err := e.p.ConfirmSignUp(t.Context(), email, e.code(t, email, porttest.AuthCodeSignUp)); err != nil {
		t.Fatalf("ConfirmSignUp: %v", err)
	}
	return id
}

func wantCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func TestDefaults(t *testing.T) {
	p := localauth.New(localauth.Config{})
	if p.Issuer() != localauth.DefaultIssuer || p.ClientID() != localauth.DefaultClientID {
		t.Fatalf("Issuer/ClientID = %q/%q", p.Issuer(), p.ClientID())
	}
}

func TestOutbox(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "grace@example.com"
	e.confirmed(t, "Grace@Example.com ") // normalised
	if got := e.p.Mail("nobody@example.com"); len(got) != 0 {
		t.Fatalf("Mail(unknown) = %v", got)
	}
	for range 3 {
		e.clock.Advance(time.Second)
		if err := e.p.ForgotPassword(ctx, email); err != nil {
			t.Fatal(err)
		}
	}
	msgs := e.p.Mail(" GRACE@example.com")
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	for i, m := range msgs {
		if m.To != email || len(m.Code) != 6 || strings.Trim(m.Code, "0123456789") != "" {
			t.Fatalf("message %d = %+v", i, m)
		}
		if i > 0 && !m.SentAt.Before(msgs[i-1].SentAt) {
			t.Fatalf("messages not newest first: %v then %v", msgs[i-1].SentAt, m.SentAt)
		}
	}
	if msgs[3].Subject != localauth.SubjectSignUp || msgs[0].Subject != localauth.SubjectReset {
		t.Fatalf("subjects = %q ... %q", msgs[0].Subject, msgs[3].Subject)
	}
	// Only the newest reset code works.
	if msgs[1].Code == msgs[0].Code {
		t.Skip("two random codes collided")
	}
	_, err := e.p.ConfirmForgotPassword(ctx, email, msgs[1].Code, "password2")
	wantCode(t, err, domain.Invalid)
	if _, err := e.p.ConfirmForgotPassword(ctx, email, msgs[0].Code, "password2"); err != nil {
		t.Fatal(err)
	}
	// The caller's copy is its own.
	msgs[0].Code = "tampered"
	if e.p.Mail(email)[0].Code == "tampered" {
		t.Fatal("Mail returned the outbox itself")
	}
}

func TestOutboxIsBounded(t *testing.T) {
	e := newEnv(t)
	const email = "lots@example.com"
	e.confirmed(t, email)
	for range localauth.MaxMailsPerAddress * 2 {
		e.clock.Advance(13 * time.Minute) // stay under the reset mail limit
		if err := e.p.ForgotPassword(t.Context(), email); err != nil {
			t.Fatal(err)
		}
	}
	msgs := e.p.Mail(email)
	if len(msgs) != localauth.MaxMailsPerAddress || !msgs[0].SentAt.Equal(e.clock.Now()) {
		t.Fatalf("%d messages, newest at %v", len(msgs), msgs[0].SentAt)
	}
}

func TestSignUpCodeExpires(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.signUp(t, "late@example.com")
	e.signUp(t, "intime@example.com")
	late, intime := e.code(t, "late@example.com", "signup"), e.code(t, "intime@example.com", "signup")
	e.clock.Advance(localauth.SignUpCodeTTL - time.Second)
	if err := e.p.ConfirmSignUp(ctx, "intime@example.com", intime); err != nil {
		t.Fatalf("code refused a second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	wantCode(t, e.p.ConfirmSignUp(ctx, "late@example.com", late), domain.Invalid)
}

func TestResetCodeExpires(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "reset@example.com"
	e.confirmed(t, email)
	if err := e.p.ForgotPassword(ctx, email); err != nil {
		t.Fatal(err)
	}
	code := e.code(t, email, "reset")
	e.clock.Advance(localauth.ResetCodeTTL)
	_, err := e.p.ConfirmForgotPassword(ctx, email, code, "password2")
	wantCode(t, err, domain.Invalid)
	if _, err := e.p.SignIn(ctx, email, "password1"); err != nil {
		t.Fatalf("the old password must still work after a failed reset: %v", err)
	}
	// Unconfirmed accounts get no reset code.
	e.signUp(t, "pending@example.com")
	if err := e.p.ForgotPassword(ctx, "pending@example.com"); err != nil {
		t.Fatal(err)
	}
	if msgs := e.p.Mail("pending@example.com"); len(msgs) != 1 || msgs[0].Subject != localauth.SubjectSignUp {
		t.Fatalf("outbox of an unconfirmed account = %+v", msgs)
	}
}

func TestWrongCodesAreThrottled(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "guesser@example.com"
	e.signUp(t, email)
	code := e.code(t, email, "signup")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := range localauth.MaxFailures {
		wantCode(t, e.p.ConfirmSignUp(ctx, email, wrong), domain.Invalid)
		_ = i
	}
	err := e.p.ConfirmSignUp(ctx, email, code)
	wantCode(t, err, domain.TooManyRequests)
	if ra := domain.RetryAfter(err); ra != localauth.BaseLockout {
		t.Fatalf("RetryAfter = %v, want %v", ra, localauth.BaseLockout)
	}
	e.clock.Advance(localauth.BaseLockout)
	if err := e.p.ConfirmSignUp(ctx, email, code); err != nil {
		t.Fatalf("right code after the lockout: %v", err)
	}
}

func TestSignInThrottle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "locked@example.com"
	e.confirmed(t, email)
	for i := range localauth.MaxFailures {
		_, err := e.p.SignIn(ctx, email, "wrong-pass1")
		wantCode(t, err, domain.Unauthenticated)
		_ = i
	}
	_, err := e.p.SignIn(ctx, email, "password1")
	wantCode(t, err, domain.TooManyRequests)
	if ra := domain.RetryAfter(err); ra != localauth.BaseLockout {
		t.Fatalf("RetryAfter = %v, want %v", ra, localauth.BaseLockout)
	}
	e.clock.Advance(20 * time.Second)
	_, err = e.p.SignIn(ctx, email, "password1")
	if ra := domain.RetryAfter(err); ra != 40*time.Second {
		t.Fatalf("RetryAfter = %v (%v), want 40s", ra, err)
	}
	// After the wait, another failure locks for twice as long.
	e.clock.Advance(40 * time.Second)
	_, err = e.p.SignIn(ctx, email, "wrong-pass1")
	wantCode(t, err, domain.Unauthenticated)
	_, err = e.p.SignIn(ctx, email, "password1")
	if ra := domain.RetryAfter(err); ra != 2*localauth.BaseLockout {
		t.Fatalf("RetryAfter = %v (%v), want %v", ra, err, 2*localauth.BaseLockout)
	}
	// A right password after the wait resets the count.
	e.clock.Advance(2 * localauth.BaseLockout)
	if _, err := e.p.SignIn(ctx, email, "password1"); err != nil {
		t.Fatalf("SignIn after the lockout: %v", err)
	}
	for range localauth.MaxFailures - 1 {
		_, err := e.p.SignIn(ctx, email, "wrong-pass1")
		wantCode(t, err, domain.Unauthenticated)
	}
	if _, err := e.p.SignIn(ctx, email, "password1"); err != nil {
		t.Fatalf("the count was not reset by a successful sign-in: %v", err)
	}
	// Unknown emails are never throttled (there is no account to lock).
	for range localauth.MaxFailures + 2 {
		_, err := e.p.SignIn(ctx, "ghost@example.com", "password1")
		wantCode(t, err, domain.Unauthenticated)
	}
}

func TestConcurrentGuessesCannotExceedTheLimit(t *testing.T) {
	e := newEnv(t)
	const email = "burst@example.com"
	e.confirmed(t, email)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[domain.Code]int{}
	for range 40 {
		wg.Go(func() {
			_, err := e.p.SignIn(context.Background(), email, "wrong-pass1")
			mu.Lock()
			codes[domain.ErrorCode(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[domain.Unauthenticated] != localauth.MaxFailures || codes[domain.TooManyRequests] != 40-localauth.MaxFailures {
		t.Fatalf("answers = %v, want %d password checks", codes, localauth.MaxFailures)
	}
}

func TestForgotPasswordIsRateLimited(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "forgetful@example.com"
	e.confirmed(t, email)
	for range localauth.MaxResetMailsPerHour {
		if err := e.p.ForgotPassword(ctx, email); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
	}
	err := e.p.ForgotPassword(ctx, email)
	wantCode(t, err, domain.TooManyRequests)
	if ra := domain.RetryAfter(err); ra != time.Hour-5*time.Minute {
		t.Fatalf("RetryAfter = %v", ra)
	}
	e.clock.Advance(time.Hour - 5*time.Minute)
	if err := e.p.ForgotPassword(ctx, email); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
}

// claimsOf decodes a token's header and payload (already verified elsewhere).
func claimsOf(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func TestTokensAreShapedLikeCognitos(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "shape@example.com"
	id := e.confirmed(t, email)
	if err := e.p.SetGroups(ctx, id, []string{"admins"}); err != nil {
		t.Fatal(err)
	}
	tok, err := e.p.SignIn(ctx, email, "password1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != localauth.DefaultAccessTTL {
		t.Fatalf("ExpiresIn = %v", tok.ExpiresIn)
	}
	var jwks struct {
		Keys []struct{ Kid, Kty, Alg, Use, N, E, D string }
	}
	raw, err := e.p.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &jwks); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kty != "RSA" || jwks.Keys[0].Alg != "RS256" || jwks.Keys[0].Use != "sig" ||
		jwks.Keys[0].D != "" || jwks.Keys[0].N == "" || strings.Contains(string(raw), `"p"`) {
		t.Fatalf("JWKS = %s", raw)
	}
	now := e.clock.Now().Unix()
	h, c := claimsOf(t, tok.AccessToken)
	if h["alg"] != "RS256" || h["kid"] != jwks.Keys[0].Kid {
		t.Fatalf("access header = %v", h)
	}
	want := map[string]any{
		"sub": id, "iss": localauth.DefaultIssuer, "client_id": localauth.DefaultClientID, "token_use": "access",
		"scope": localauth.Scope, "username": id, "auth_time": float64(now), "iat": float64(now),
		"exp": float64(now + 3600), "cognito:groups": []any{"admins"},
	}
	for k, v := range want {
		if fmt.Sprint(c[k]) != fmt.Sprint(v) {
			t.Errorf("access %s = %v, want %v", k, c[k], v)
		}
	}
	if c["jti"] == "" || c["jti"] == nil {
		t.Error("access token has no jti")
	}
	h, c = claimsOf(t, tok.IDToken)
	if h["kid"] != jwks.Keys[0].Kid {
		t.Fatalf("id header = %v", h)
	}
	want = map[string]any{
		"sub": id, "iss": localauth.DefaultIssuer, "aud": localauth.DefaultClientID, "token_use": "id",
		"email": email, "email_verified": true, "name": "Grace", "auth_time": float64(now), "exp": float64(now + 3600),
	}
	for k, v := range want {
		if fmt.Sprint(c[k]) != fmt.Sprint(v) {
			t.Errorf("id %s = %v, want %v", k, c[k], v)
		}
	}

	p, err := e.v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != id || p.ClientID != localauth.DefaultClientID || !slices.Equal(p.Groups, []string{"admins"}) || p.TokenID == "" {
		t.Fatalf("principal = %+v", p)
	}
	pid, err := e.v.VerifyID(ctx, tok.IDToken)
	if err != nil || pid.Email != email || pid.UserID != id {
		t.Fatalf("VerifyID = %+v, %v", pid, err)
	}

	// A refresh later keeps the original auth_time.
	e.clock.Advance(2 * time.Hour)
	fresh, err := e.p.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	_, c = claimsOf(t, fresh.AccessToken)
	if c["auth_time"] != float64(now) || c["iat"] != float64(now+7200) {
		t.Fatalf("refreshed auth_time/iat = %v/%v", c["auth_time"], c["iat"])
	}
	wantCode(t, e.p.SetGroups(ctx, "nobody", nil), domain.NotFound)
}

func TestTokenExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "expiry@example.com"
	e.confirmed(t, email)
	tok, err := e.p.SignIn(ctx, email, "password1")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(localauth.DefaultAccessTTL + jwtauth.DefaultLeeway)
	_, err = e.v.Verify(ctx, tok.AccessToken)
	wantCode(t, err, domain.Unauthenticated)
	wantCode(t, e.p.SignOut(ctx, tok.AccessToken, tok.RefreshToken), domain.Unauthenticated)
	// The refresh token outlives the access token, until RefreshTTL.
	if _, err := e.p.Refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	e.clock.Set(envStart.Add(localauth.DefaultRefreshTTL))
	_, err = e.p.Refresh(ctx, tok.RefreshToken)
	wantCode(t, err, domain.Unauthenticated)
}

func TestSignOutChecksTheAccessToken(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.confirmed(t, "a@example.com")
	tok, err := e.p.SignIn(ctx, "a@example.com", "password1")
	if err != nil {
		t.Fatal(err)
	}
	// Tokens of another provider (another key, same issuer and client)
	// are not this provider's.
	other := newEnv(t)
	other.confirmed(t, "a@example.com")
	foreign, err := other.p.SignIn(ctx, "a@example.com", "password1")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "x.y.z", tok.IDToken, foreign.AccessToken, tok.RefreshToken} {
		wantCode(t, e.p.SignOut(ctx, bad, tok.RefreshToken), domain.Unauthenticated)
	}
	if _, err := e.p.Refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatalf("a refused sign-out revoked the token: %v", err)
	}
	// Signing out without a refresh token still revokes all of the user's.
	if err := e.p.SignOut(ctx, tok.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Refresh(ctx, tok.RefreshToken)
	wantCode(t, err, domain.Unauthenticated)
}

func TestLongPasswords(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// bcrypt alone reads 72 bytes: these differ only after that.
	long := strings.Repeat("é", 100) + "1"
	if _, err := e.p.SignUp(ctx, "long@example.com", long+"a", "Long"); err != nil {
		t.Fatal(err)
	}
	if err := e.p.ConfirmSignUp(ctx, "long@example.com", e.code(t, "long@example.com", "signup")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.SignIn(ctx, "long@example.com", long+"b"); domain.ErrorCode(err) != domain.Unauthenticated {
		t.Fatalf("a password sharing the first 72 bytes was accepted: %v", err)
	}
	if _, err := e.p.SignIn(ctx, "long@example.com", long+"a"); err != nil {
		t.Fatal(err)
	}
}

func TestSignUpValidation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, tc := range []struct{ email, pw, name string }{
		{"not-an-email", "password1", "X"},
		{"ok@example.com", "password", "X"},
		{"ok@example.com", "password1", "bad\x00name"},
	} {
		_, err := e.p.SignUp(ctx, tc.email, tc.pw, tc.name)
		wantCode(t, err, domain.Invalid)
	}
	// Emails are normalised: case and spaces do not make a new account.
	e.signUp(t, "Case@Example.com")
	_, err := e.p.SignUp(ctx, " case@example.COM ", "password1", "Y")
	wantCode(t, err, domain.Conflict)
	// Confirming an already confirmed account fails like a wrong code.
	e.confirmed(t, "done@example.com")
	wantCode(t, e.p.ConfirmSignUp(ctx, "done@example.com", "123456"), domain.Invalid)
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ctx := context.Background()
			email := fmt.Sprintf("user%d@example.com", i)
			res, err := e.p.SignUp(ctx, email, "password1", "U")
			if err != nil {
				t.Error(err)
				return
			}
			code := e.p.Mail(email)[0].Code
			if err := e.p.ConfirmSignUp(ctx, email, code); err != nil {
				t.Error(err)
				return
			}
			for range 3 {
				tok, err := e.p.SignIn(ctx, email, "password1")
				if err != nil {
					t.Error(err)
					return
				}
				if p, err := e.v.Verify(ctx, tok.AccessToken); err != nil || p.UserID != res.UserID {
					t.Errorf("Verify = %+v, %v", p, err)
				}
				if _, err := e.p.Refresh(ctx, tok.RefreshToken); err != nil {
					t.Error(err)
				}
			}
			if err := e.p.DeleteIdentity(ctx, res.UserID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// countingHasher is bcrypt that counts its calls and remembers the last
// hash it checked a password against. With hold set, each Check first
// reports on entered and waits until hold is closed.
type countingHasher struct {
	hold    chan struct{}
	entered chan struct{}

	mu          sync.Mutex
	hashes      int
	checks      int
	lastChecked []byte
}

func (h *countingHasher) Hash(pw []byte, cost int) ([]byte, error) {
	h.mu.Lock()
	h.hashes++
	h.mu.Unlock()
	return localauth.BcryptHasher.Hash(pw, cost)
}

func (h *countingHasher) Check(hash, pw []byte) error {
	h.mu.Lock()
	h.checks++
	h.lastChecked = slices.Clone(hash)
	h.mu.Unlock()
	if h.hold != nil {
		h.entered <- struct{}{}
		<-h.hold
	}
	return localauth.BcryptHasher.Check(hash, pw)
}

// counts returns the calls so far and the last hash checked against.
func (h *countingHasher) counts() (hashes, checks int, lastChecked []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hashes, h.checks, h.lastChecked
}

// TestUnknownEmailCostsAPasswordCheck guards the dummy bcrypt compare: a
// sign-in with an unknown (or malformed) email runs exactly one password
// check, against a bcrypt hash of the configured cost, as a wrong password
// does, so the two cannot be told apart by how long they take. The calls
// are counted, not timed.
func TestUnknownEmailCostsAPasswordCheck(t *testing.T) {
	const cost = bcrypt.MinCost + 1
	p := localauth.New(localauth.Config{BcryptCost: cost, HashWait: patientWait})
	h := &countingHasher{}
	p.SetHasher(h)
	ctx := t.Context()
	const email = "timing@example.com"
	if _, err := p.SignUp(ctx, email, "password1", "T"); err != nil {
		t.Fatal(err)
	}
	if err := p.ConfirmSignUp(ctx, email, p.Mail(email)[0].Code); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, email string }{
		{"wrong password", email},
		{"unknown email", "nobody@example.com"},
		{"unknown email again", "nobody@example.com"}, // the dummy hash is made once, checked every time
		{"malformed email", "not an email"},
		{"wrong password again", email},
	} {
		_, before, _ := h.counts()
		_, err := p.SignIn(ctx, c.email, "wrong-pass1")
		wantCode(t, err, domain.Unauthenticated)
		_, after, hash := h.counts()
		if after-before != 1 {
			t.Errorf("%s: %d password checks, want 1", c.name, after-before)
			continue
		}
		if got, err := bcrypt.Cost(hash); err != nil || got != cost {
			t.Errorf("%s: checked against a hash of cost %d (%v), want %d", c.name, got, err, cost)
		}
	}
	// Sign-up hashed the password, the first unknown email the dummy: no
	// other hashing is hidden in a sign-in.
	if hashes, _, _ := h.counts(); hashes != 2 {
		t.Errorf("%d password hashes, want 2 (the sign-up and the dummy)", hashes)
	}
}

// wantBusy checks that err is the answer to a call that found no free
// password hashing slot.
func wantBusy(t *testing.T, err error) {
	t.Helper()
	wantCode(t, err, domain.TooManyRequests)
	if ra := domain.RetryAfter(err); ra != localauth.BusyRetryAfter {
		t.Fatalf("RetryAfter = %v, want %v", ra, localauth.BusyRetryAfter)
	}
	if msg := domain.ErrorMessage(err); !strings.Contains(msg, "busy") {
		t.Fatalf("message %q does not say the server is busy", msg)
	}
}

// TestHashingIsBounded: while every hashing slot is taken, each call that
// needs bcrypt (sign-up, sign-in with a known or unknown email, password
// reset) waits HashWait and answers TooManyRequests, or sooner when its
// context ends; the busy answers do not count against the account; once a
// slot is free everything works.
func TestHashingIsBounded(t *testing.T) {
	const wait = 30 * time.Millisecond
	p := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, MaxConcurrentHashes: 2, HashWait: wait})
	ctx := t.Context()
	const email = "bounded@example.com"
	if _, err := p.SignUp(ctx, email, "password1", "B"); err != nil {
		t.Fatal(err)
	}
	if err := p.ConfirmSignUp(ctx, email, p.Mail(email)[0].Code); err != nil {
		t.Fatal(err)
	}
	if err := p.ForgotPassword(ctx, email); err != nil {
		t.Fatal(err)
	}
	reset := p.Mail(email)[0].Code

	release := p.HoldHashSlots()
	calls := map[string]func(ctx context.Context) error{
		"SignIn": func(ctx context.Context) error { _, err := p.SignIn(ctx, email, "password1"); return err },
		"SignIn unknown email": func(ctx context.Context) error {
			_, err := p.SignIn(ctx, "ghost@example.com", "password1")
			return err
		},
		"SignUp": func(ctx context.Context) error {
			_, err := p.SignUp(ctx, "new@example.com", "password1", "N")
			return err
		},
		"ConfirmForgotPassword": func(ctx context.Context) error {
			_, err := p.ConfirmForgotPassword(ctx, email, reset, "password2")
			return err
		},
	}
	for name, call := range calls {
		start := time.Now()
		err := call(ctx)
		if d := time.Since(start); d < wait {
			t.Errorf("%s answered after %v, before the %v wait", name, d, wait)
		}
		t.Run(name, func(t *testing.T) { wantBusy(t, err) })
	}
	// More busy sign-ins than the account's failure limit: none counts.
	for range localauth.MaxFailures + 1 {
		wantBusy(t, calls["SignIn"](ctx))
	}
	// A context that ends stops the wait: the answer wraps the context's
	// error, not the end of the hour-long HashWait.
	slow := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, MaxConcurrentHashes: 1, HashWait: time.Hour})
	releaseSlow := slow.HoldHashSlots()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := slow.SignIn(cctx, "ghost@example.com", "password1")
	wantBusy(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a cancelled context: %v, want it to wrap %v", err, context.DeadlineExceeded)
	}
	releaseSlow()

	release()
	if _, err := p.SignIn(ctx, email, "password1"); err != nil {
		t.Fatalf("SignIn once the slots are free: %v", err)
	}
	if _, err := p.ConfirmForgotPassword(ctx, email, reset, "password2"); err != nil {
		t.Fatalf("ConfirmForgotPassword once the slots are free: %v", err)
	}
	if _, err := p.SignUp(ctx, "new@example.com", "password1", "N"); err != nil {
		t.Fatalf("SignUp once the slots are free: %v", err)
	}
}

// TestSignInFlood: with one hashing slot, a burst of concurrent sign-ins
// gets TooManyRequests for every attempt that cannot start within HashWait
// instead of queueing for the CPU, and afterwards an honest sign-in works.
// The password check that holds the slot is held until every other
// sign-in has answered, so the outcome does not depend on how fast bcrypt
// or the scheduler is.
func TestSignInFlood(t *testing.T) {
	p := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, MaxConcurrentHashes: 1, HashWait: 5 * time.Millisecond})
	ctx := t.Context()
	const email = "flooded@example.com"
	if _, err := p.SignUp(ctx, email, "password1", "F"); err != nil {
		t.Fatal(err)
	}
	if err := p.ConfirmSignUp(ctx, email, p.Mail(email)[0].Code); err != nil {
		t.Fatal(err)
	}
	h := &countingHasher{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
	p.SetHasher(h)
	const n = 12
	errs := make([]error, n)
	answered := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = p.SignIn(context.Background(), fmt.Sprintf("bot%d@example.com", i), "password1")
			} else {
				_, errs[i] = p.SignIn(context.Background(), email, "wrong-pass1")
			}
			answered <- struct{}{}
		})
	}
	<-h.entered // one sign-in holds the slot, in its password check
	for range n - 1 {
		<-answered // every other one answers without it
	}
	close(h.hold)
	wg.Wait()
	checked, busy := 0, 0
	for _, err := range errs {
		switch domain.ErrorCode(err) {
		case domain.Unauthenticated:
			checked++
		case domain.TooManyRequests:
			wantBusy(t, err)
			busy++
		default:
			t.Fatalf("flooding sign-in: %v", err)
		}
	}
	if _, checks, _ := h.counts(); checked != 1 || busy != n-1 || checks != 1 {
		t.Fatalf("%d passwords checked (%d checks) and %d busy answers among %d concurrent sign-ins with one slot, want 1 and %d", checked, checks, busy, n, n-1)
	}
	h.hold = nil
	if _, err := p.SignIn(ctx, email, "password1"); err != nil {
		t.Fatalf("an honest sign-in after the flood: %v", err)
	}
}

// TestDefaultHashLimits: zero Config fields take the documented defaults,
// so one sign-in at a time always gets a slot.
func TestDefaultHashLimits(t *testing.T) {
	p := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost})
	release := p.HoldHashSlots()
	start := time.Now()
	_, err := p.SignIn(t.Context(), "ghost@example.com", "password1")
	wantBusy(t, err)
	if d := time.Since(start); d < localauth.DefaultHashWait {
		t.Fatalf("busy after %v, want the default wait %v", d, localauth.DefaultHashWait)
	}
	release()
	_, err = p.SignIn(t.Context(), "ghost@example.com", "password1")
	wantCode(t, err, domain.Unauthenticated)
}

// TestConfirmForgotPasswordReturnsTheUserID: the id of the reset account,
// whatever the case and spacing of the email.
func TestConfirmForgotPasswordReturnsTheUserID(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const email = "whoami@example.com"
	id := e.confirmed(t, email)
	if err := e.p.ForgotPassword(ctx, email); err != nil {
		t.Fatal(err)
	}
	got, err := e.p.ConfirmForgotPassword(ctx, " WhoAmI@example.com", e.code(t, email, porttest.AuthCodeReset), "password2")
	if err != nil || got != id {
		t.Fatalf("ConfirmForgotPassword = %q, %v; want %q", got, err, id)
	}
}

// TestSignOutOnlyRevokesOwnTokens: a refresh token presented by another
// user's sign-out stays valid; the caller's own are revoked.
func TestSignOutOnlyRevokesOwnTokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.confirmed(t, "a@example.com")
	e.confirmed(t, "b@example.com")
	a, err := e.p.SignIn(ctx, "a@example.com", "password1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.p.SignIn(ctx, "b@example.com", "password1")
	if err != nil {
		t.Fatal(err)
	}
	// b signs out presenting a's refresh token: b's tokens go, a's stay.
	if err := e.p.SignOut(ctx, b.AccessToken, a.RefreshToken); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	if _, err := e.p.Refresh(ctx, a.RefreshToken); err != nil {
		t.Fatalf("a's refresh token after b's sign-out: %v", err)
	}
	_, err = e.p.Refresh(ctx, b.RefreshToken)
	wantCode(t, err, domain.Unauthenticated)
	if err := e.p.SignOut(ctx, a.AccessToken, a.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Refresh(ctx, a.RefreshToken)
	wantCode(t, err, domain.Unauthenticated)
}

// TestAccountLockCanBeTurnedOff: with MaxFailures negative (the app, which
// counts failures per account and address itself) no number of wrong
// passwords or codes locks the owner out.
func TestAccountLockCanBeTurnedOff(t *testing.T) {
	clock := fakeclock.New(envStart)
	p := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, Clock: clock, HashWait: patientWait, MaxFailures: -1})
	e := &env{p: p, v: newVerifier(t, p, clock), clock: clock, code: codeOf(p)}
	ctx := t.Context()
	const email = "open@example.com"
	e.confirmed(t, email)
	for range 3 * localauth.MaxFailures {
		_, err := p.SignIn(ctx, email, "wrong-pass1")
		wantCode(t, err, domain.Unauthenticated)
	}
	if _, err := p.SignIn(ctx, email, "password1"); err != nil {
		t.Fatalf("the owner after others' failures: %v", err)
	}
	if err := p.ForgotPassword(ctx, email); err != nil {
		t.Fatal(err)
	}
	for range 3 * localauth.MaxFailures {
		_, err := p.ConfirmForgotPassword(ctx, email, "not-it", "password2")
		wantCode(t, err, domain.Invalid)
	}
	if _, err := p.ConfirmForgotPassword(ctx, email, e.code(t, email, porttest.AuthCodeReset), "password2"); err != nil {
		t.Fatalf("the owner's reset after others' wrong codes: %v", err)
	}
}
