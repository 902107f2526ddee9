package jwtauth

import (
	"fmt"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
)

// BenchmarkVerifyCold measures a full verification (parse, key lookup,
// RSA signature check, claims) with the token cache disabled.
func BenchmarkVerifyCold(b *testing.B) {
	f := newFixture(b, -1)
	tok := f.validAccess(b)
	ctx := b.Context()
	if _, err := f.v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	fetches := f.src.calls.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(f.src.calls.Load()-fetches), "jwks-fetches")
}

// BenchmarkVerifyWarm measures a verification answered from the token
// cache, over a working set of distinct tokens, as a busy API sees them.
func BenchmarkVerifyWarm(b *testing.B) {
	f := newFixture(b, 0)
	now := f.clock.Now()
	toks := make([]string, 256)
	for i := range toks {
		c := jwttest.With(accessClaims(now), map[string]any{"jti": fmt.Sprint("jti-", i), "sub": fmt.Sprintf("%08d-1111-4c4c-9a9a-123456789abc", i)})
		toks[i] = signRS256(b, f.key, rsHeader(testKID), c)
	}
	ctx := b.Context()
	for _, tok := range toks {
		if _, err := f.v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	fetches := f.src.calls.Load()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.v.Verify(ctx, toks[i&255]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if n := f.src.calls.Load() - fetches; n != 0 {
		b.Fatalf("%d JWKS fetches in steady state", n)
	}
	b.ReportMetric(0, "jwks-fetches")
}
