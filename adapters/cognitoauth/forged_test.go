package cognitoauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/adapters/cognitoauth/cognitolocal"
	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// forgeTarget is one verifier set-up the forged-token table runs against:
// the API in front of it, genuine tokens of its issuer and what is known of
// its key.
type forgeTarget struct {
	api      *apiServer
	verifier ports.TokenVerifier
	valid    string // a genuine access token
	idToken  string // a genuine id token of the same sign-in
	refresh  string // the genuine refresh token of that sign-in
	issuer   string
	clientID string
	kid      string         // kid of the issuer's signing key
	pub      *rsa.PublicKey // the issuer's public key
	// sign signs claims with the issuer's own private key; nil when it is
	// not at hand (then only cases that need no valid signature run).
	sign func(t *testing.T, method jwt.SigningMethod, header, claims map[string]any) string
	// extra are genuine tokens that only this target can make.
	extra []forgedToken
}

// forgedToken is a token that must be refused.
type forgedToken struct {
	name  string
	token string
}

// claimsOf decodes the payload of a token.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// forgedTable builds the malicious and broken tokens for target.
func forgedTable(t *testing.T, tg *forgeTarget, attackerURL string) []forgedToken {
	t.Helper()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tg.valid, ".")
	hdr, payload, sig := parts[0], parts[1], parts[2]
	pubDER, err := x509.MarshalPKIXPublicKey(tg.pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	claims := claimsOf(t, tg.valid)
	now := time.Now()
	kidHdr := map[string]any{"alg": "RS256", "kid": tg.kid}
	otherSigned := func(header, c map[string]any) string {
		return jwttest.SignRaw(t, jwt.SigningMethodRS256, other, jwttest.B64JSON(t, header), jwttest.B64JSON(t, c))
	}
	unsigned := func(header map[string]any, s string) string {
		return jwttest.B64JSON(t, header) + "." + payload + "." + s
	}
	flip := []byte(sig)
	if flip[len(flip)/2] == 'A' {
		flip[len(flip)/2] = 'B'
	} else {
		flip[len(flip)/2] = 'A'
	}

	table := []forgedToken{
		{"alg none, no signature", unsigned(map[string]any{"alg": "none", "typ": "JWT"}, "")},
		{"alg none keeping the real signature", unsigned(map[string]any{"alg": "none", "kid": tg.kid}, sig)},
		{"alg None with the real kid", unsigned(map[string]any{"alg": "None", "kid": tg.kid}, "")},
		{"HS256 keyed with the RSA public key PEM", jwttest.SignRaw(t, jwt.SigningMethodHS256, pubPEM, jwttest.B64JSON(t, map[string]any{"alg": "HS256", "kid": tg.kid}), payload)},
		{"HS256 keyed with the RSA public key DER", jwttest.SignRaw(t, jwt.SigningMethodHS256, pubDER, jwttest.B64JSON(t, map[string]any{"alg": "HS256", "kid": tg.kid}), payload)},
		{"HS256 keyed with the JWKS modulus", jwttest.SignRaw(t, jwt.SigningMethodHS256, []byte(jwttest.B64(tg.pub.N.Bytes())), jwttest.B64JSON(t, map[string]any{"alg": "HS256", "kid": tg.kid}), payload)},
		{"unknown kid", otherSigned(map[string]any{"alg": "RS256", "kid": "kid-unknown"}, claims)},
		{"kid path traversal", otherSigned(map[string]any{"alg": "RS256", "kid": "../../../../keys/" + tg.kid + ".private"}, claims)},
		{"kid absolute path", otherSigned(map[string]any{"alg": "RS256", "kid": "/dev/null"}, claims)},
		{"kid URL of attacker keys", otherSigned(map[string]any{"alg": "RS256", "kid": attackerURL}, claims)},
		{"jku header to attacker keys", otherSigned(map[string]any{"alg": "RS256", "kid": "evil", "jku": attackerURL}, claims)},
		{"embedded jwk header", otherSigned(map[string]any{"alg": "RS256", "kid": "evil", "jwk": map[string]any{"kty": "RSA", "kid": "evil", "n": jwttest.B64(other.N.Bytes()), "e": "AQAB"}}, claims)},
		{"valid signature from another key under the real kid", otherSigned(kidHdr, claims)},
		{"tampered payload: other sub", hdr + "." + jwttest.B64JSON(t, jwttest.With(claims, map[string]any{"sub": porttest.NewID()})) + "." + sig},
		{"tampered payload: groups added", hdr + "." + jwttest.B64JSON(t, jwttest.With(claims, map[string]any{"cognito:groups": []string{"admins"}})) + "." + sig},
		{"tampered payload: exp extended", hdr + "." + jwttest.B64JSON(t, jwttest.With(claims, map[string]any{"exp": now.Add(48 * time.Hour).Unix()})) + "." + sig},
		{"tampered header", jwttest.B64JSON(t, map[string]any{"alg": "RS256", "kid": tg.kid, "typ": "JWT", "x": 1}) + "." + payload + "." + sig},
		{"signature bit flipped", hdr + "." + payload + "." + string(flip)},
		{"signature empty", hdr + "." + payload + "."},
		{"id token used as access token", tg.idToken},
		{"refresh token used as access token", tg.refresh},
		{"over 16 KiB", tg.valid + strings.Repeat("A", jwtauth.MaxTokenSize)},
		{"non-base64 segments", "!!!!.####.$$$$"},
		{"base64 with padding", tg.valid + "=="},
		{"extra segments", tg.valid + "." + sig},
		{"two segments", hdr + "." + payload},
		{"JWE-shaped, 5 segments", jwttest.B64JSON(t, map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": tg.kid}) + "." + jwttest.B64([]byte("key")) + "." + jwttest.B64([]byte("iv-iv-iv-iv")) + "." + payload + "." + jwttest.B64([]byte("tag"))},
		{"garbage", "garbage"},
	}
	if tg.sign != nil {
		s := func(c map[string]any) string { return tg.sign(t, jwt.SigningMethodRS256, kidHdr, c) }
		table = append(table,
			forgedToken{"RS512 signed with the real key", tg.sign(t, jwt.SigningMethodRS512, map[string]any{"alg": "RS512", "kid": tg.kid}, claims)},
			forgedToken{"PS256 signed with the real key", tg.sign(t, jwt.SigningMethodPS256, map[string]any{"alg": "PS256", "kid": tg.kid}, claims)},
			forgedToken{"expired", s(jwttest.With(claims, map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()}))},
			forgedToken{"expired beyond the leeway", s(jwttest.With(claims, map[string]any{"exp": now.Add(-jwtauth.DefaultLeeway - 2*time.Second).Unix()}))},
			forgedToken{"nbf in the future", s(jwttest.With(claims, map[string]any{"nbf": now.Add(time.Hour).Unix()}))},
			forgedToken{"iat in the future", s(jwttest.With(claims, map[string]any{"iat": now.Add(time.Hour).Unix()}))},
			forgedToken{"exp missing", s(jwttest.With(claims, map[string]any{"exp": nil}))},
			forgedToken{"sub missing", s(jwttest.With(claims, map[string]any{"sub": nil}))},
			forgedToken{"sub empty", s(jwttest.With(claims, map[string]any{"sub": ""}))},
			forgedToken{"wrong iss", s(jwttest.With(claims, map[string]any{"iss": "https://accounts.example.com"}))},
			forgedToken{"iss with suffix", s(jwttest.With(claims, map[string]any{"iss": tg.issuer + "x"}))},
			forgedToken{"iss with trailing slash", s(jwttest.With(claims, map[string]any{"iss": tg.issuer + "/"}))},
			forgedToken{"iss as a prefix", s(jwttest.With(claims, map[string]any{"iss": tg.issuer[:len(tg.issuer)-1]}))},
			forgedToken{"iss host prefix trick", s(jwttest.With(claims, map[string]any{"iss": hostTrick(tg.issuer)}))},
			forgedToken{"iss upper case", s(jwttest.With(claims, map[string]any{"iss": strings.ToUpper(tg.issuer)}))},
			forgedToken{"iss missing", s(jwttest.With(claims, map[string]any{"iss": nil}))},
			forgedToken{"token_use id", s(jwttest.With(claims, map[string]any{"token_use": "id"}))},
			forgedToken{"token_use missing", s(jwttest.With(claims, map[string]any{"token_use": nil}))},
			forgedToken{"wrong client_id", s(jwttest.With(claims, map[string]any{"client_id": "someotherclient"}))},
			forgedToken{"client_id with suffix", s(jwttest.With(claims, map[string]any{"client_id": tg.clientID + "x"}))},
			forgedToken{"client only in aud", s(jwttest.With(claims, map[string]any{"client_id": nil, "aud": tg.clientID}))},
			forgedToken{"over 16 KiB with a valid signature", s(jwttest.With(claims, map[string]any{"pad": strings.Repeat("a", jwtauth.MaxTokenSize)}))},
		)
	}
	return append(table, tg.extra...)
}

// hostTrick turns http://host:port/pool into http://host:port.evil.example/pool.
func hostTrick(issuer string) string {
	scheme, rest, _ := strings.Cut(issuer, "://")
	host, path, _ := strings.Cut(rest, "/")
	return scheme + "://" + host + ".evil.example/" + path
}

// runForged checks every forged token directly and through the API: each
// is refused with Unauthenticated / 401 and a problem body, never a 5xx.
func runForged(t *testing.T, tg *forgeTarget, jwksFetches func() int64) {
	attackerHits := atomic.Int64{}
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attackerHits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer attacker.Close()

	// The baseline is accepted, directly and through the API.
	if _, err := tg.verifier.Verify(t.Context(), tg.valid); err != nil {
		t.Fatalf("genuine token refused: %v", err)
	}
	if status, p, _ := tg.api.authorized("Bearer " + tg.valid); status != http.StatusOK {
		t.Fatalf("genuine token: %d %+v", status, p)
	}
	// A bare JWT, as API Gateway's Cognito authorizers take it (the Flutter
	// client sends it so), is verified the same way.
	if status, p, _ := tg.api.authorized(tg.valid); status != http.StatusOK {
		t.Fatalf("genuine token without scheme: %d %+v", status, p)
	}
	if tg.sign != nil {
		// Claims re-signed with the issuer's key unchanged are accepted, so
		// the signed cases below fail on their claims, not their signature.
		resigned := tg.sign(t, jwt.SigningMethodRS256, map[string]any{"alg": "RS256", "kid": tg.kid}, claimsOf(t, tg.valid))
		if _, err := tg.verifier.Verify(t.Context(), resigned); err != nil {
			t.Fatalf("re-signed genuine claims refused: %v", err)
		}
	}
	fetchesBefore := jwksFetches()

	table := forgedTable(t, tg, attacker.URL)
	if len(table) < 25 {
		t.Fatalf("only %d forged tokens", len(table))
	}
	for _, f := range table {
		t.Run(f.name, func(t *testing.T) {
			_, err := tg.verifier.Verify(t.Context(), f.token)
			if domain.ErrorCode(err) != domain.Unauthenticated {
				t.Fatalf("Verify = %v, want Unauthenticated", err)
			}
			if len(f.token) > 32<<10 {
				return // larger than any header the API reads
			}
			wantRefused(t, tg.api, "Bearer "+f.token)
		})
	}

	// Broken Authorization headers around genuine and forged tokens. The
	// scheme itself is case-insensitive (RFC 9110 11.1), so "bearer" with a
	// forged token must fail on the token.
	headers := map[string][]string{
		"no Authorization header":               nil,
		"empty bearer":                          {"Bearer "},
		"bearer without token":                  {"Bearer"},
		"lowercase scheme with a forged token":  {"bearer " + table[0].token},
		"upper case scheme with a forged token": {"BEARER " + table[12].token},
		"Basic scheme":                          {"Basic " + tg.valid},
		"Token scheme":                          {"Token " + tg.valid},
		"Bearer with a colon":                   {"Bearer: " + tg.valid},
		"two spaces":                            {"Bearer  " + tg.valid},
		"tab separator":                         {"Bearer\t" + tg.valid},
		"trailing garbage":                      {"Bearer " + tg.valid + " x"},
		"two Authorization headers":             {"Bearer " + tg.valid, "Bearer " + tg.valid},
	}
	for name, values := range headers {
		t.Run("header/"+name, func(t *testing.T) { wantRefused(t, tg.api, values...) })
	}

	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the verifier fetched attacker-named keys %d times", n)
	}
	// At most one refresh for the unknown kids (rate limited), never one
	// per token.
	if n := jwksFetches() - fetchesBefore; n > 1 {
		t.Errorf("%d JWKS fetches for %d forged tokens, want at most 1", n, len(table))
	}
}

func wantRefused(t *testing.T, api *apiServer, values ...string) {
	t.Helper()
	status, p, h := api.authorized(values...)
	if status != http.StatusUnauthorized || p.Code != domain.Unauthenticated {
		t.Fatalf("GET /v1/me = %d %+v, want 401 Unauthenticated", status, p)
	}
	if h.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

// countingTransport counts JWKS requests.
type countingTransport struct{ jwks atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/.well-known/jwks.json") {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// emulatorUser signs a user up in cfg's pool, confirms it by admin and
// signs it in.
func emulatorUser(t *testing.T, e *emulator, p *cognitoauth.Provider) (string, domain.Tokens) {
	t.Helper()
	ctx := t.Context()
	email := "forge-" + porttest.NewID() + "@example.com"
	if _, err := p.SignUp(ctx, email, "correct-horse-9", "Forge"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client().AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{
		UserPoolId: aws.String(p.Config().UserPoolID), Username: aws.String(email),
	}); err != nil {
		t.Fatal(err)
	}
	tok, err := p.SignIn(ctx, email, "correct-horse-9")
	if err != nil {
		t.Fatal(err)
	}
	return email, tok
}

// TestForgedTokensCognito runs the forged-token table against the verifier
// configured for a Cognito pool (cognito-local's JWKS and issuer), plus the
// genuine-but-wrong tokens only a real pool makes: another pool's token,
// another app client's token, and the token of a deleted user.
func TestForgedTokensCognito(t *testing.T) {
	e := needEmulator(t)
	cfg := e.pool(t, false)
	ct := &countingTransport{}
	p, err := cognitoauth.New(cfg, cognitoauth.Options{Verifier: cognitoauth.VerifierOptions{HTTPClient: &http.Client{Transport: ct}}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.SigningKey()
	if err != nil {
		t.Fatalf("cognito-local's signing key: %v", err)
	}
	_, tok := emulatorUser(t, e, p)
	_, victim := emulatorUser(t, e, p)

	// The same pool's other app client, and another pool.
	other, err := e.Client().CreateUserPoolClient(t.Context(), &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(cfg.UserPoolID), ClientName: aws.String("other-client"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	otherCfg := cfg
	otherCfg.ClientID = aws.ToString(other.UserPoolClient.ClientId)
	pOther, err := cognitoauth.New(otherCfg, cognitoauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, otherClientTok := emulatorUser(t, e, pOther)
	pOtherPool, err := cognitoauth.New(e.pool(t, false), cognitoauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, otherPoolTok := emulatorUser(t, e, pOtherPool)

	// A deleted user's token: refused at once, not when it expires.
	vp, err := p.Verifier().Verify(t.Context(), victim.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a token from the deletion's own second is refused as well
	if err := p.DeleteIdentity(t.Context(), vp.UserID); err != nil {
		t.Fatal(err)
	}

	tg := &forgeTarget{
		api:      newAPI(t, p, p.Verifier()),
		verifier: p.Verifier(),
		valid:    tok.AccessToken,
		idToken:  tok.IDToken,
		refresh:  tok.RefreshToken,
		issuer:   cfg.IssuerURL(),
		clientID: cfg.ClientID,
		kid:      cognitolocal.SigningKeyID,
		pub:      &key.PublicKey,
		sign: func(t *testing.T, m jwt.SigningMethod, header, claims map[string]any) string {
			return jwttest.SignRaw(t, m, key, jwttest.B64JSON(t, header), jwttest.B64JSON(t, claims))
		},
		extra: []forgedToken{
			{"access token of another app client of the pool", otherClientTok.AccessToken},
			{"access token of another pool", otherPoolTok.AccessToken},
			{"id token of another pool", otherPoolTok.IDToken},
			{"token of a deleted user", victim.AccessToken},
		},
	}
	runForged(t, tg, ct.jwks.Load)
}

// TestForgedTokensLocal runs the same table through the API in local mode
// (localauth behind jwtauth), for the cases that need no private key; the
// key-level cases of the local verifier are in adapters/jwtauth.
func TestForgedTokensLocal(t *testing.T) {
	lp := localauth.New(localauth.Config{BcryptCost: bcrypt.MinCost})
	var fetches atomic.Int64
	jwks := func(ctx context.Context) ([]byte, error) { fetches.Add(1); return lp.JWKS(ctx) }
	v, err := jwtauth.NewVerifier(jwtauth.Config{Issuer: lp.Issuer(), ClientIDs: []string{lp.ClientID()}, JWKS: jwks})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	email := "local-" + porttest.NewID() + "@example.com"
	if _, err := lp.SignUp(ctx, email, "correct-horse-9", "Local"); err != nil {
		t.Fatal(err)
	}
	msgs := lp.Mail(email)
	if len(msgs) == 0 {
		t.Fatal("no mail")
	}
	if err := lp.ConfirmSignUp(ctx, email, msgs[len(msgs)-1].Code); err != nil {
		t.Fatal(err)
	}
	tok, err := lp.SignIn(ctx, email, "correct-horse-9")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := lp.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("local JWKS: %v", err)
	}
	jwk, err := jwkset.NewJWKFromMarshal(set.Keys[0], jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := jwk.Key().(*rsa.PublicKey)
	if !ok {
		t.Fatalf("local key is a %T", jwk.Key())
	}
	tg := &forgeTarget{
		api: newAPI(t, lp, v), verifier: v,
		valid: tok.AccessToken, idToken: tok.IDToken, refresh: tok.RefreshToken,
		issuer: lp.Issuer(), clientID: lp.ClientID(), kid: set.Keys[0].KID, pub: pub,
	}
	runForged(t, tg, fetches.Load)
}
