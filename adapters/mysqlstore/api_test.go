package mysqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/adapters/memory/memnotify"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/notifications"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/ports"
)

// apiEnv is the HTTP API (Echo handlers, real core services) over a MySQL
// store, with the memory blob store and the local identity provider, served
// on a loopback port, and one signed-in user. Rate limits (the default
// policy) count in the MySQL store and the revocation check reads it, as
// in the app.
type apiEnv struct {
	t      testing.TB
	srv    *httptest.Server
	client *http.Client
	store  ports.Storage
	token  string
	userID string
}

func newAPIEnv(t testing.TB, store ports.Storage) *apiEnv {
	t.Helper()
	return newAPIEnvPolicy(t, store, limits.DefaultPolicy())
}

// newAPIEnvPolicy is newAPIEnv with the abuse limits of policy.
func newAPIEnvPolicy(t testing.TB, store ports.Storage, policy limits.Policy) *apiEnv {
	t.Helper()
	clock, ids := system.Clock{}, system.IDs{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	en := &apiEnv{t: t, store: store}
	blobs := memblob.New(memblob.Config{Secret: []byte("test"), Clock: clock, PathPrefix: httpapi.BlobPathPrefix,
		BaseURL: func() string { return en.srv.URL }})
	auth := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost, Clock: clock, IDs: ids})
	verifier, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: localauth.DefaultIssuer, ClientIDs: []string{localauth.DefaultClientID}, JWKS: auth.JWKS, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mediaSvc := media.New(store, blobs, imaging.New(imaging.Config{}), ids, clock, log, media.Config{MaxUploadBytes: 1 << 20})
	prof := profiles.New(store, auth, mediaSvc, clock, log)
	limitSvc := limits.New(store, clock, policy)
	// The revocation instant read at sign-in stays cached for the test, so
	// statement counts do not depend on timing; a cache miss costs one
	// primary-key read (TokensRevokedBefore in TestStatementsPerStoreCall).
	sessionSvc := sessions.New(store, clock, sessions.Config{CacheTTL: time.Hour})
	deps := httpapi.Deps{
		Accounts: accounts.New(auth, verifier, prof, limitSvc, sessionSvc, nil), Limits: limitSvc, Sessions: sessionSvc,
		Profiles: prof, Media: mediaSvc,
		Posts:         posts.New(store, mediaSvc, prof, ids, clock),
		Comments:      comments.New(store, prof, memnotify.New(log), ids, clock, log),
		Notifications: notifications.New(store, clock),
		Feed:          feed.New(store, prof, clock, feed.Config{}),
		Idempotency:   idempotency.New(store, clock, ids, idempotency.Config{}),
		Verifier:      verifier,
		Ready:         []httpapi.ReadyCheck{{Name: "storage", Check: store.Ping}},
		DevMail: httpapi.DevMailboxFunc(func(to string) []httpapi.DevMessage {
			var out []httpapi.DevMessage
			for _, m := range auth.Mail(to) {
				out = append(out, httpapi.DevMessage{To: m.To, Subject: m.Subject, Code: m.Code, SentAt: m.SentAt})
			}
			return out
		}),
		JWKS: auth.JWKS, Blobs: blobs.Handler(), Log: log,
	}
	en.srv = httptest.NewServer(httpapi.New(deps))
	t.Cleanup(en.srv.Close)
	en.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}

	en.token, en.userID = en.signUp()
	return en
}

// signUp makes a confirmed account through the API and returns its access
// token and user id.
func (en *apiEnv) signUp() (token, userID string) {
	en.t.Helper()
	email := fmt.Sprintf("api-%d@example.com", time.Now().UnixNano())
	en.mustCall("POST", "/v1/auth/signup", map[string]string{"email": email, "password": "password123", "displayName": "API"}, nil)
	var mail struct{ Messages []struct{ Code string } }
	en.mustCall("GET", "/v1/dev/mail?to="+email, nil, &mail)
	if len(mail.Messages) == 0 {
		en.t.Fatal("no confirmation code")
	}
	en.mustCall("POST", "/v1/auth/confirm", map[string]string{"email": email, "code": mail.Messages[0].Code}, nil)
	var tokens struct{ AccessToken string }
	en.mustCall("POST", "/v1/auth/signin", map[string]string{"email": email, "password": "password123"}, &tokens)
	var me struct{ ID string }
	if _, err := en.callWith("GET", "/v1/me", map[string]string{"Authorization": "Bearer " + tokens.AccessToken}, nil, &me); err != nil {
		en.t.Fatal(err)
	}
	return tokens.AccessToken, me.ID
}

// call sends a request as the signed-in user and decodes a JSON answer into
// out (when not nil); it returns the response (body consumed).
func (en *apiEnv) call(method, path string, body, out any) (*http.Response, error) {
	return en.callWith(method, path, nil, body, out)
}

// callWith is call with extra request headers (an Authorization header
// replaces the signed-in user's token).
func (en *apiEnv) callWith(method, path string, header map[string]string, body, out any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, en.srv.URL+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if en.token != "" {
		req.Header.Set("Authorization", "Bearer "+en.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := en.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res, err
	}
	if res.StatusCode >= 300 {
		return res, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		return res, json.Unmarshal(data, out)
	}
	return res, nil
}

func (en *apiEnv) mustCall(method, path string, body, out any) {
	en.t.Helper()
	if _, err := en.call(method, path, body, out); err != nil {
		en.t.Fatal(err)
	}
}

// readyMedia stores n processed post images of the user (the upload and
// image pipeline are not what these tests measure).
func (en *apiEnv) readyMedia(n int) []string {
	en.t.Helper()
	var ids []string
	for range n {
		now := time.Now().UTC()
		m, err := en.store.CreateMedia(en.t.Context(), domain.Media{
			ID: system.IDs{}.NewID(), OwnerID: en.userID, Purpose: domain.PurposePost, ContentType: "image/jpeg",
			Size: 1000, Status: domain.MediaReady, Variants: domain.VariantNames, CreatedAt: now, UpdatedAt: now,
		}, nil)
		if err != nil {
			en.t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return ids
}
