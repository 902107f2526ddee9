package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/adapters/memory/memnotify"
	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/httpapi/oauthroutes"
	"github.com/cloudpost/cloudpost/apps/httpapi/openapitest"
	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/live"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/notifications"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
	"github.com/cloudpost/cloudpost/internal/testlog"
	"github.com/cloudpost/cloudpost/ports"
)

// validator is shared: parsing the document once keeps the tests fast.
var validator = sync.OnceValues(openapitest.Load)

// env is the API over the real core services and the memory adapters,
// served by an httptest server. Its client validates every exchange against
// openapi.yaml.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	client   *http.Client
	clock    *fakeclock.Clock
	auth     *localauth.Provider
	blobs    *memblob.Store
	store    *memstore.Store
	notifier *memnotify.Notifier
	push     *mempush.Push
	hub      *live.Hub
	media    *media.Service
	limits   *limits.Service
	sessions *sessions.Service
	deps     httpapi.Deps
	logs     *testlog.Buffer
}

type envOption func(*httpapi.Deps)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvPolicy(t, limits.DefaultPolicy(), opts...)
}

// newEnvPolicy is newEnv with the abuse limits of policy.
func newEnvPolicy(t *testing.T, policy limits.Policy, opts ...envOption) *env {
	t.Helper()
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Now())
	ids := system.IDs{}
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	en := &env{t: t, clock: clock, logs: logs}

	en.store = memstore.New(clock)
	en.blobs = memblob.New(memblob.Config{
		Secret: []byte("test-secret"), Clock: clock, PathPrefix: httpapi.BlobPathPrefix,
		BaseURL: func() string { return en.srv.URL },
	})
	// As the app does: failures are counted per account and address by
	// core/limits, not by an account-wide lock.
	en.auth = localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, Clock: clock, IDs: ids, MaxFailures: -1})
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{
		Issuer: localauth.DefaultIssuer, ClientIDs: []string{localauth.DefaultClientID},
		JWKS: en.auth.JWKS, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	en.notifier = memnotify.New(log)
	en.media = media.New(en.store, en.blobs, imaging.New(imaging.Config{}), ids, clock, log, media.Config{MaxUploadBytes: 1 << 20})
	// In memory mode the arrival of the bytes starts processing; running it
	// synchronously makes the item ready before the PUT answers.
	en.blobs.SetUploadHook(func(key string) {
		if _, id, ok := domain.ParseUploadKey(key); ok {
			if err := en.media.Process(context.Background(), id); err != nil {
				t.Errorf("processing %s: %v", id, err)
			}
		}
	})
	prof := profiles.New(en.store, en.auth, en.media, clock, log)
	en.limits = limits.New(en.store, clock, policy)
	// The fake clock stands still: a revocation's wait for the next second
	// moves it instead.
	en.sessions = sessions.New(en.store, clock, sessions.Config{Sleep: func(_ context.Context, d time.Duration) error {
		clock.Advance(d)
		return nil
	}})
	en.push = mempush.New(log)
	channels := map[domain.Platform]ports.Push{domain.PlatformFCM: en.push, domain.PlatformAPNs: en.push, domain.PlatformWebPush: en.push}
	deviceSvc := devices.New(en.store, channels, clock, log)
	en.hub = live.New(en.store, clock, log, live.Config{PollInterval: 20 * time.Millisecond})
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); en.hub.Run(hubCtx) }()
	t.Cleanup(func() { en.hub.Close(); stopHub(); <-hubDone })
	notes := notifications.New(en.store, clock)
	notes.OnRead(en.hub.UnreadChanged)
	en.deps = httpapi.Deps{
		Accounts:      accounts.New(en.auth, verifier, prof, en.limits, en.sessions, deviceSvc),
		Devices:       deviceSvc,
		Live:          en.hub,
		Limits:        en.limits,
		Sessions:      en.sessions,
		Profiles:      prof,
		Media:         en.media,
		Posts:         posts.New(en.store, en.media, prof, ids, clock),
		Comments:      comments.New(en.store, prof, hubNotifier{en.notifier, en.hub}, ids, clock, log),
		Notifications: notes,
		Feed:          feed.New(en.store, prof, clock, feed.Config{}),
		Idempotency:   idempotency.New(en.store, clock, ids, idempotency.Config{}),
		Verifier:      verifier,
		Ready:         []httpapi.ReadyCheck{{Name: "storage", Check: en.store.Ping}},
		DevMail: httpapi.DevMailboxFunc(func(to string) []httpapi.DevMessage {
			var out []httpapi.DevMessage
			for _, m := range en.auth.Mail(to) {
				out = append(out, httpapi.DevMessage{To: m.To, Subject: m.Subject, Code: m.Code, SentAt: m.SentAt})
			}
			return out
		}),
		JWKS:   en.auth.JWKS,
		Blobs:  en.blobs.Handler(),
		Routes: []httpapi.RouteSet{socialRoutes(t, verifier)},
		Log:    log,
		Config: httpapi.Config{CORSOrigins: []string{"https://app.example"}},
	}
	for _, o := range opts {
		o(&en.deps)
	}
	en.srv = httptest.NewServer(httpapi.New(en.deps))
	t.Cleanup(en.srv.Close)
	en.client = &http.Client{Transport: v.Transport(t, en.srv.Client().Transport)}
	return en
}

// resp is a finished exchange.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (r *resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// obj decodes the body as a JSON object.
func (r *resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// problem checks that the response is a problem with status and code.
func (r *resp) problem(t *testing.T, status int, code domain.Code) httpapi.ProblemDetails {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != httpapi.ProblemContentType {
		t.Fatalf("content type %q, want problem+json; body %s", ct, r.body)
	}
	var p httpapi.ProblemDetails
	r.json(t, &p)
	if p.Code != code || p.Status != status || p.RequestID == "" || p.RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("problem %+v, want status %d code %s and the request id %q", p, status, code, r.header.Get("X-Request-Id"))
	}
	return p
}

func (r *resp) want(t *testing.T, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// req describes a request; body is sent as is when it is a string or
// []byte, else JSON-encoded.
type req struct {
	method, path string
	token        string
	body         any
	header       map[string]string
	// allow5xx marks requests that are meant to fail on the server side.
	allow5xx bool
}

func (en *env) do(r req) *resp {
	en.t.Helper()
	return en.doWith(en.client, r)
}

func (en *env) doWith(client *http.Client, r req) *resp {
	en.t.Helper()
	var body io.Reader
	contentType := ""
	switch b := r.body.(type) {
	case nil:
	case string:
		body, contentType = strings.NewReader(b), "application/json"
	case []byte:
		body, contentType = bytes.NewReader(b), "application/json"
	case chunked:
		body, contentType = b, "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			en.t.Fatal(err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	url := r.path
	if !strings.HasPrefix(url, "http") {
		url = en.srv.URL + r.path
	}
	hr, err := http.NewRequest(r.method, url, body)
	if err != nil {
		en.t.Fatal(err)
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	res, err := client.Do(hr)
	if err != nil {
		en.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		en.t.Fatal(err)
	}
	if res.Header.Get("X-Request-Id") == "" && !strings.HasPrefix(hr.URL.Path, httpapi.BlobPathPrefix) {
		en.t.Errorf("%s %s: no X-Request-Id", r.method, r.path)
	}
	if res.StatusCode >= 500 && !r.allow5xx && r.path != "/readyz" {
		en.t.Errorf("%s %s: server error %d: %s", r.method, r.path, res.StatusCode, data)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: data}
}

// user is a confirmed, signed-in account.
type user struct {
	id, email, password     string
	token, idToken, refresh string
}

// signUp registers, confirms through the dev mailbox and signs in.
func (en *env) signUp(name string) *user {
	en.t.Helper()
	u := &user{email: name + "@example.com", password: "secret123"}
	r := en.do(req{method: "POST", path: "/v1/auth/signup", body: map[string]any{
		"email": u.email, "password": u.password, "displayName": strings.ToUpper(name[:1]) + name[1:],
	}}).want(en.t, http.StatusCreated)
	var su struct {
		UserID               string `json:"userId"`
		ConfirmationRequired bool   `json:"confirmationRequired"`
	}
	r.json(en.t, &su)
	u.id = su.UserID
	en.do(req{method: "POST", path: "/v1/auth/confirm", body: map[string]any{
		"email": u.email, "code": en.lastCode(u.email),
	}}).want(en.t, http.StatusNoContent)
	en.signIn(u)
	return u
}

func (en *env) signIn(u *user) {
	en.t.Helper()
	var tok struct {
		AccessToken, IDToken, RefreshToken, TokenType string
		ExpiresIn                                     int64
	}
	en.do(req{method: "POST", path: "/v1/auth/signin", body: map[string]any{"email": u.email, "password": u.password}}).
		want(en.t, http.StatusOK).json(en.t, &tok)
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn <= 0 {
		en.t.Fatalf("tokens %+v", tok)
	}
	u.token, u.idToken, u.refresh = tok.AccessToken, tok.IDToken, tok.RefreshToken
}

// lastCode reads the newest code mailed to the address via GET /v1/dev/mail.
func (en *env) lastCode(email string) string {
	en.t.Helper()
	var box struct {
		Messages []struct{ To, Subject, Code, SentAt string }
	}
	en.do(req{method: "GET", path: "/v1/dev/mail?to=" + email}).want(en.t, http.StatusOK).json(en.t, &box)
	if len(box.Messages) == 0 || box.Messages[0].Code == "" {
		en.t.Fatalf("no code mailed to %s", email)
	}
	return box.Messages[0].Code
}

// pngBytes encodes a w x h PNG.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload creates an upload for data and sends the bytes to the presigned
// URL; it returns the media id.
func (en *env) upload(u *user, purpose string, data []byte) string {
	en.t.Helper()
	var up struct {
		MediaID string `json:"mediaId"`
		Upload  struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"upload"`
	}
	r := en.do(req{method: "POST", path: "/v1/uploads", token: u.token, body: map[string]any{
		"purpose": purpose, "contentType": "image/png", "size": len(data),
	}}).want(en.t, http.StatusCreated)
	r.json(en.t, &up)
	if loc := r.header.Get("Location"); loc != "/v1/media/"+up.MediaID {
		en.t.Fatalf("Location %q", loc)
	}
	if up.Upload.Method != http.MethodPut {
		en.t.Fatalf("upload method %q", up.Upload.Method)
	}
	put, err := http.NewRequest(up.Upload.Method, up.Upload.URL, bytes.NewReader(data))
	if err != nil {
		en.t.Fatal(err)
	}
	for k, v := range up.Upload.Headers {
		put.Header.Set(k, v)
	}
	res, err := en.srv.Client().Do(put) // no bearer token: the URL is the credential
	if err != nil {
		en.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		en.t.Fatalf("PUT upload: %d %s", res.StatusCode, body)
	}
	return up.MediaID
}

// socialRoutes are the Cognito social sign-in routes with a fake hosted UI
// domain (never called here), so every optional route is served.
func socialRoutes(t *testing.T, verifier ports.TokenVerifier) httpapi.RouteSet {
	h, err := oauthroutes.New(oauthroutes.Config{
		Domain: "https://auth.example.com", ClientID: "client",
		RedirectURLs: []string{"https://app.example/callback"}, Providers: map[string]string{"google": "Google"},
	}, verifier)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hubNotifier records the hint and hands the notification to the live
// streams, as the server's notifier does.
type hubNotifier struct {
	rec *memnotify.Notifier
	hub *live.Hub
}

func (n hubNotifier) Dispatch(ctx context.Context, note domain.Notification) error {
	n.hub.Publish(note)
	return n.rec.Dispatch(ctx, note)
}
