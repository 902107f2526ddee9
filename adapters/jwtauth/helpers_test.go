package jwtauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

const (
	testIssuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1"
	testClient   = "client-a"
	testClient2  = "client-b"
	testKID      = "kid-main"
	testKID2     = "kid-rotated"
	testSubject  = "0f6c2d1e-1111-4c4c-9a9a-123456789abc"
	testTokenJTI = "jti-1"
)

// testStart is the fake clock's start; tokens are issued relative to it.
var testStart = time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys struct {
	once                 sync.Once
	main, other, rotated *rsa.PrivateKey
	weak                 *rsa.PrivateKey // 1024 bits
}

func keys(t testing.TB) (main, other, rotated, weak *rsa.PrivateKey) {
	t.Helper()
	testKeys.once.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		testKeys.main, testKeys.other, testKeys.rotated, testKeys.weak = gen(2048), gen(2048), gen(2048), gen(1024)
	})
	return testKeys.main, testKeys.other, testKeys.rotated, testKeys.weak
}

// jwksOf marshals the public keys (kid -> key) as a JWKS with jwkset.
func jwksOf(t testing.TB, pubs map[string]*rsa.PublicKey) []byte {
	t.Helper()
	store := jwkset.NewMemoryStorage()
	for kid, pub := range pubs {
		jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			ALG: jwkset.AlgRS256, KID: kid, USE: jwkset.UseSig,
		}})
		if err != nil {
			t.Fatalf("jwk: %v", err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := store.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signRS256 signs claims with key under the given header.
func signRS256(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	return jwttest.SignRaw(t, jwt.SigningMethodRS256, key, jwttest.B64JSON(t, header), jwttest.B64JSON(t, claims))
}

func rsHeader(kid string) map[string]any { return map[string]any{"alg": "RS256", "kid": kid} }

// accessClaims are the claims of a valid Cognito access token at now.
func accessClaims(now time.Time) map[string]any {
	return map[string]any{
		"sub":            testSubject,
		"iss":            testIssuer,
		"client_id":      testClient,
		"token_use":      "access",
		"scope":          "aws.cognito.signin.user.admin",
		"auth_time":      now.Unix(),
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"jti":            testTokenJTI,
		"username":       testSubject,
		"cognito:groups": []string{"admins", "editors"},
	}
}

// idClaims are the claims of a valid Cognito id token at now.
func idClaims(now time.Time) map[string]any {
	return map[string]any{
		"sub":            testSubject,
		"iss":            testIssuer,
		"aud":            testClient,
		"token_use":      "id",
		"email":          "ada@example.com",
		"email_verified": true,
		"auth_time":      now.Unix(),
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"jti":            "jti-id",
	}
}

// countingSource is a static JWKS source that counts its calls and can be
// switched to another document or to failing.
type countingSource struct {
	mu    sync.Mutex
	doc   []byte
	err   error
	calls atomic.Int64
}

func (s *countingSource) fetch(context.Context) ([]byte, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return s.doc, nil
}

func (s *countingSource) set(doc []byte, err error) {
	s.mu.Lock()
	s.doc, s.err = doc, err
	s.mu.Unlock()
}

// jwksServer serves a switchable JWKS over HTTP and counts requests.
type jwksServer struct {
	*httptest.Server
	src countingSource
}

func newJWKSServer(t testing.TB, doc []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.src.set(doc, nil)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := s.src.fetch(r.Context())
		if err != nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

// fixture is a verifier over a static JWKS holding the main key.
type fixture struct {
	v     *Verifier
	clock *fakeclock.Clock
	src   *countingSource
	key   *rsa.PrivateKey
}

func newFixture(t testing.TB, cacheSize int) *fixture {
	t.Helper()
	main, _, _, _ := keys(t)
	f := &fixture{clock: fakeclock.New(testStart), src: &countingSource{}, key: main}
	f.src.set(jwksOf(t, map[string]*rsa.PublicKey{testKID: &main.PublicKey}), nil)
	v, err := NewVerifier(Config{
		Issuer:    testIssuer,
		ClientIDs: []string{testClient, testClient2},
		JWKS:      f.src.fetch,
		Clock:     f.clock,
		CacheSize: cacheSize,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	f.v = v
	return f
}

// validAccess is a valid access token of the fixture at the clock's time.
func (f *fixture) validAccess(t testing.TB) string {
	return signRS256(t, f.key, rsHeader(testKID), accessClaims(f.clock.Now()))
}

func wantCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *domain.Error", err)
	}
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// size returns the number of cached tokens.
func (c *tokenCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
