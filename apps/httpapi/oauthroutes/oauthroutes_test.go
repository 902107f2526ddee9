package oauthroutes_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/httpapi/oauthroutes"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

const (
	clientID     = "hostedclient1"
	clientSecret = "hosted-client-secret-0123456789abcdef"
	userSub      = "0f6c2d1e-1111-4c4c-9a9a-123456789abc"
)

// hostedUI is a fake of the Cognito hosted UI's authorize and token
// endpoints with the rules of the real ones: registered redirect URLs only,
// PKCE S256 required, codes single use, bound to the client, the redirect
// URL and the challenge, client authentication for a client with a secret.
type hostedUI struct {
	*httptest.Server
	key      *rsa.PrivateKey
	redirect []string // registered callback URLs
	secret   string

	mu    sync.Mutex
	codes map[string]grant
	down  bool
	// forge makes the token endpoint sign with another key.
	forge *rsa.PrivateKey
}

type grant struct {
	challenge, redirect, clientID string
	expires                       time.Time
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newHostedUI(t *testing.T, secret string) *hostedUI {
	t.Helper()
	h := &hostedUI{key: rsaKey(), secret: secret, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", h.authorize)
	mux.HandleFunc("POST /oauth2/token", h.token)
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		jwk, err := jwkset.NewJWKFromKey(&h.key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgRS256, KID: "hosted", USE: jwkset.UseSig}})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		store := jwkset.NewMemoryStorage()
		_ = store.KeyWrite(r.Context(), jwk)
		raw, _ := store.JSONPublic(r.Context())
		_, _ = w.Write(raw)
	})
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

func (h *hostedUI) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("response_type") != "code", q.Get("client_id") != clientID, !slices.Contains(h.redirect, redirect):
		http.Error(w, "invalid_request", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256", len(q.Get("code_challenge")) != 43:
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	case q.Get("identity_provider") == "", q.Get("state") == "":
		http.Error(w, "invalid_request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	h.mu.Lock()
	h.codes[code] = grant{challenge: q.Get("code_challenge"), redirect: redirect, clientID: clientID, expires: time.Now().Add(5 * time.Minute)}
	h.mu.Unlock()
	back, _ := url.Parse(redirect)
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (h *hostedUI) token(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	down, forge := h.down, h.forge
	h.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	oauthErr := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(400, "invalid_request")
		return
	}
	if h.secret != "" {
		id, sec, ok := r.BasicAuth()
		if !ok || id != clientID || subtle.ConstantTimeCompare([]byte(sec), []byte(h.secret)) != 1 {
			oauthErr(401, "invalid_client")
			return
		}
	}
	f := r.PostForm
	h.mu.Lock()
	g, ok := h.codes[f.Get("code")]
	delete(h.codes, f.Get("code")) // single use, even when the rest is wrong
	h.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case f.Get("grant_type") != "authorization_code":
		oauthErr(400, "unsupported_grant_type")
		return
	case !ok, time.Now().After(g.expires), f.Get("client_id") != g.clientID, f.Get("redirect_uri") != g.redirect,
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		oauthErr(400, "invalid_grant")
		return
	}
	key := h.key
	if forge != nil {
		key = forge
	}
	now := time.Now()
	sign := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "hosted"
		s, err := tok.SignedString(key)
		if err != nil {
			panic(err)
		}
		return s
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token":  sign(jwt.MapClaims{"iss": h.URL, "sub": userSub, "client_id": clientID, "token_use": "access", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "username": "google_123"}),
		"id_token":      sign(jwt.MapClaims{"iss": h.URL, "sub": userSub, "aud": clientID, "token_use": "id", "email": "ada@example.com", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"refresh_token": "opaque-refresh-" + rand.Text(),
		"expires_in":    3600,
		"token_type":    "Bearer",
	})
}

// env is the API with the OAuth routes in front of a fake hosted UI.
type env struct {
	ui       *hostedUI
	api      *httptest.Server
	clock    *fakeclock.Clock
	verifier *jwtauth.Verifier
	client   *http.Client // a browser: cookies, no automatic redirects
}

func newEnv(t *testing.T, secret string, mutate ...func(*oauthroutes.Config)) *env {
	t.Helper()
	ui := newHostedUI(t, secret)
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: ui.URL, ClientIDs: []string{clientID}, JWKSURL: ui.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	en := &env{ui: ui, verifier: v, clock: fakeclock.New(time.Now())}
	var apiURL string
	e := httpapi.New(httpapi.Deps{Verifier: v})
	en.api = httptest.NewServer(e)
	t.Cleanup(en.api.Close)
	apiURL = en.api.URL
	ui.redirect = []string{apiURL + oauthroutes.CallbackPath, "https://app.example.com/oauth/done"}
	cfg := oauthroutes.Config{
		Domain: ui.URL, ClientID: clientID, ClientSecret: secret,
		RedirectURLs: []string{apiURL + oauthroutes.CallbackPath, "https://app.example.com/oauth/done"},
		Providers:    map[string]string{"google": "Google", "apple": "SignInWithApple"},
		StateSecret:  "state-secret-0123456789abcdef0123456789",
		StateTTL:     5 * time.Minute,
		Clock:        en.clock,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := oauthroutes.New(cfg, v)
	if err != nil {
		t.Fatal(err)
	}
	h.Register(e)
	jar, _ := cookiejar.New(nil)
	en.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return en
}

func (en *env) get(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := en.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// start begins a sign-in and returns the authorize URL it redirects to.
func (en *env) start(t *testing.T, path string) *url.URL {
	t.Helper()
	res := en.get(t, en.api.URL+path)
	if res.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s = %d: %s", path, res.StatusCode, body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// authorize lets the fake hosted UI sign the user in and returns the
// callback URL it sends the browser to.
func (en *env) authorize(t *testing.T, loc *url.URL) *url.URL {
	t.Helper()
	res := en.get(t, loc.String())
	if res.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("authorize = %d: %s", res.StatusCode, body)
	}
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// wantProblem checks a problem answer.
func wantProblem(t *testing.T, res *http.Response, status int, code domain.Code) {
	t.Helper()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != status || !strings.HasPrefix(res.Header.Get("Content-Type"), httpapi.ProblemContentType) {
		t.Fatalf("status %d (%s), want %d problem: %s", res.StatusCode, res.Header.Get("Content-Type"), status, body)
	}
	var p httpapi.ProblemDetails
	if err := json.Unmarshal(body, &p); err != nil || p.Code != code {
		t.Fatalf("problem %s, want code %s", body, code)
	}
}

func TestSignInFlow(t *testing.T) {
	for _, secret := range []string{"", clientSecret} {
		t.Run("secret="+map[bool]string{true: "yes", false: "no"}[secret != ""], func(t *testing.T) {
			en := newEnv(t, secret)
			loc := en.start(t, "/v1/auth/oauth/google")
			q := loc.Query()
			if loc.Scheme+"://"+loc.Host != en.ui.URL || loc.Path != "/oauth2/authorize" {
				t.Fatalf("redirected to %s", loc)
			}
			want := map[string]string{
				"response_type": "code", "client_id": clientID, "identity_provider": "Google",
				"code_challenge_method": "S256", "redirect_uri": en.api.URL + oauthroutes.CallbackPath, "scope": "openid email profile",
			}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if len(q.Get("state")) < 40 || len(q.Get("code_challenge")) != 43 {
				t.Fatalf("state %q, challenge %q", q.Get("state"), q.Get("code_challenge"))
			}
			cookies := en.client.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(en.api.URL, "http://"), Path: oauthroutes.CallbackPath})
			if len(cookies) != 1 || strings.Contains(cookies[0].Value, q.Get("state")) {
				t.Fatalf("state cookie: %+v", cookies)
			}

			back := en.authorize(t, loc)
			res := en.get(t, back.String())
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("callback = %d: %s", res.StatusCode, body)
			}
			var tok map[string]any
			if err := json.Unmarshal(body, &tok); err != nil {
				t.Fatal(err)
			}
			if len(tok) != 5 || tok["tokenType"] != "Bearer" || tok["expiresIn"] != float64(3600) || tok["refreshToken"] == "" {
				t.Fatalf("tokens: %s", body)
			}
			p, err := en.verifier.Verify(context.Background(), tok["accessToken"].(string))
			if err != nil || p.UserID != userSub {
				t.Fatalf("access token: %+v %v", p, err)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Error("token answer may be cached")
			}
			// Replaying the callback: the state cookie is gone.
			wantProblem(t, en.get(t, back.String()), http.StatusBadRequest, domain.Invalid)
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Run("unknown provider", func(t *testing.T) {
		en := newEnv(t, "")
		wantProblem(t, en.get(t, en.api.URL+"/v1/auth/oauth/myspace"), http.StatusBadRequest, domain.Invalid)
	})
	t.Run("redirect URL not allowed", func(t *testing.T) {
		en := newEnv(t, "")
		for _, r := range []string{"https://evil.example/cb", "https://app.example.com/oauth/done/../x", "https://app.example.com/oauth/done?x=1", en.api.URL + oauthroutes.CallbackPath + "/"} {
			wantProblem(t, en.get(t, en.api.URL+"/v1/auth/oauth/google?redirect_uri="+url.QueryEscape(r)), http.StatusBadRequest, domain.Invalid)
		}
		two := "?redirect_uri=" + url.QueryEscape("https://app.example.com/oauth/done") + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
		wantProblem(t, en.get(t, en.api.URL+"/v1/auth/oauth/google"+two), http.StatusBadRequest, domain.Invalid)
	})
	t.Run("allowed alternative redirect URL", func(t *testing.T) {
		en := newEnv(t, "")
		loc := en.start(t, "/v1/auth/oauth/apple?redirect_uri="+url.QueryEscape("https://app.example.com/oauth/done"))
		if loc.Query().Get("redirect_uri") != "https://app.example.com/oauth/done" || loc.Query().Get("identity_provider") != "SignInWithApple" {
			t.Fatalf("authorize URL %s", loc)
		}
	})
	t.Run("state mismatch", func(t *testing.T) {
		en := newEnv(t, "")
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		q := back.Query()
		state := q.Get("state")
		// Same cookie (same prefix), different state.
		last := state[len(state)-1]
		other := byte('A')
		if last == 'A' {
			other = 'B'
		}
		q.Set("state", state[:len(state)-1]+string(other))
		back.RawQuery = q.Encode()
		wantProblem(t, en.get(t, back.String()), http.StatusBadRequest, domain.Invalid)
		// An unknown state, and none at all.
		q.Set("state", "x"+state)
		back.RawQuery = q.Encode()
		wantProblem(t, en.get(t, back.String()), http.StatusBadRequest, domain.Invalid)
		q.Del("state")
		back.RawQuery = q.Encode()
		wantProblem(t, en.get(t, back.String()), http.StatusBadRequest, domain.Invalid)
	})
	t.Run("PKCE verifier mismatch", func(t *testing.T) {
		en := newEnv(t, "")
		// Flow A gets a code; it is presented with flow B's state, whose
		// cookie holds B's verifier: the token endpoint refuses it.
		backA := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		locB := en.start(t, "/v1/auth/oauth/google")
		q := backA.Query()
		q.Set("state", locB.Query().Get("state"))
		backA.RawQuery = q.Encode()
		wantProblem(t, en.get(t, backA.String()), http.StatusBadRequest, domain.Invalid)
	})
	t.Run("stolen code without the browser's cookie", func(t *testing.T) {
		en := newEnv(t, "")
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		res, err := http.Get(back.String()) // another client: no cookie
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		wantProblem(t, res, http.StatusBadRequest, domain.Invalid)
	})
	t.Run("tampered cookie", func(t *testing.T) {
		en := newEnv(t, "")
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		u, _ := url.Parse(en.api.URL + oauthroutes.CallbackPath)
		c := en.client.Jar.Cookies(u)[0]
		b := []byte(c.Value)
		b[len(b)/2] ^= 1
		if b[len(b)/2] == '-' || b[len(b)/2] == '_' {
			b[len(b)/2] = 'A'
		}
		req, _ := http.NewRequest("GET", back.String(), nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: string(b)})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		wantProblem(t, res, http.StatusBadRequest, domain.Invalid)
	})
	t.Run("cookie of another deployment", func(t *testing.T) {
		a := newEnv(t, "")
		b := newEnv(t, "", func(c *oauthroutes.Config) { c.StateSecret = "another-secret-0123456789abcdef012345" })
		back := a.authorize(t, a.start(t, "/v1/auth/oauth/google"))
		u, _ := url.Parse(a.api.URL + oauthroutes.CallbackPath)
		c := a.client.Jar.Cookies(u)[0]
		req, _ := http.NewRequest("GET", b.api.URL+oauthroutes.CallbackPath+"?"+back.RawQuery, nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		wantProblem(t, res, http.StatusBadRequest, domain.Invalid)
	})
	t.Run("expired state", func(t *testing.T) {
		en := newEnv(t, "")
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		en.clock.Advance(6 * time.Minute)
		wantProblem(t, en.get(t, back.String()), http.StatusBadRequest, domain.Invalid)
	})
	t.Run("provider refused", func(t *testing.T) {
		en := newEnv(t, "")
		loc := en.start(t, "/v1/auth/oauth/google")
		u := en.api.URL + oauthroutes.CallbackPath + "?error=access_denied&error_description=%3Cscript%3E&state=" + url.QueryEscape(loc.Query().Get("state"))
		res := en.get(t, u)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "script") {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		en := newEnv(t, "")
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		en.ui.mu.Lock()
		en.ui.down = true
		en.ui.mu.Unlock()
		wantProblem(t, en.get(t, back.String()), http.StatusServiceUnavailable, domain.Unavailable)
	})
	t.Run("token endpoint returns forged tokens", func(t *testing.T) {
		en := newEnv(t, "")
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		en.ui.mu.Lock()
		en.ui.forge = other
		en.ui.mu.Unlock()
		wantProblem(t, en.get(t, back.String()), http.StatusServiceUnavailable, domain.Unavailable)
	})
	t.Run("wrong client secret", func(t *testing.T) {
		en := newEnv(t, clientSecret, func(c *oauthroutes.Config) { c.ClientSecret = "not-the-secret" })
		back := en.authorize(t, en.start(t, "/v1/auth/oauth/google"))
		wantProblem(t, en.get(t, back.String()), http.StatusInternalServerError, domain.Internal)
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := oauthroutes.Config{Domain: "https://auth.example.com", ClientID: "c", RedirectURLs: []string{"https://api.example.com/cb"}, Providers: map[string]string{"google": "Google"}}
	if _, err := oauthroutes.New(good, nil); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*oauthroutes.Config){
		"no domain":        func(c *oauthroutes.Config) { c.Domain = "" },
		"relative domain":  func(c *oauthroutes.Config) { c.Domain = "auth.example.com" },
		"no client":        func(c *oauthroutes.Config) { c.ClientID = "" },
		"no redirect":      func(c *oauthroutes.Config) { c.RedirectURLs = nil },
		"fragment":         func(c *oauthroutes.Config) { c.RedirectURLs = []string{"https://a.example/cb#x"} },
		"no providers":     func(c *oauthroutes.Config) { c.Providers = nil },
		"short secret":     func(c *oauthroutes.Config) { c.StateSecret = "short" },
		"javascript redir": func(c *oauthroutes.Config) { c.RedirectURLs = []string{"javascript:alert(1)"} },
	} {
		c := good
		mut(&c)
		if _, err := oauthroutes.New(c, nil); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
