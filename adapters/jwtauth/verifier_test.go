package jwtauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

func TestNewVerifierValidatesConfigWithoutNetwork(t *testing.T) {
	main, _, _, _ := keys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]*rsa.PublicKey{testKID: &main.PublicKey}))
	good := Config{Issuer: testIssuer, ClientIDs: []string{testClient}, JWKSURL: srv.URL}
	bad := map[string]func(c *Config){
		"no issuer":        func(c *Config) { c.Issuer = "" },
		"no clients":       func(c *Config) { c.ClientIDs = nil },
		"empty client":     func(c *Config) { c.ClientIDs = []string{testClient, ""} },
		"no key source":    func(c *Config) { c.JWKSURL = "" },
		"relative url":     func(c *Config) { c.JWKSURL = "/jwks.json" },
		"ftp url":          func(c *Config) { c.JWKSURL = "ftp://example.com/jwks.json" },
		"negative leeway":  func(c *Config) { c.Leeway = -time.Second },
		"excessive leeway": func(c *Config) { c.Leeway = time.Hour },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			c := good
			mutate(&c)
			_, err := NewVerifier(c)
			wantCode(t, err, domain.Invalid)
		})
	}
	v, err := NewVerifier(good)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if n := srv.src.calls.Load(); n != 0 {
		t.Fatalf("NewVerifier fetched the JWKS %d times; keys must be fetched on first use", n)
	}
	now := time.Now()
	tok := signRS256(t, main, rsHeader(testKID), accessClaims(now))
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify over HTTP JWKS: %v", err)
	}
	if n := srv.src.calls.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
}

func TestVerifyValidAccessToken(t *testing.T) {
	f := newFixture(t, 0)
	p, err := f.v.Verify(t.Context(), f.validAccess(t))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := domain.Principal{
		UserID:    testSubject,
		Groups:    []string{"admins", "editors"},
		ClientID:  testClient,
		TokenID:   testTokenJTI,
		ExpiresAt: testStart.Add(time.Hour),
	}
	if p.UserID != want.UserID || p.ClientID != want.ClientID || p.TokenID != want.TokenID ||
		!p.ExpiresAt.Equal(want.ExpiresAt) || !slices.Equal(p.Groups, want.Groups) || p.Email != "" {
		t.Fatalf("principal = %+v, want %+v", p, want)
	}
	// The second client of the config is accepted too, and email is passed on.
	tok := signRS256(t, f.key, rsHeader(testKID), jwttest.With(accessClaims(f.clock.Now()), map[string]any{
		"client_id": testClient2, "email": "ada@example.com", "cognito:groups": nil,
	}))
	p, err = f.v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify second client: %v", err)
	}
	if p.ClientID != testClient2 || p.Email != "ada@example.com" || p.Groups != nil {
		t.Fatalf("principal = %+v", p)
	}
}

func TestVerifyIDToken(t *testing.T) {
	f := newFixture(t, 0)
	idTok := signRS256(t, f.key, rsHeader(testKID), idClaims(f.clock.Now()))
	p, err := f.v.VerifyID(t.Context(), idTok)
	if err != nil {
		t.Fatalf("VerifyID: %v", err)
	}
	if p.UserID != testSubject || p.Email != "ada@example.com" || p.ClientID != testClient {
		t.Fatalf("principal = %+v", p)
	}
	// An id token is not an access token, and the reverse, also when the
	// other kind was verified (and cached) first.
	_, err = f.v.Verify(t.Context(), idTok)
	wantCode(t, err, domain.Unauthenticated)
	access := f.validAccess(t)
	if _, err := f.v.Verify(t.Context(), access); err != nil {
		t.Fatal(err)
	}
	_, err = f.v.VerifyID(t.Context(), access)
	wantCode(t, err, domain.Unauthenticated)

	for name, c := range map[string]map[string]any{
		"wrong aud":   {"aud": "client-z"},
		"no aud":      {"aud": nil},
		"aud list ok": {"aud": []string{"client-z", testClient2}},
	} {
		t.Run(name, func(t *testing.T) {
			tok := signRS256(t, f.key, rsHeader(testKID), jwttest.With(idClaims(f.clock.Now()), c))
			p, err := f.v.VerifyID(t.Context(), tok)
			if name == "aud list ok" {
				if err != nil || p.ClientID != testClient2 {
					t.Fatalf("VerifyID = %+v, %v", p, err)
				}
				return
			}
			wantCode(t, err, domain.Unauthenticated)
		})
	}
}

func TestVerifyLeewayAndExpiry(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.validAccess(t) // exp = start + 1h
	f.clock.Advance(time.Hour + 5*time.Second)
	if _, err := f.v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("5s past exp is within the default 10s leeway: %v", err)
	}
	f.clock.Advance(6 * time.Second)
	_, err := f.v.Verify(t.Context(), tok)
	wantCode(t, err, domain.Unauthenticated)
	if msg := domain.ErrorMessage(err); msg != msgExpired {
		t.Fatalf("message = %q, want %q", msg, msgExpired)
	}

	// nbf and iat a little in the future (clock skew) are fine.
	now := f.clock.Now()
	skewed := signRS256(t, f.key, rsHeader(testKID), jwttest.With(accessClaims(now), map[string]any{
		"nbf": now.Add(5 * time.Second).Unix(), "iat": now.Add(5 * time.Second).Unix(),
	}))
	if _, err := f.v.Verify(t.Context(), skewed); err != nil {
		t.Fatalf("small skew refused: %v", err)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.validAccess(t)
	if _, err := f.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if f.v.cache.size() != 1 {
		t.Fatalf("cache size = %d, want 1", f.v.cache.size())
	}
	p, err := f.v.Verify(t.Context(), tok)
	if err != nil || p.UserID != testSubject {
		t.Fatalf("warm Verify = %+v, %v", p, err)
	}
	// Mutating a returned principal must not change the cached one.
	p.Groups[0] = "root"
	p, _ = f.v.Verify(t.Context(), tok)
	if p.Groups[0] != "admins" {
		t.Fatalf("cached groups were mutated through a returned principal: %v", p.Groups)
	}
	f.clock.Advance(time.Hour + DefaultLeeway)
	_, err = f.v.Verify(t.Context(), tok)
	wantCode(t, err, domain.Unauthenticated)
	if domain.ErrorMessage(err) != msgExpired {
		t.Fatalf("message = %q", domain.ErrorMessage(err))
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFixture(t, 8)
	now := f.clock.Now()
	var first string
	for i := range 20 {
		tok := signRS256(t, f.key, rsHeader(testKID), jwttest.With(accessClaims(now), map[string]any{"jti": fmt.Sprint("j", i)}))
		if i == 0 {
			first = tok
		}
		if _, err := f.v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		if n := f.v.cache.size(); n > 8 {
			t.Fatalf("cache holds %d entries, limit 8", n)
		}
	}
	if _, ok := f.v.cache.get(cacheKey{use: useAccess, sum: sha256Sum(first)}, now, 0); ok {
		t.Fatal("the oldest entry was not evicted")
	}
	// Expired entries go first when the cache is full.
	f.clock.Advance(2 * time.Hour)
	now = f.clock.Now()
	tok := signRS256(t, f.key, rsHeader(testKID), accessClaims(now))
	if _, err := f.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if n := f.v.cache.size(); n != 1 {
		t.Fatalf("cache holds %d entries after the others expired, want 1", n)
	}

	// A disabled cache keeps nothing.
	off := newFixture(t, -1)
	if _, err := off.v.Verify(t.Context(), off.validAccess(t)); err != nil {
		t.Fatal(err)
	}
	if off.v.cache != nil {
		t.Fatal("cache not disabled")
	}
}

func TestUnknownKIDRefreshAtMostOncePerMinuteAndRotation(t *testing.T) {
	main, other, rotated, _ := keys(t)
	srv := newJWKSServer(t, jwksOf(t, map[string]*rsa.PublicKey{testKID: &main.PublicKey}))
	clock := fakeclock.New(testStart)
	v, err := NewVerifier(Config{Issuer: testIssuer, ClientIDs: []string{testClient}, JWKSURL: srv.URL, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := clock.Now()
	if _, err := v.Verify(ctx, signRS256(t, main, rsHeader(testKID), accessClaims(now))); err != nil {
		t.Fatal(err)
	}
	if n := srv.src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}

	// A flood of unknown kids right after the first fetch: no refetch.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			tok := signRS256(t, other, rsHeader(fmt.Sprint("attacker-", i)), accessClaims(now))
			if _, err := v.Verify(ctx, tok); domain.ErrorCode(err) != domain.Unauthenticated {
				t.Errorf("unknown kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv.src.calls.Load(); n != 1 {
		t.Fatalf("fetches after unknown kids = %d, want 1", n)
	}

	// The pool rotates: the new key appears in the JWKS and signs tokens.
	srv.src.set(jwksOf(t, map[string]*rsa.PublicKey{testKID: &main.PublicKey, testKID2: &rotated.PublicKey}), nil)
	newTok := signRS256(t, rotated, rsHeader(testKID2), accessClaims(now))
	clock.Advance(30 * time.Second)
	_, err = v.Verify(ctx, newTok)
	wantCode(t, err, domain.Unauthenticated) // within the minute: not fetched yet
	if n := srv.src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	clock.Advance(31 * time.Second)
	for i := range 20 { // one refresh serves every later verification
		p, err := v.Verify(ctx, newTok)
		if err != nil || p.UserID != testSubject {
			t.Fatalf("rotated key, attempt %d: %+v, %v", i, p, err)
		}
	}
	if n := srv.src.calls.Load(); n != 2 {
		t.Fatalf("fetches after rotation = %d, want 2", n)
	}
	// More unknown kids in the next minute: still no fetch.
	for i := range 10 {
		tok := signRS256(t, other, rsHeader(fmt.Sprint("x", i)), accessClaims(clock.Now()))
		_, err := v.Verify(ctx, tok)
		wantCode(t, err, domain.Unauthenticated)
	}
	if n := srv.src.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}

	// The old key is withdrawn: after KeysMaxAge the set is refreshed and
	// new tokens signed with the old key stop verifying.
	srv.src.set(jwksOf(t, map[string]*rsa.PublicKey{testKID2: &rotated.PublicKey}), nil)
	clock.Advance(KeysMaxAge)
	if _, err := v.Verify(ctx, signRS256(t, rotated, rsHeader(testKID2), accessClaims(clock.Now()))); err != nil {
		t.Fatal(err)
	}
	if n := srv.src.calls.Load(); n != 3 {
		t.Fatalf("fetches after max age = %d, want 3", n)
	}
	_, err = v.Verify(ctx, signRS256(t, main, rsHeader(testKID), accessClaims(clock.Now())))
	wantCode(t, err, domain.Unauthenticated)
}

func TestJWKSUnavailable(t *testing.T) {
	main, _, _, _ := keys(t)
	srv := newJWKSServer(t, nil)
	srv.src.set(nil, errors.New("down"))
	clock := fakeclock.New(testStart)
	v, err := NewVerifier(Config{Issuer: testIssuer, ClientIDs: []string{testClient}, JWKSURL: srv.URL, Clock: clock, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	tok := signRS256(t, main, rsHeader(testKID), accessClaims(clock.Now()))
	_, err = v.Verify(t.Context(), tok)
	wantCode(t, err, domain.Unavailable)
	// Failing again at once does not hammer the JWKS endpoint.
	for range 10 {
		_, err = v.Verify(t.Context(), tok)
		wantCode(t, err, domain.Unavailable)
	}
	if n := srv.src.calls.Load(); n != 1 {
		t.Fatalf("fetches while down = %d, want 1", n)
	}
	// Garbage or an empty key set is unavailable too, not a token problem.
	for _, doc := range []string{"not json", `{"keys":[]}`, `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"kid-main"}]}`} {
		srv.src.set([]byte(doc), nil)
		clock.Advance(FailedFetchRetry)
		_, err = v.Verify(t.Context(), tok)
		wantCode(t, err, domain.Unavailable)
	}
	srv.src.set(jwksOf(t, map[string]*rsa.PublicKey{testKID: &main.PublicKey}), nil)
	clock.Advance(FailedFetchRetry)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}

	// Once keys are known, a failing refresh keeps them.
	srv.src.set(nil, errors.New("down again"))
	clock.Advance(KeysMaxAge)
	if _, err := v.Verify(t.Context(), signRS256(t, main, rsHeader(testKID), accessClaims(clock.Now()))); err != nil {
		t.Fatalf("stale keys not used while the JWKS is down: %v", err)
	}
}

func TestConcurrentFirstUseFetchesOnce(t *testing.T) {
	f := newFixture(t, -1)
	tok := f.validAccess(t)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := f.v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}
