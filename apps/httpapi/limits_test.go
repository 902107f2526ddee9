package httpapi_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/limits"
)

// trustLoopback makes the test server's own address a trusted proxy, so
// X-Forwarded-For picks the client address of each request.
func trustLoopback(d *httpapi.Deps) {
	d.Config.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

func from(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }

func TestRateLimitsAnswer429WithHeaders(t *testing.T) {
	en := newEnvPolicy(t, limits.Policy{
		PerUser:    map[limits.Action]limits.Rule{limits.Post: {Max: 2, Window: time.Minute}},
		PerAddress: map[limits.Action]limits.Rule{limits.Post: {Max: 100, Window: time.Hour}},
	})
	ann := en.signUp("ann")
	for i := range 2 {
		r := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hi"}}).want(t, http.StatusCreated)
		if got, want := r.header.Get("RateLimit-Policy"), `"post-addr";q=100;w=3600, "post-user";q=2;w=60`; got != want {
			t.Errorf("RateLimit-Policy %q, want %q", got, want)
		}
		if got := r.header.Get("RateLimit"); !strings.Contains(got, fmt.Sprintf(`"post-user";r=%d;t=`, 1-i)) {
			t.Errorf("RateLimit %q after post %d", got, i+1)
		}
	}
	r := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hi"}})
	r.problem(t, http.StatusTooManyRequests, domain.TooManyRequests)
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if !strings.Contains(r.header.Get("RateLimit"), `"post-user";r=0;`) {
		t.Errorf("RateLimit on the 429: %q", r.header.Get("RateLimit"))
	}
	// Another user is not affected; a minute later ann may post again.
	bob := en.signUp("bob")
	en.do(req{method: "POST", path: "/v1/posts", token: bob.token, body: map[string]any{"body": "hi"}}).want(t, http.StatusCreated)
	en.clock.Advance(time.Minute)
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hi"}}).want(t, http.StatusCreated)
}

// TestClientAddressCannotBeChosen: X-Forwarded-For is ignored unless the
// connection comes from a trusted proxy, and then only the entry that proxy
// added counts.
func TestClientAddressCannotBeChosen(t *testing.T) {
	policy := limits.Policy{PerAddress: map[limits.Action]limits.Rule{limits.SignUp: {Max: 2, Window: time.Hour}}}
	signUp := func(en *env, i int, header map[string]string) *resp {
		return en.do(req{method: "POST", path: "/v1/auth/signup", header: header, body: map[string]any{
			"email": fmt.Sprintf("u%d@example.com", i), "password": "secret123", "displayName": "U"}})
	}
	en := newEnvPolicy(t, policy)
	for i := range 2 {
		signUp(en, i, from(fmt.Sprintf("203.0.113.%d", i))).want(t, http.StatusCreated)
	}
	signUp(en, 2, from("203.0.113.77")).problem(t, http.StatusTooManyRequests, domain.TooManyRequests)

	en = newEnvPolicy(t, policy, trustLoopback)
	for i := range 4 {
		// The client's own entries come first; the proxy appends the peer.
		signUp(en, i, from(fmt.Sprintf("198.51.100.1, 203.0.113.%d", i))).want(t, http.StatusCreated)
	}
	signUp(en, 4, from("203.0.113.9")).want(t, http.StatusCreated)
	signUp(en, 5, from("198.51.100.50, 203.0.113.9")).want(t, http.StatusCreated)
	signUp(en, 6, from("203.0.113.9")).problem(t, http.StatusTooManyRequests, domain.TooManyRequests)
}

// TestNoOneCanLockTheOwnerOut: 200 wrong passwords for ann from one
// address are cut off after 10; ann signing in from elsewhere gets in.
func TestNoOneCanLockTheOwnerOut(t *testing.T) {
	en := newEnv(t, trustLoopback)
	ann := en.signUp("ann")
	var statuses = map[int]int{}
	for range 200 {
		r := en.do(req{method: "POST", path: "/v1/auth/signin", header: from("203.0.113.66"),
			body: map[string]any{"email": ann.email, "password": "guess-guess"}})
		statuses[r.status]++
	}
	if statuses[http.StatusUnauthorized] != 10 || statuses[http.StatusTooManyRequests] != 190 {
		t.Errorf("the guesser's answers %v, want 10 401 then 429", statuses)
	}
	en.do(req{method: "POST", path: "/v1/auth/signin", header: from("198.51.100.20"),
		body: map[string]any{"email": ann.email, "password": ann.password}}).want(t, http.StatusOK)
	// Wrong reset codes are counted the same way.
	en.do(req{method: "POST", path: "/v1/auth/forgot", header: from("198.51.100.20"), body: map[string]any{"email": ann.email}}).want(t, http.StatusAccepted)
	for range 10 {
		en.do(req{method: "POST", path: "/v1/auth/reset", header: from("203.0.113.66"),
			body: map[string]any{"email": ann.email, "code": "000000", "password": "newsecret9"}}).problem(t, http.StatusBadRequest, domain.Invalid)
	}
	en.do(req{method: "POST", path: "/v1/auth/reset", header: from("203.0.113.66"),
		body: map[string]any{"email": ann.email, "code": "000000", "password": "newsecret9"}}).problem(t, http.StatusTooManyRequests, domain.TooManyRequests)
}

// TestRevocationHoldsOnEveryRoute: after sign-out, password reset and
// account deletion, tokens issued before are refused everywhere.
func TestRevocationHoldsOnEveryRoute(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")

	// Bob signing out with ann's refresh token signs out bob only.
	en.do(req{method: "POST", path: "/v1/auth/signout", token: bob.token, body: map[string]any{"refreshToken": ann.refresh}}).want(t, http.StatusNoContent)
	en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": ann.refresh}}).want(t, http.StatusOK)
	en.do(req{method: "GET", path: "/v1/me", token: ann.token}).want(t, http.StatusOK)
	en.do(req{method: "GET", path: "/v1/me", token: bob.token}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)

	// Sign-out ends the access token too; a new sign-in works at once.
	old := ann.token
	en.do(req{method: "POST", path: "/v1/auth/signout", token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/me", token: old}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	en.do(req{method: "POST", path: "/v1/uploads", token: old, body: map[string]any{"purpose": "post", "contentType": "image/png", "size": 10}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	en.signIn(ann)
	en.do(req{method: "GET", path: "/v1/me", token: ann.token}).want(t, http.StatusOK)

	// A password reset ends it too.
	old = ann.token
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: map[string]any{"email": ann.email}}).want(t, http.StatusAccepted)
	en.clock.Advance(time.Second)
	en.do(req{method: "POST", path: "/v1/auth/reset", body: map[string]any{"email": ann.email, "code": en.lastCode(ann.email), "password": "newsecret9"}}).
		want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/me", token: old}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	ann.password = "newsecret9"
	en.signIn(ann)

	// Deletion: the token gets 401 everywhere, uploads and media included.
	img := pngBytes(t, 16, 16)
	id := en.upload(ann, "post", img)
	en.do(req{method: "DELETE", path: "/v1/me", token: ann.token}).want(t, http.StatusNoContent)
	for _, r := range []req{
		{method: "GET", path: "/v1/me"},
		{method: "POST", path: "/v1/uploads", body: map[string]any{"purpose": "post", "contentType": "image/png", "size": 10}},
		{method: "GET", path: "/v1/media/" + id},
		{method: "POST", path: "/v1/posts", body: map[string]any{"body": "still here?"}},
		{method: "GET", path: "/v1/sync"},
		{method: "POST", path: "/v1/auth/signout"},
	} {
		r.token = ann.token
		en.do(r).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	}
	en.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refreshToken": ann.refresh}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
}
