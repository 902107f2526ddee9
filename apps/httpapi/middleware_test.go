package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/mocks"
)

func TestRequestID(t *testing.T) {
	en := newEnv(t)
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 3 {
		id := en.do(req{method: "GET", path: "/healthz"}).header.Get("X-Request-Id")
		if !hex32.MatchString(id) || seen[id] {
			t.Fatalf("generated id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	r := en.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "client-abc.123:x_y"}})
	if got := r.header.Get("X-Request-Id"); got != "client-abc.123:x_y" {
		t.Errorf("sane incoming id replaced by %q", got)
	}
	for _, bad := range []string{"has space", "quote\"", strings.Repeat("a", 129), "new\u2028line"} {
		got := en.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": bad}}).header.Get("X-Request-Id")
		if !hex32.MatchString(got) {
			t.Errorf("incoming id %q answered with %q", bad, got)
		}
	}
	// Problems carry the same id.
	r = en.do(req{method: "GET", path: "/nope", header: map[string]string{"X-Request-Id": "trace-1"}})
	if p := r.problem(t, http.StatusNotFound, domain.NotFound); p.RequestID != "trace-1" {
		t.Errorf("problem request id %q", p.RequestID)
	}
}

// TestAccessLog checks the access log's fields and that it never holds
// tokens, passwords, codes or query strings.
func TestAccessLog(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("log")
	en.do(req{method: "GET", path: "/v1/posts?author=" + u.id + "&limit=5", token: u.token, header: map[string]string{"X-Request-Id": "req-42"}}).
		want(t, http.StatusOK)
	en.do(req{method: "POST", path: "/v1/auth/signin", body: map[string]any{"email": u.email, "password": "wrong-secret-1"}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	logs := en.logs.String()

	var found bool
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %s: %v", sc.Bytes(), err)
		}
		if line["msg"] != "request" {
			continue
		}
		if strings.Contains(fmt.Sprint(line["path"]), "?") {
			t.Errorf("query string logged: %v", line)
		}
		if line["requestId"] == "req-42" {
			found = true
			if line["method"] != "GET" || line["path"] != "/v1/posts" || line["status"] != float64(200) ||
				line["userId"] != u.id || line["latency"] == nil {
				t.Errorf("access log line %v", line)
			}
		}
	}
	if !found {
		t.Fatalf("no access log line for req-42 in\n%s", logs)
	}
	for _, secret := range []string{u.token, u.refresh, u.password, "wrong-secret-1", "limit=5", en.lastCodeNoLog(u.email)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds a secret %q", secret[:min(len(secret), 20)])
		}
	}
}

// lastCodeNoLog reads the newest code straight from the provider.
func (en *env) lastCodeNoLog(email string) string {
	msgs := en.auth.Mail(email)
	if len(msgs) == 0 {
		en.t.Fatalf("no mail for %s", email)
	}
	return msgs[0].Code
}

func TestPanicAndInternalErrorsHideTheCause(t *testing.T) {
	cause := "db password=hunter2"
	for name, jwks := range map[string]func(context.Context) ([]byte, error){
		"panic": func(context.Context) ([]byte, error) { panic(cause) },
		"error": func(context.Context) ([]byte, error) { return nil, errors.New(cause) },
		"wrapped internal": func(context.Context) ([]byte, error) {
			return nil, domain.Wrap(errors.New(cause), domain.Internal, "secret detail "+cause)
		},
	} {
		t.Run(name, func(t *testing.T) {
			en := newEnv(t, func(d *httpapi.Deps) { d.JWKS = jwks })
			r := en.doWith(en.client, req{method: "GET", path: "/.well-known/jwks.json", header: map[string]string{"X-Request-Id": "boom-1"}, allow5xx: true})
			p := r.problem(t, http.StatusInternalServerError, domain.Internal)
			if p.Detail != "internal error" || strings.Contains(string(r.body), "hunter2") {
				t.Errorf("problem leaks: %s", r.body)
			}
			logs := en.logs.String()
			if !strings.Contains(logs, "hunter2") || !strings.Contains(logs, "boom-1") {
				t.Errorf("cause or request id not logged:\n%s", logs)
			}
			// The server still works.
			en.do(req{method: "GET", path: "/healthz"}).want(t, http.StatusOK)
		})
	}
}

func TestVerifierErrors(t *testing.T) {
	ctrl := gomock.NewController(t)
	v := mocks.NewMockTokenVerifier(ctrl)
	en := newEnv(t, func(d *httpapi.Deps) { d.Verifier = v })

	v.EXPECT().Verify(gomock.Any(), "down").Return(domain.Principal{}, &domain.Error{Code: domain.Unavailable, Message: "keys unavailable", RetryAfter: 2500 * time.Millisecond})
	r := en.doWith(en.client, req{method: "GET", path: "/v1/me", token: "down", allow5xx: true})
	r.problem(t, http.StatusServiceUnavailable, domain.Unavailable)
	if r.header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	v.EXPECT().Verify(gomock.Any(), "expired").Return(domain.Principal{}, domain.Errorf(domain.Unauthenticated, "token expired"))
	en.do(req{method: "GET", path: "/v1/me", token: "expired"}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	// A verifier that returns no user is refused, not trusted.
	v.EXPECT().Verify(gomock.Any(), "anonymous").Return(domain.Principal{}, nil)
	en.do(req{method: "GET", path: "/v1/me", token: "anonymous"}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	// Requests without a well-formed header never reach the verifier.
	en.do(req{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": "Token abc"}}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
}

func TestWithPrincipal(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("lambda")
	e := httpapi.New(en.deps)

	// Injected by Go code (the Lambda app): no header needed.
	r := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	r = r.WithContext(httpapi.WithPrincipal(r.Context(), domain.Principal{UserID: u.id}))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), u.id) {
		t.Fatalf("injected principal: %d %s", w.Code, w.Body)
	}
	// The principal is visible to handlers through PrincipalFrom.
	e.GET("/test/whoami", func(c echo.Context) error {
		p, ok := httpapi.PrincipalFrom(c)
		return c.String(http.StatusOK, fmt.Sprint(ok, " ", p.UserID))
	})
	r = httptest.NewRequest(http.MethodGet, "/test/whoami", nil)
	w = httptest.NewRecorder()
	e.ServeHTTP(w, r)
	if w.Body.String() != "false " {
		t.Errorf("unauthenticated route sees a principal: %q", w.Body)
	}
	// Without it and without a header: 401.
	w = httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/me", nil))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("no principal: %d", w.Code)
	}
}

func TestCORS(t *testing.T) {
	en := newEnv(t)
	preflight := func(origin string) *resp {
		return en.do(req{method: "OPTIONS", path: "/v1/posts", header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type,if-match,idempotency-key",
		}})
	}
	r := preflight("https://app.example").want(t, http.StatusNoContent)
	h := r.header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "If-Match") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
		h.Get("Access-Control-Max-Age") == "" {
		t.Fatalf("preflight headers %v", h)
	}
	r = preflight("https://evil.example")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", r.header)
	}
	// The local blob route's upload (a signed If-None-Match) is preflighted
	// like S3's.
	r = en.do(req{method: "OPTIONS", path: httpapi.BlobPathPrefix + "uploads/u/m", header: map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,if-none-match",
	}})
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "If-None-Match") {
		t.Fatalf("upload preflight: %d %v", r.status, r.header)
	}
	// A simple request exposes the headers clients need.
	r = en.do(req{method: "GET", path: "/healthz", header: map[string]string{"Origin": "https://app.example"}}).want(t, http.StatusOK)
	exposed := r.header.Get("Access-Control-Expose-Headers")
	for _, name := range []string{"ETag", "Location", "X-Request-Id", "Retry-After", "Idempotent-Replayed", "RateLimit"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("%s not exposed: %q", name, exposed)
		}
	}

	// Without configured origins there are no CORS headers at all.
	en = newEnv(t, func(d *httpapi.Deps) { d.Config.CORSOrigins = nil })
	r = en.do(req{method: "GET", path: "/healthz", header: map[string]string{"Origin": "https://app.example"}}).want(t, http.StatusOK)
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS without configured origins: %v", r.header)
	}
}

func TestSecureHeaders(t *testing.T) {
	en := newEnv(t)
	for _, path := range []string{"/healthz", "/nope"} {
		h := en.do(req{method: "GET", path: path}).header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("Strict-Transport-Security") != "" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

func TestBodyLimitIsConfigurable(t *testing.T) {
	en := newEnv(t, func(d *httpapi.Deps) { d.Config.JSONBodyLimit = 100 })
	body := map[string]any{"email": strings.Repeat("a", 90) + "@example.com"}
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: body}).problem(t, http.StatusRequestEntityTooLarge, domain.TooLarge)
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: chunked{strings.NewReader(`{"email":"` + strings.Repeat("a", 100) + `@example.com"}`)}}).
		problem(t, http.StatusRequestEntityTooLarge, domain.TooLarge)
	en.do(req{method: "POST", path: "/v1/auth/forgot", body: map[string]any{"email": "a@example.com"}}).want(t, http.StatusAccepted)
}

// TestClientGoneIsNotAServerError: a request whose client hangs up while
// the store waits is logged as 499 at INFO, with no "request failed" error.
func TestClientGoneIsNotAServerError(t *testing.T) {
	entered := make(chan struct{})
	en := newEnv(t, func(d *httpapi.Deps) {
		d.JWKS = func(ctx context.Context) ([]byte, error) {
			close(entered)
			<-ctx.Done()
			return nil, domain.Wrap(ctx.Err(), domain.Unavailable, "request cancelled")
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	r, _ := http.NewRequestWithContext(ctx, "GET", en.srv.URL+"/.well-known/jwks.json", nil)
	r.Header.Set("X-Request-Id", "gone-1")
	go func() { <-entered; cancel() }()
	if res, err := en.client.Do(r); err == nil {
		res.Body.Close()
		t.Fatalf("status %d: the client was meant to hang up", res.StatusCode)
	}
	var line map[string]any
	// The line is written once the handler has returned; a minute only
	// bounds a wait for a line that never comes, whatever the load.
	deadline := time.Now().Add(time.Minute)
	for line == nil && time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(en.logs.String()))
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "request" && l["requestId"] == "gone-1" {
				line = l
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if line == nil || line["status"] != float64(httpapi.StatusClientClosedRequest) || line["level"] != "INFO" {
		t.Errorf("access log line %v, want status 499 at INFO", line)
	}
	if strings.Contains(en.logs.String(), "request failed") {
		t.Errorf("a hang-up was logged as a failure:\n%s", en.logs.String())
	}
}
