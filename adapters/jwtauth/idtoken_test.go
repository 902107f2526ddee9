package jwtauth

import (
	"testing"

	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
	"github.com/cloudpost/cloudpost/core/domain"
)

// TestIDTokenAsAccessToken: a genuine id token of a configured client sent
// to Verify is still refused, with a message that says what to send. The
// forged and foreign id tokens of TestForgedTokens get the generic one.
func TestIDTokenAsAccessToken(t *testing.T) {
	for _, cacheSize := range []int{0, -1} {
		f := newFixture(t, cacheSize)
		now := f.clock.Now()
		for name, changes := range map[string]map[string]any{
			"id token":                      nil,
			"aud of the second client":      {"aud": testClient2},
			"aud list with a known client":  {"aud": []string{"client-z", testClient}},
			"id token carrying a client_id": {"client_id": testClient},
		} {
			t.Run(name, func(t *testing.T) {
				tok := signRS256(t, f.key, rsHeader(testKID), jwttest.With(idClaims(now), changes))
				for range 2 { // the refusal is not cached as anything else
					p, err := f.v.Verify(t.Context(), tok)
					wantCode(t, err, domain.Unauthenticated)
					if msg := domain.ErrorMessage(err); msg != msgIDToken {
						t.Fatalf("message = %q, want %q", msg, msgIDToken)
					}
					if p.UserID != "" || p.ClientID != "" {
						t.Fatalf("refused token returned a principal: %+v", p)
					}
				}
				// The same token is a good id token; verifying it as one
				// (and caching it) changes nothing for Verify.
				if _, err := f.v.VerifyID(t.Context(), tok); err != nil {
					t.Fatalf("VerifyID: %v", err)
				}
				if _, err := f.v.Verify(t.Context(), tok); domain.ErrorMessage(err) != msgIDToken {
					t.Fatalf("after VerifyID: %v", err)
				}
			})
		}
		// The reverse mistake keeps the generic message.
		_, err := f.v.VerifyID(t.Context(), f.validAccess(t))
		wantCode(t, err, domain.Unauthenticated)
		if msg := domain.ErrorMessage(err); msg != msgInvalid {
			t.Fatalf("access token to VerifyID: message = %q", msg)
		}
		if n := f.src.calls.Load(); n != 1 {
			t.Fatalf("%d JWKS fetches, want 1", n)
		}
	}
}
