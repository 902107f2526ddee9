package cognitoauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/core/domain"
)

// poolKey is the fake pool's signing key, made once per test binary.
var poolKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fakePool is a fake Cognito API whose JWKS holds poolKey; the answers of
// the API operations are set by the test.
type fakePool struct {
	*fakeCognito
	p    *cognitoauth.Provider
	cfg  cognitoauth.Config
	jwks atomic.Int64
	mu   sync.Mutex
	ops  map[string]any
}

func newFakePool(t testing.TB, opts cognitoauth.Options) *fakePool {
	t.Helper()
	fp := &fakePool{ops: map[string]any{}}
	fp.fakeCognito = newFakeCognito(t)
	jwk, err := jwkset.NewJWKFromKey(&poolKey().PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgRS256, KID: "pool-kid", USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatal(err)
	}
	raw, err := store.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	_ = json.Unmarshal(raw, &doc)
	fp.set(func(op string, _ map[string]any) (int, http.Header, any) {
		if op == "" { // GET <pool>/.well-known/jwks.json
			fp.jwks.Add(1)
			return 200, nil, doc
		}
		fp.mu.Lock()
		defer fp.mu.Unlock()
		if a, ok := fp.ops[op]; ok {
			if e, ok := a.(fakeErr); ok {
				return e.status, nil, map[string]any{"__type": e.exception, "message": "scripted " + e.exception}
			}
			return 200, nil, a
		}
		return 400, nil, map[string]any{"__type": "InvalidParameterException", "message": "unexpected " + op}
	})
	fp.cfg = cognitoauth.Config{Region: "eu-west-1", UserPoolID: "eu-west-1_Fake123", ClientID: "fakeclient1", Endpoint: fp.URL}
	if opts.ClientOptions == nil {
		opts.ClientOptions = []func(*cip.Options){func(o *cip.Options) { o.RetryMaxAttempts = 1 }}
	}
	fp.p, err = cognitoauth.New(fp.cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// fakeErr is an answer of fakePool that fails with a Cognito exception.
type fakeErr struct {
	status    int
	exception string
}

// answer sets what op answers: resp with status 200, or a fakeErr.
func (fp *fakePool) answer(op string, resp any) {
	fp.mu.Lock()
	fp.ops[op] = resp
	fp.mu.Unlock()
}

// token is an access token of the fake pool for sub issued at iat.
func (fp *fakePool) token(t testing.TB, sub string, iat time.Time) string {
	t.Helper()
	return fp.sign(t, jwt.MapClaims{
		"iss": fp.cfg.IssuerURL(), "sub": sub, "client_id": fp.cfg.ClientID, "token_use": "access",
		"iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(), "jti": rand.Text(), "cognito:groups": []string{"editors"},
	})
}

// sign signs claims with the fake pool's key.
func (fp *fakePool) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "pool-kid"
	s, err := tok.SignedString(poolKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRevocationAfterGlobalSignOut: Cognito revokes a user's tokens on
// GlobalSignOut, but a signature check alone would still accept them; the
// verifier refuses the older tokens of users signed out through it.
func TestRevocationAfterGlobalSignOut(t *testing.T) {
	fp := newFakePool(t, cognitoauth.Options{})
	fp.answer("GlobalSignOut", map[string]any{})
	fp.answer("RevokeToken", map[string]any{})
	ctx := t.Context()
	v := fp.p.Verifier()
	now := time.Now()
	ada, bob := fp.token(t, "ada-sub", now.Add(-5*time.Second)), fp.token(t, "bob-sub", now.Add(-5*time.Second))
	p, err := v.Verify(ctx, ada)
	if err != nil || p.UserID != "ada-sub" || p.ClientID != "fakeclient1" || len(p.Groups) != 1 {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	if err := fp.p.SignOut(ctx, ada, "refresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, ada); domain.ErrorCode(err) != domain.Unauthenticated {
		t.Fatalf("token after global sign-out: %v", err)
	}
	if _, err := v.Verify(ctx, bob); err != nil {
		t.Fatalf("another user's token: %v", err)
	}
	// A later sign-in's token works.
	if _, err := v.Verify(ctx, fp.token(t, "ada-sub", now.Add(2*time.Second))); err != nil {
		t.Fatalf("token issued after the sign-out: %v", err)
	}
	calls := fp.recorded()
	if len(calls) < 2 || calls[len(calls)-1].op != "GlobalSignOut" {
		t.Fatalf("calls: %+v", calls)
	}
}

// TestSteadyStateNoFetch: after the first verification, thousands of
// verifications of valid tokens (cached or not) fetch no keys.
func TestSteadyStateNoFetch(t *testing.T) {
	fp := newFakePool(t, cognitoauth.Options{})
	v := fp.p.Verifier()
	ctx := t.Context()
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = fp.token(t, "user-"+string(rune('a'+i%26)), time.Now())
	}
	for range 40 {
		for _, tok := range tokens {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := fp.jwks.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for 2000 verifications, want 1", n)
	}
}

// FuzzVerify feeds arbitrary strings to the Cognito-configured verifier: it
// never panics and refuses everything except genuine tokens with
// Unauthenticated. Run briefly in CI:
//
//	go test -run '^$' -fuzz FuzzVerify -fuzztime 10s ./adapters/cognitoauth
func FuzzVerify(f *testing.F) {
	fp := newFakePool(f, cognitoauth.Options{Verifier: cognitoauth.VerifierOptions{CacheSize: -1}})
	valid := fp.token(f, "fuzz-sub", time.Now())
	for _, s := range []string{valid, "", "a.b.c", valid + "x", "eyJhbGciOiJub25lIn0.e30.", valid[:len(valid)/2]} {
		f.Add(s)
	}
	v := fp.p.Verifier()
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err == nil {
			if p.UserID != "fuzz-sub" {
				t.Fatalf("accepted %q as %+v", token, p)
			}
			return
		}
		if domain.ErrorCode(err) != domain.Unauthenticated {
			t.Fatalf("Verify(%q) = %v, want Unauthenticated", token, err)
		}
	})
}

// BenchmarkVerify measures the verification of a valid token: cold (the
// signature is checked every time, cache off) and warm (a cache hit). The
// JWKS is fetched once before the timer starts; steady state fetches none.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cold", -1}, {"warm", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			fp := newFakePool(b, cognitoauth.Options{Verifier: cognitoauth.VerifierOptions{CacheSize: bc.cache}})
			v := fp.p.Verifier()
			tok := fp.token(b, "bench-sub", time.Now())
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			fetched := fp.jwks.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := fp.jwks.Load() - fetched; n != 0 {
				b.Fatalf("%d JWKS fetches in steady state", n)
			}
			b.ReportMetric(0, "jwks-fetches/op")
		})
	}
}
