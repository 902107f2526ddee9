package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

func TestHealthAndReady(t *testing.T) {
	en := newEnv(t)
	en.do(req{method: "GET", path: "/healthz"}).want(t, http.StatusOK)
	r := en.do(req{method: "GET", path: "/readyz"}).want(t, http.StatusOK)
	if m := r.obj(t); m["status"] != "ok" || m["checks"].(map[string]any)["storage"] != "ok" {
		t.Fatalf("readyz %s", r.body)
	}
}

func TestReadyReportsFailedAndPanickingChecks(t *testing.T) {
	en := newEnv(t, func(d *httpapi.Deps) {
		d.Ready = append(d.Ready,
			httpapi.ReadyCheck{Name: "blobs", Check: func(context.Context) error {
				return domain.Errorf(domain.Unavailable, "bucket unreachable")
			}},
			httpapi.ReadyCheck{Name: "slow", Check: func(context.Context) error { panic("check exploded") }},
		)
	})
	r := en.do(req{method: "GET", path: "/readyz"}).want(t, http.StatusServiceUnavailable)
	var body struct {
		Status string
		Checks map[string]string
	}
	r.json(t, &body)
	if body.Status != "unavailable" || body.Checks["storage"] != "ok" ||
		body.Checks["blobs"] != "fail: bucket unreachable" || body.Checks["slow"] != "fail: internal error" {
		t.Fatalf("readyz %s", r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestAuthFlow(t *testing.T) {
	en := newEnv(t)
	signup := func(body any) *resp { return en.do(req{method: "POST", path: "/v1/auth/signup", body: body}) }

	r := signup(map[string]any{"email": "Ann@Example.com", "password": "secret123", "displayName": "Ann"}).want(t, http.StatusCreated)
	if m := r.obj(t); m["userId"] == "" || m["confirmationRequired"] != true {
		t.Fatalf("signup %s", r.body)
	}
	signup(map[string]any{"email": "ann@example.com", "password": "secret456", "displayName": "Ann 2"}).
		problem(t, http.StatusConflict, domain.Conflict)
	for _, pw := range []string{"short1", "lettersonly", "1234567890"} {
		signup(map[string]any{"email": "bob@example.com", "password": pw, "displayName": "Bob"}).
			problem(t, http.StatusBadRequest, domain.Invalid)
	}

	signin := func(email, pw string) *resp {
		return en.do(req{method: "POST", path: "/v1/auth/signin", body: map[string]any{"email": email, "password": pw}})
	}
	signin("ann@example.com", "secret123").problem(t, http.StatusForbidden, domain.UserNotConfirmed)

	en.do(req{method: "POST", path: "/v1/auth/confirm", body: map[string]any{"email": "ann@example.com", "code": "000000x"}}).
		problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "POST", path: "/v1/auth/confirm", body: map[string]any{"email": "ann@example.com", "code": en.lastCode("ann@example.com")}}).
		want(t, http.StatusNoContent)

	// Unknown email and wrong password get the same answer.
	p1 := signin("ann@example.com", "wrong1234").problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	p2 := signin("nobody@example.com", "wrong1234").problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	if p1.Detail != p2.Detail {
		t.Errorf("sign-in answers differ: %q vs %q", p1.Detail, p2.Detail)
	}

	ann := &user{email: "ann@example.com", password: "secret123"}
	en.signIn(ann)
	en.do(req{method: "GET", path: "/v1/me", token: ann.token}).want(t, http.StatusOK)

	// Refresh: new access token, no refresh token in the answer.
	r = en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": ann.refresh}}).want(t, http.StatusOK)
	m := r.obj(t)
	if m["accessToken"] == "" || m["tokenType"] != "Bearer" {
		t.Fatalf("refresh %s", r.body)
	}
	if _, ok := m["refreshToken"]; ok {
		t.Errorf("refresh answer carries a refresh token: %s", r.body)
	}
	en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": "garbage"}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)

	// Forgot: 202 also for unknown emails; reset with the mailed code.
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: map[string]any{"email": "nobody@example.com"}}).want(t, http.StatusAccepted)
	en.clock.Advance(time.Second) // the reset mail is newer than the confirmation mail
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: map[string]any{"email": "ann@example.com"}}).want(t, http.StatusAccepted)
	code := en.lastCode("ann@example.com")
	en.do(req{method: "POST", path: "/v1/auth/reset", body: map[string]any{"email": "ann@example.com", "code": code, "password": "weak"}}).
		problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "POST", path: "/v1/auth/reset", body: map[string]any{"email": "ann@example.com", "code": code, "password": "newsecret9"}}).
		want(t, http.StatusNoContent)
	// The reset revoked the refresh tokens.
	en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": ann.refresh}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	ann.password = "newsecret9"
	en.signIn(ann)

	// Sign-out: afterwards the refresh token is refused. The body is optional.
	en.do(req{method: "POST", path: "/v1/auth/signout", token: ann.token, body: map[string]any{"refreshToken": ann.refresh}}).
		want(t, http.StatusNoContent)
	en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": ann.refresh}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	en.signIn(ann)
	en.do(req{method: "POST", path: "/v1/auth/signout", token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": ann.refresh}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	en.do(req{method: "POST", path: "/v1/auth/signout"}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
}

func TestDevMailNewestFirstAndJWKS(t *testing.T) {
	en := newEnv(t)
	en.do(req{method: "POST", path: "/v1/auth/signup", body: map[string]any{"email": "cy@example.com", "password": "secret123", "displayName": "Cy"}}).
		want(t, http.StatusCreated)
	en.do(req{method: "POST", path: "/v1/auth/confirm", body: map[string]any{"email": "cy@example.com", "code": en.lastCode("cy@example.com")}}).
		want(t, http.StatusNoContent)
	en.clock.Advance(time.Minute)
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: map[string]any{"email": "cy@example.com"}}).want(t, http.StatusAccepted)

	var box struct {
		Messages []struct{ To, Subject, Code, SentAt string }
	}
	en.do(req{method: "GET", path: "/v1/dev/mail?to=CY@example.com"}).want(t, http.StatusOK).json(t, &box)
	if len(box.Messages) != 2 {
		t.Fatalf("messages %+v", box.Messages)
	}
	if !(box.Messages[0].SentAt > box.Messages[1].SentAt) || box.Messages[0].To != "cy@example.com" || box.Messages[0].Code == "" {
		t.Errorf("not newest first: %+v", box.Messages)
	}
	en.do(req{method: "GET", path: "/v1/dev/mail?to=not-an-email"}).problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "GET", path: "/v1/dev/mail"}).problem(t, http.StatusBadRequest, domain.Invalid)

	r := en.do(req{method: "GET", path: "/.well-known/jwks.json"}).want(t, http.StatusOK)
	var jwks struct {
		Keys []struct{ Kty, Kid, Alg string }
	}
	if err := json.Unmarshal(r.body, &jwks); err != nil || len(jwks.Keys) == 0 || jwks.Keys[0].Kty != "RSA" {
		t.Fatalf("jwks %s (%v)", r.body, err)
	}
}

func TestAuthHeaderForms(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("dee")
	for _, h := range []string{"Bearer " + u.token, "bearer " + u.token, "BEARER " + u.token} {
		en.do(req{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": h}}).want(t, http.StatusOK)
	}
	for name, h := range map[string]string{
		"missing":       "",
		"basic":         "Basic " + u.token,
		"no token":      "Bearer ",
		"two spaces":    "Bearer  " + u.token,
		"two tokens":    "Bearer " + u.token + " x",
		"garbage":       "Bearer garbage",
		"tampered":      "Bearer " + u.token[:len(u.token)-4] + "AAAA",
		"id token":      "Bearer " + u.idToken,
		"scheme only":   "Bearer",
		"huge":          "Bearer " + strings.Repeat("a", 20000),
		"unicode token": "Bearer ☃",
	} {
		t.Run(name, func(t *testing.T) {
			r := en.do(req{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": h}})
			r.problem(t, http.StatusUnauthorized, domain.Unauthenticated)
			if r.header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// An expired token is refused.
	en.clock.Advance(2 * time.Hour)
	en.do(req{method: "GET", path: "/v1/me", token: u.token}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
}

// TestResendConfirmation: a lost or expired sign-up code can be replaced;
// the answer never says whether the account exists or is confirmed, and
// the mails are throttled.
func TestResendConfirmation(t *testing.T) {
	en := newEnv(t)
	en.do(req{method: "POST", path: "/v1/auth/signup", body: map[string]any{"email": "dee@example.com", "password": "secret123", "displayName": "Dee"}}).
		want(t, http.StatusCreated)
	first := en.lastCode("dee@example.com")
	en.clock.Advance(48 * time.Hour) // the first code has expired
	en.do(req{method: "POST", path: "/v1/auth/confirm", body: map[string]any{"email": "dee@example.com", "code": first}}).
		problem(t, http.StatusBadRequest, domain.Invalid)

	en.do(req{method: "POST", path: "/v1/auth/resend", body: map[string]any{"email": "DEE@example.com"}}).want(t, http.StatusAccepted)
	second := en.lastCode("dee@example.com")
	en.do(req{method: "POST", path: "/v1/auth/confirm", body: map[string]any{"email": "dee@example.com", "code": second}}).
		want(t, http.StatusNoContent)
	en.signIn(&user{email: "dee@example.com", password: "secret123"})

	// Confirmed and unknown accounts: the same 202, and nothing is mailed.
	en.clock.Advance(time.Minute)
	en.do(req{method: "POST", path: "/v1/auth/resend", body: map[string]any{"email": "dee@example.com"}}).want(t, http.StatusAccepted)
	if got := en.lastCode("dee@example.com"); got != second {
		t.Errorf("a confirmed account was mailed a new code")
	}
	en.do(req{method: "POST", path: "/v1/auth/resend", body: map[string]any{"email": "nobody@example.com"}}).want(t, http.StatusAccepted)
	en.do(req{method: "POST", path: "/v1/auth/resend", body: `{"email":"not an email"}`}).problem(t, http.StatusBadRequest, domain.Invalid)

	// Throttled per account.
	en.do(req{method: "POST", path: "/v1/auth/signup", body: map[string]any{"email": "eve@example.com", "password": "secret123", "displayName": "Eve"}}).
		want(t, http.StatusCreated)
	for range localauth.MaxResetMailsPerHour {
		en.do(req{method: "POST", path: "/v1/auth/resend", body: map[string]any{"email": "eve@example.com"}}).want(t, http.StatusAccepted)
	}
	en.do(req{method: "POST", path: "/v1/auth/resend", body: map[string]any{"email": "eve@example.com"}}).
		problem(t, http.StatusTooManyRequests, domain.TooManyRequests)
}
