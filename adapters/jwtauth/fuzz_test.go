package jwtauth

import (
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
	"github.com/cloudpost/cloudpost/core/domain"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, must
// answer Unauthenticated for everything but the exact genuine tokens, and
// must never accept a mutation of one.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, 0)
	now := fx.clock.Now()
	main, other, _, _ := keys(f)
	valid := fx.validAccess(f)
	idTok := signRS256(f, main, rsHeader(testKID), idClaims(now))
	genuine := map[string]bool{valid: true}
	parts := strings.Split(valid, ".")
	seeds := []string{
		valid,
		idTok,
		signRS256(f, other, rsHeader(testKID), accessClaims(now)),
		signRS256(f, main, rsHeader(testKID), jwttest.With(accessClaims(now), map[string]any{"exp": nil})),
		jwttest.B64JSON(f, map[string]any{"alg": "none"}) + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		valid + "." + parts[2],
		"",
		"a.b.c",
		"..",
		"eyJ.eyJ.sig",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := fx.v.Verify(t.Context(), tok)
		if err == nil {
			if !genuine[tok] {
				t.Fatalf("accepted a token that is not genuine: %q -> %+v", tok, p)
			}
			if p.UserID != testSubject {
				t.Fatalf("principal = %+v", p)
			}
			return
		}
		if c := domain.ErrorCode(err); c != domain.Unauthenticated {
			t.Fatalf("error code %q for %q: %v", c, tok, err)
		}
	})
}
