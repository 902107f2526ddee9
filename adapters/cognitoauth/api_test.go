package cognitoauth_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/adapters/memory/memnotify"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/httpapi/openapitest"
	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/notifications"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/ports"
)

// openapi is parsed once per test binary.
var openapi = sync.OnceValues(openapitest.Load)

// apiServer is the whole HTTP API over the real core services, the memory
// storage and blobs, and the identity provider under test. Its client
// checks every exchange against openapi.yaml.
type apiServer struct {
	t      *testing.T
	url    string
	client *http.Client
	// raw skips the OpenAPI check, for requests the document cannot
	// describe (broken Authorization headers).
	raw *http.Client
}

func newAPI(t *testing.T, identity ports.Identity, verifier ports.TokenVerifier) *apiServer {
	t.Helper()
	v, err := openapi()
	if err != nil {
		t.Fatal(err)
	}
	clock, ids := system.Clock{}, system.IDs{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := memstore.New(clock)
	var srv *httptest.Server
	blobs := memblob.New(memblob.Config{Secret: []byte("s"), Clock: clock, PathPrefix: httpapi.BlobPathPrefix, BaseURL: func() string { return srv.URL }})
	mediaSvc := media.New(store, blobs, imaging.New(imaging.Config{}), ids, clock, log, media.Config{})
	prof := profiles.New(store, identity, mediaSvc, clock, log)
	limitSvc := limits.New(store, clock, limits.DefaultPolicy())
	sessionSvc := sessions.New(store, clock, sessions.Config{})
	e := httpapi.New(httpapi.Deps{
		Accounts:      accounts.New(identity, verifier, prof, limitSvc, sessionSvc, nil),
		Limits:        limitSvc,
		Sessions:      sessionSvc,
		Profiles:      prof,
		Media:         mediaSvc,
		Posts:         posts.New(store, mediaSvc, prof, ids, clock),
		Comments:      comments.New(store, prof, memnotify.New(log), ids, clock, log),
		Notifications: notifications.New(store, clock),
		Feed:          feed.New(store, prof, clock, feed.Config{}),
		Verifier:      verifier,
		Ready:         []httpapi.ReadyCheck{{Name: "storage", Check: store.Ping}},
		Blobs:         blobs.Handler(),
		Log:           log,
	})
	srv = httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &apiServer{
		t: t, url: srv.URL, raw: srv.Client(),
		client: &http.Client{Transport: v.Transport(t, srv.Client().Transport)},
	}
}

// do sends a JSON request with an optional bearer token and checks the
// status; out, when not nil, receives the JSON answer.
func (a *apiServer) do(method, path, token string, body any, want int, out any) http.Header {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		a.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return res.Header
}

// authorized sends GET /v1/me with the raw Authorization header values
// (none when empty) and returns the status and the problem body.
func (a *apiServer) authorized(values ...string) (int, httpapi.ProblemDetails, http.Header) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+"/v1/me", nil)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, v := range values {
		req.Header.Add("Authorization", v)
	}
	res, err := a.raw.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var p httpapi.ProblemDetails
	if res.StatusCode != http.StatusOK {
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, httpapi.ProblemContentType) {
			a.t.Fatalf("status %d with content type %q: %s", res.StatusCode, ct, data)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			a.t.Fatalf("problem body: %v in %s", err, data)
		}
	}
	return res.StatusCode, p, res.Header
}
