// Package oauthroutes adds social sign-in (Google, Apple, ... through the
// Amazon Cognito hosted UI) to the Echo API: the OAuth 2.0 authorization
// code flow with PKCE (S256) and a state parameter.
//
//	GET /v1/auth/oauth/{provider}?redirect_uri=<allowed URL>
//	    302 to <Domain>/oauth2/authorize with identity_provider, state and
//	    code_challenge; sets a short-lived, encrypted, HttpOnly cookie that
//	    binds the state to the PKCE verifier and the redirect URL.
//	GET /v1/auth/oauth/callback?code=...&state=...
//	    checks the state against the cookie, exchanges the code at
//	    <Domain>/oauth2/token with the verifier, verifies the access token
//	    and answers the same token JSON as POST /v1/auth/signin.
//
// The state lives only in the cookie (sealed with AES-GCM under a key from
// Config.StateSecret), so any instance of the API can finish a flow another
// one started. Errors are domain errors; the API's error handler renders them
// as problems (a state or verifier mismatch is a 400).
package oauthroutes

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Routes and limits.
const (
	// PathPrefix is where the routes live.
	PathPrefix = "/v1/auth/oauth/"
	// CallbackPath is the callback route; register <public URL>+CallbackPath
	// as a callback URL of the app client.
	CallbackPath = PathPrefix + "callback"
	// cookiePrefix names the state cookies; a short prefix of the state
	// follows, so several sign-ins (tabs) can run at once.
	cookiePrefix = "cloudpost_oauth_"
	// DefaultStateTTL is how long a flow may take when Config.StateTTL is 0.
	DefaultStateTTL = 10 * time.Minute
	// maxTokenResponse bounds the token endpoint's answer.
	maxTokenResponse = 64 << 10
	// exchangeTimeout bounds the call to the token endpoint.
	exchangeTimeout = 10 * time.Second
)

// Config configures the routes.
type Config struct {
	// Domain is the hosted UI base URL, e.g. https://auth.example.com.
	Domain string
	// ClientID and ClientSecret identify the app client (the secret may be
	// empty for a public client; with one the token call uses HTTP Basic).
	ClientID     string
	ClientSecret string
	// RedirectURLs are the allowed redirect_uri values (each registered on
	// the app client); the first is the default.
	RedirectURLs []string
	// Providers maps the {provider} path segment to the hosted UI's
	// identity_provider name, e.g. "google" -> "Google".
	Providers map[string]string
	// Scopes requested; nil means openid, email and profile.
	Scopes []string
	// StateSecret keys the state cookie (at least 32 bytes); empty means a
	// random key per process (a single instance only).
	StateSecret string
	// StateTTL is how long a flow may take; 0 means DefaultStateTTL.
	StateTTL time.Duration
	// HTTPClient calls the token endpoint; nil: a client with a timeout.
	HTTPClient *http.Client
	// Clock tells the time; nil: the system clock.
	Clock ports.Clock
}

// Handler serves the social sign-in routes.
type Handler struct {
	cfg      Config
	aead     cipher.AEAD
	verifier ports.TokenVerifier
	client   *http.Client
	now      func() time.Time
}

// New checks cfg and returns the handler. verifier checks the access token
// the token endpoint returns (nil skips that check). It does no I/O.
// Returns Invalid for a bad configuration.
func New(cfg Config, verifier ports.TokenVerifier) (*Handler, error) {
	u, err := url.Parse(cfg.Domain)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, domain.Errorf(domain.Invalid, "oauthroutes: Domain must be an http(s) base URL, not %q", cfg.Domain)
	}
	cfg.Domain = strings.TrimRight(cfg.Domain, "/")
	if cfg.ClientID == "" {
		return nil, domain.Errorf(domain.Invalid, "oauthroutes: ClientID is required")
	}
	if len(cfg.RedirectURLs) == 0 || len(cfg.Providers) == 0 {
		return nil, domain.Errorf(domain.Invalid, "oauthroutes: at least one redirect URL and one provider are required")
	}
	for _, r := range cfg.RedirectURLs {
		if ru, err := url.Parse(r); err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" || ru.Fragment != "" {
			return nil, domain.Errorf(domain.Invalid, "oauthroutes: redirect URL %q is not an absolute http(s) URL", r)
		}
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "email", "profile"}
	}
	var key [32]byte
	switch {
	case cfg.StateSecret == "":
		if _, err := rand.Read(key[:]); err != nil {
			return nil, domain.Wrap(err, domain.Internal, "oauthroutes: random key")
		}
	case len(cfg.StateSecret) < 32:
		return nil, domain.Errorf(domain.Invalid, "oauthroutes: StateSecret must have at least 32 bytes")
	default:
		key = sha256.Sum256([]byte("cloudpost oauth state\x00" + cfg.StateSecret))
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, domain.Wrap(err, domain.Internal, "oauthroutes: cipher")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, domain.Wrap(err, domain.Internal, "oauthroutes: cipher")
	}
	h := &Handler{cfg: cfg, aead: aead, verifier: verifier, client: cfg.HTTPClient, now: time.Now}
	if cfg.Clock != nil {
		h.now = cfg.Clock.Now
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: exchangeTimeout}
	}
	return h, nil
}

// Register adds GET /v1/auth/oauth/:provider and GET /v1/auth/oauth/callback
// to e (whose error handler renders the domain errors).
func (h *Handler) Register(e *echo.Echo) {
	e.GET(CallbackPath, h.callback)
	e.GET(PathPrefix+":provider", h.start)
}

// flow is what the state cookie carries.
type flow struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	Provider string `json:"p"`
	Expires  int64  `json:"e"`
}

// start redirects to the hosted UI. Returns Invalid (400) for an unknown
// provider or a redirect_uri that is not allowed.
func (h *Handler) start(c echo.Context) error {
	name := c.Param("provider")
	idp, ok := h.cfg.Providers[name]
	if !ok {
		return domain.Errorf(domain.Invalid, "unknown sign-in provider %q", truncate(name, 32))
	}
	redirect := h.cfg.RedirectURLs[0]
	if q := c.QueryParams(); q.Has("redirect_uri") {
		if len(q["redirect_uri"]) != 1 || !slices.Contains(h.cfg.RedirectURLs, q.Get("redirect_uri")) {
			return domain.Errorf(domain.Invalid, "redirect_uri is not an allowed redirect URL")
		}
		redirect = q.Get("redirect_uri")
	}
	state, err := randomString(32)
	if err != nil {
		return err
	}
	verifier, err := randomString(48) // 64 characters: RFC 7636 allows 43..128
	if err != nil {
		return err
	}
	now := h.now()
	sealed, err := h.seal(flow{State: state, Verifier: verifier, Redirect: redirect, Provider: name, Expires: now.Add(h.cfg.StateTTL).Unix()})
	if err != nil {
		return err
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: cookieName(state), Value: sealed, Path: CallbackPath,
		MaxAge: int(h.cfg.StateTTL / time.Second), Expires: now.Add(h.cfg.StateTTL),
		HttpOnly: true, Secure: secureCookie(c.Request(), redirect),
		// Lax: the hosted UI sends the browser back with a top-level GET.
		SameSite: http.SameSiteLaxMode,
	})
	challenge := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {h.cfg.ClientID},
		"redirect_uri":          {redirect},
		"identity_provider":     {idp},
		"scope":                 {strings.Join(h.cfg.Scopes, " ")},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, h.cfg.Domain+"/oauth2/authorize?"+q.Encode())
}

// tokensResponse is the token JSON of POST /v1/auth/signin.
type tokensResponse struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int64  `json:"expiresIn"`
	TokenType    string `json:"tokenType"`
}

// callback finishes the flow. Returns Invalid (400) for a missing or
// expired state cookie, a state mismatch, a missing code or a code the
// token endpoint refuses (e.g. for a wrong PKCE verifier), Unauthenticated
// (401) when the provider reports a refused sign-in, Unavailable (503) when
// the token endpoint cannot be reached or answers with a bad token.
func (h *Handler) callback(c echo.Context) error {
	q := c.QueryParams()
	state := q.Get("state")
	if len(q["state"]) != 1 || state == "" || len(state) > 256 {
		return domain.Errorf(domain.Invalid, "state is missing")
	}
	cookie, err := c.Cookie(cookieName(state))
	if err != nil {
		return domain.Errorf(domain.Invalid, "no sign-in in progress for this state (cookie missing or expired)")
	}
	// The state is single use: whatever happens next, the cookie goes.
	http.SetCookie(c.Response(), &http.Cookie{
		Name: cookie.Name, Value: "", Path: CallbackPath, MaxAge: -1,
		HttpOnly: true, Secure: secureCookie(c.Request(), ""), SameSite: http.SameSiteLaxMode,
	})
	c.Response().Header().Set("Cache-Control", "no-store")
	f, err := h.open(cookie.Name, cookie.Value)
	if err != nil {
		return domain.Wrap(err, domain.Invalid, "the sign-in state is invalid")
	}
	if h.now().Unix() > f.Expires {
		return domain.Errorf(domain.Invalid, "the sign-in took too long; start again")
	}
	if subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return domain.Errorf(domain.Invalid, "state does not match")
	}
	if e := q.Get("error"); e != "" {
		// error_description comes from the provider: never echoed.
		return domain.Errorf(domain.Unauthenticated, "the sign-in was refused or cancelled (%s)", oauthErrorCode(e))
	}
	code := q.Get("code")
	if len(q["code"]) != 1 || code == "" || len(code) > 2048 {
		return domain.Errorf(domain.Invalid, "code is missing")
	}
	tok, err := h.exchange(c.Request().Context(), code, f)
	if err != nil {
		return err
	}
	if h.verifier != nil {
		if _, err := h.verifier.Verify(c.Request().Context(), tok.AccessToken); err != nil {
			return domain.Wrap(err, domain.Unavailable, "the identity provider returned an invalid token")
		}
	}
	return c.JSON(http.StatusOK, tok)
}

// exchange redeems the code at the token endpoint with the PKCE verifier.
func (h *Handler) exchange(ctx context.Context, code string, f flow) (tokensResponse, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {h.cfg.ClientID},
		"code":          {code},
		"redirect_uri":  {f.Redirect},
		"code_verifier": {f.Verifier},
	}
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.Domain+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokensResponse{}, domain.Wrap(err, domain.Internal, "token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if h.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(h.cfg.ClientID), url.QueryEscape(h.cfg.ClientSecret))
	}
	res, err := h.client.Do(req)
	if err != nil {
		return tokensResponse{}, domain.Wrap(err, domain.Unavailable, "the identity provider is unavailable")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenResponse+1))
	if err != nil || len(body) > maxTokenResponse {
		return tokensResponse{}, domain.Wrap(err, domain.Unavailable, "the identity provider's answer could not be read")
	}
	if res.StatusCode != http.StatusOK {
		var oe struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &oe)
		cause := fmt.Errorf("token endpoint: status %d, error %q", res.StatusCode, oe.Error)
		switch {
		case res.StatusCode >= 500:
			return tokensResponse{}, domain.Wrap(cause, domain.Unavailable, "the identity provider is unavailable")
		case res.StatusCode == http.StatusTooManyRequests:
			return tokensResponse{}, &domain.Error{Code: domain.TooManyRequests, Message: "too many sign-ins, try again later", RetryAfter: time.Second, Err: cause}
		case oe.Error == "invalid_grant":
			return tokensResponse{}, domain.Wrap(cause, domain.Invalid, "the authorization code is invalid, expired or does not match this sign-in")
		default: // invalid_client, unauthorized_client...: our configuration
			return tokensResponse{}, domain.Wrap(cause, domain.Internal, "token exchange failed")
		}
	}
	var t struct {
		AccessToken  string `json:"access_token"`
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
		TokenType    string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" || t.IDToken == "" || t.RefreshToken == "" ||
		t.ExpiresIn <= 0 || !strings.EqualFold(t.TokenType, "Bearer") {
		return tokensResponse{}, domain.Wrap(errors.Join(err, errors.New("incomplete token response")), domain.Unavailable, "the identity provider returned incomplete tokens")
	}
	return tokensResponse{AccessToken: t.AccessToken, IDToken: t.IDToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn, TokenType: "Bearer"}, nil
}

// seal encrypts f for the cookie: base64url(nonce || AES-GCM(json)), with
// the cookie name as additional data so a value cannot move between cookies.
func (h *Handler) seal(f flow) (string, error) {
	plain, err := json.Marshal(f)
	if err != nil {
		return "", domain.Wrap(err, domain.Internal, "sealing state")
	}
	nonce := make([]byte, h.aead.NonceSize(), h.aead.NonceSize()+len(plain)+h.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", domain.Wrap(err, domain.Internal, "sealing state")
	}
	return base64.RawURLEncoding.EncodeToString(h.aead.Seal(nonce, nonce, plain, []byte(cookieName(f.State)))), nil
}

// open decrypts and authenticates the value of the cookie called name.
func (h *Handler) open(name, v string) (flow, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < h.aead.NonceSize()+h.aead.Overhead() {
		return flow{}, errors.New("malformed state cookie")
	}
	nonce, sealed := raw[:h.aead.NonceSize()], raw[h.aead.NonceSize():]
	plain, err := h.aead.Open(nil, nonce, sealed, []byte(name))
	if err != nil {
		return flow{}, err
	}
	var f flow
	if err := json.Unmarshal(plain, &f); err != nil {
		return flow{}, err
	}
	return f, nil
}

// cookieName is the state cookie of a flow: a prefix of its (random) state
// keeps concurrent sign-ins of one browser apart.
func cookieName(state string) string {
	return cookiePrefix + truncate(state, 16)
}

// randomString returns n random bytes, base64url encoded.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", domain.Wrap(err, domain.Internal, "random state")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// secureCookie: the cookie is Secure unless both the request and the
// redirect URL are plain http (a local development set-up).
func secureCookie(r *http.Request, redirect string) bool {
	return r.TLS != nil || strings.HasPrefix(redirect, "https://") ||
		strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// oauthErrorCode passes the RFC 6749 error codes through and nothing else.
func oauthErrorCode(e string) string {
	switch e {
	case "access_denied", "invalid_request", "unauthorized_client", "unsupported_response_type",
		"invalid_scope", "server_error", "temporarily_unavailable":
		return e
	}
	return "error"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
