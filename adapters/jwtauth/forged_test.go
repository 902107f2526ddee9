package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
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

	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/adapters/jwtauth/jwttest"
	"github.com/cloudpost/cloudpost/core/domain"
)

// forgedCase is a malicious or broken token that must be refused.
type forgedCase struct {
	name    string
	token   func(t *testing.T) string
	expired bool // the refusal must say "token expired"
}

// TestForgedTokens runs the forged-token table of issue 5: every token is
// refused with Unauthenticated and a short safe message, nothing panics,
// and none of them makes the verifier fetch keys again.
func TestForgedTokens(t *testing.T) {
	main, other, _, weak := keys(t)
	f := newFixture(t, 0)
	// The key set also publishes a weak RSA key and a symmetric key: neither
	// may ever verify a token.
	doc := jwksOf(t, map[string]*rsa.PublicKey{testKID: &main.PublicKey, "kid-weak": &weak.PublicKey})
	var set map[string][]map[string]any
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	octSecret := []byte("0123456789abcdef0123456789abcdef")
	set["keys"] = append(set["keys"], map[string]any{"kty": "oct", "kid": "kid-oct", "alg": "HS256", "k": jwttest.B64(octSecret)})
	doc, _ = json.Marshal(set)
	f.src.set(doc, nil)

	now := f.clock.Now()
	valid := f.validAccess(t)
	if _, err := f.v.Verify(t.Context(), valid); err != nil {
		t.Fatalf("baseline token refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	hdr, payload, sig := parts[0], parts[1], parts[2]

	// The non-canonical case only means something if a lenient decoder
	// would accept it.
	if a, b := mustDecode(t, sig), mustDecode(t, nonCanonical(sig)); string(a) != string(b) {
		t.Fatal("nonCanonical changed the decoded signature")
	}

	pubDER, err := x509.MarshalPKIXPublicKey(&main.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	// An attacker-controlled JWKS: the verifier must never fetch it.
	var attackerFetches atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attackerFetches.Add(1)
		_, _ = w.Write(jwksOf(t, map[string]*rsa.PublicKey{"evil": &other.PublicKey}))
	}))
	defer attacker.Close()

	claims := func(changes map[string]any) map[string]any { return jwttest.With(accessClaims(now), changes) }
	rs := func(key *rsa.PrivateKey, header, c map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string { return signRS256(t, key, header, c) }
	}
	raw := func(s string) func(t *testing.T) string { return func(*testing.T) string { return s } }
	signed := func(method jwt.SigningMethod, key any, header map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string { return jwttest.SignRaw(t, method, key, jwttest.B64JSON(t, header), payload) }
	}
	unsigned := func(header map[string]any, sig string) func(t *testing.T) string {
		return func(t *testing.T) string { return jwttest.B64JSON(t, header) + "." + payload + "." + sig }
	}
	kidHeader := rsHeader(testKID)

	cases := []forgedCase{
		// Algorithm confusion.
		{name: "alg none, no signature", token: unsigned(map[string]any{"alg": "none", "typ": "JWT"}, "")},
		{name: "alg none with kid", token: unsigned(map[string]any{"alg": "none", "kid": testKID}, "")},
		{name: "alg None, valid signature kept", token: unsigned(map[string]any{"alg": "None", "kid": testKID}, sig)},
		{name: "alg NONE", token: unsigned(map[string]any{"alg": "NONE", "kid": testKID}, "")},
		{name: "HS256 keyed with the RSA public key PEM", token: signed(jwt.SigningMethodHS256, pubPEM, map[string]any{"alg": "HS256", "kid": testKID})},
		{name: "HS256 keyed with the RSA public key DER", token: signed(jwt.SigningMethodHS256, pubDER, map[string]any{"alg": "HS256", "kid": testKID})},
		{name: "HS256 keyed with the JWKS modulus", token: signed(jwt.SigningMethodHS256, []byte(jwttest.B64(main.N.Bytes())), map[string]any{"alg": "HS256", "kid": testKID})},
		{name: "HS256 with a symmetric key published in the JWKS", token: signed(jwt.SigningMethodHS256, octSecret, map[string]any{"alg": "HS256", "kid": "kid-oct"})},
		{name: "RS512 with the right key", token: signed(jwt.SigningMethodRS512, main, map[string]any{"alg": "RS512", "kid": testKID})},
		{name: "PS256 with the right key", token: signed(jwt.SigningMethodPS256, main, map[string]any{"alg": "PS256", "kid": testKID})},
		{name: "ES256 with the real kid", token: signed(jwt.SigningMethodES256, ecKey, map[string]any{"alg": "ES256", "kid": testKID})},
		{name: "alg with trailing space", token: unsigned(map[string]any{"alg": "RS256 ", "kid": testKID}, sig)},
		{name: "alg missing", token: unsigned(map[string]any{"kid": testKID}, sig)},

		// Key selection.
		{name: "kid missing", token: rs(main, map[string]any{"alg": "RS256"}, claims(nil))},
		{name: "kid empty", token: rs(main, rsHeader(""), claims(nil))},
		{name: "kid not a string", token: rs(main, map[string]any{"alg": "RS256", "kid": 1}, claims(nil))},
		{name: "kid unknown", token: rs(other, rsHeader("kid-unknown"), claims(nil))},
		{name: "kid path traversal", token: rs(other, rsHeader("../../../../../../dev/null"), claims(nil))},
		{name: "kid absolute path", token: rs(other, rsHeader("/etc/passwd"), claims(nil))},
		{name: "kid SQL injection", token: rs(other, rsHeader("' OR '1'='1' --"), claims(nil))},
		{name: "kid URL", token: rs(other, rsHeader(attacker.URL), claims(nil))},
		{name: "kid huge", token: rs(other, rsHeader(strings.Repeat("k", 4096)), claims(nil))},
		{name: "jku header pointing to attacker keys", token: rs(other, map[string]any{"alg": "RS256", "kid": "evil", "jku": attacker.URL}, claims(nil))},
		{name: "x5u header pointing to attacker", token: rs(other, map[string]any{"alg": "RS256", "kid": "evil", "x5u": attacker.URL}, claims(nil))},
		{name: "embedded jwk header", token: rs(other, map[string]any{"alg": "RS256", "kid": "evil", "jwk": map[string]any{
			"kty": "RSA", "kid": "evil", "n": jwttest.B64(other.N.Bytes()), "e": "AQAB",
		}}, claims(nil))},
		{name: "valid signature from another key under the real kid", token: rs(other, kidHeader, claims(nil))},
		{name: "1024-bit key published in the JWKS", token: rs(weak, rsHeader("kid-weak"), claims(nil))},
		{name: "unknown crit extension", token: rs(main, map[string]any{"alg": "RS256", "kid": testKID, "crit": []string{"exp"}, "exp": 1}, claims(nil))},

		// Tampering.
		{name: "tampered payload", token: func(t *testing.T) string {
			return hdr + "." + jwttest.B64JSON(t, claims(map[string]any{"sub": "someone-else"})) + "." + sig
		}},
		{name: "tampered payload, groups added", token: func(t *testing.T) string {
			return hdr + "." + jwttest.B64JSON(t, claims(map[string]any{"cognito:groups": []string{"admins", "root"}})) + "." + sig
		}},
		{name: "tampered header", token: func(t *testing.T) string {
			return jwttest.B64JSON(t, map[string]any{"alg": "RS256", "kid": testKID, "typ": "JWT"}) + "." + payload + "." + sig
		}},
		{name: "signature of another token", token: func(t *testing.T) string {
			otherSig := strings.Split(signRS256(t, main, kidHeader, claims(map[string]any{"jti": "other"})), ".")[2]
			return hdr + "." + payload + "." + otherSig
		}},
		{name: "signature truncated", token: raw(hdr + "." + payload + "." + sig[:len(sig)-4])},
		{name: "signature empty", token: raw(hdr + "." + payload + ".")},
		{name: "signature bit flipped", token: raw(hdr + "." + payload + "." + flipChar(sig, len(sig)/2))},
		{name: "signature with non-canonical trailing bits", token: raw(hdr + "." + payload + "." + nonCanonical(sig))},
		{name: "signature padded", token: raw(valid + "==")},

		// Time.
		{name: "expired", expired: true, token: rs(main, kidHeader, claims(map[string]any{"exp": now.Add(-time.Hour).Unix()}))},
		{name: "expired just beyond the leeway", expired: true, token: rs(main, kidHeader, claims(map[string]any{"exp": now.Add(-DefaultLeeway - time.Second).Unix()}))},
		{name: "exp zero", expired: true, token: rs(main, kidHeader, claims(map[string]any{"exp": 0}))},
		{name: "exp missing", token: rs(main, kidHeader, claims(map[string]any{"exp": nil}))},
		{name: "nbf in the future", token: rs(main, kidHeader, claims(map[string]any{"nbf": now.Add(time.Hour).Unix()}))},
		{name: "iat in the future", token: rs(main, kidHeader, claims(map[string]any{"iat": now.Add(time.Hour).Unix()}))},

		// Issuer.
		{name: "wrong iss", token: rs(main, kidHeader, claims(map[string]any{"iss": "https://accounts.example.com"}))},
		{name: "iss of another pool", token: rs(main, kidHeader, claims(map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool"}))},
		{name: "iss with suffix", token: rs(main, kidHeader, claims(map[string]any{"iss": testIssuer + "x"}))},
		{name: "iss with trailing slash", token: rs(main, kidHeader, claims(map[string]any{"iss": testIssuer + "/"}))},
		{name: "iss prefix host trick", token: rs(main, kidHeader, claims(map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_TestPool1"}))},
		{name: "iss as prefix of the issuer", token: rs(main, kidHeader, claims(map[string]any{"iss": testIssuer[:len(testIssuer)-1]}))},
		{name: "iss different case", token: rs(main, kidHeader, claims(map[string]any{"iss": strings.ToUpper(testIssuer)}))},
		{name: "iss missing", token: rs(main, kidHeader, claims(map[string]any{"iss": nil}))},
		{name: "iss as array", token: rs(main, kidHeader, claims(map[string]any{"iss": []string{testIssuer}}))},

		// Token use and client. A genuine id token gets a hint
		// (TestIDTokenAsAccessToken); forged or foreign ones must not.
		{name: "id token signed by another key under the real kid", token: rs(other, kidHeader, idClaims(now))},
		{name: "id token with an unknown kid", token: rs(other, rsHeader("kid-unknown"), idClaims(now))},
		{name: "id token, alg none", token: func(t *testing.T) string {
			return jwttest.B64JSON(t, map[string]any{"alg": "none", "kid": testKID}) + "." + jwttest.B64JSON(t, idClaims(now)) + "."
		}},
		{name: "id token, HS256 keyed with the RSA public key PEM", token: func(t *testing.T) string {
			return jwttest.SignRaw(t, jwt.SigningMethodHS256, pubPEM, jwttest.B64JSON(t, map[string]any{"alg": "HS256", "kid": testKID}), jwttest.B64JSON(t, idClaims(now)))
		}},
		{name: "id token, signature bit flipped", token: func(t *testing.T) string {
			tok := signRS256(t, main, kidHeader, idClaims(now))
			return tok[:len(tok)-10] + flipChar(tok[len(tok)-10:], 0)
		}},
		{name: "access token payload swapped for an id token's", token: func(t *testing.T) string {
			return hdr + "." + jwttest.B64JSON(t, idClaims(now)) + "." + sig
		}},
		{name: "id token of another client", token: rs(main, kidHeader, jwttest.With(idClaims(now), map[string]any{"aud": "client-z"}))},
		{name: "id token without aud", token: rs(main, kidHeader, jwttest.With(idClaims(now), map[string]any{"aud": nil}))},
		{name: "id token of another issuer", token: rs(main, kidHeader, jwttest.With(idClaims(now), map[string]any{"iss": "https://accounts.example.com"}))},
		{name: "id token without sub", token: rs(main, kidHeader, jwttest.With(idClaims(now), map[string]any{"sub": nil}))},
		{name: "id token, nbf in the future", token: rs(main, kidHeader, jwttest.With(idClaims(now), map[string]any{"nbf": now.Add(time.Hour).Unix()}))},
		{name: "expired id token", expired: true, token: rs(main, kidHeader, jwttest.With(idClaims(now), map[string]any{"exp": now.Add(-time.Hour).Unix()}))},
		{name: "token_use missing", token: rs(main, kidHeader, claims(map[string]any{"token_use": nil}))},
		{name: "token_use Access", token: rs(main, kidHeader, claims(map[string]any{"token_use": "Access"}))},
		{name: "token_use refresh", token: rs(main, kidHeader, claims(map[string]any{"token_use": "refresh"}))},
		{name: "token_use as array", token: rs(main, kidHeader, claims(map[string]any{"token_use": []string{"access"}}))},
		{name: "wrong client_id", token: rs(main, kidHeader, claims(map[string]any{"client_id": "client-z"}))},
		{name: "client_id with suffix", token: rs(main, kidHeader, claims(map[string]any{"client_id": testClient + "x"}))},
		{name: "client_id missing", token: rs(main, kidHeader, claims(map[string]any{"client_id": nil}))},
		{name: "client only in aud", token: rs(main, kidHeader, claims(map[string]any{"client_id": nil, "aud": testClient}))},

		// Subject.
		{name: "sub missing", token: rs(main, kidHeader, claims(map[string]any{"sub": nil}))},
		{name: "sub empty", token: rs(main, kidHeader, claims(map[string]any{"sub": ""}))},
		{name: "sub not a string", token: rs(main, kidHeader, claims(map[string]any{"sub": 42}))},

		// Size and structure.
		{name: "over 16 KiB with a valid signature", token: rs(main, kidHeader, claims(map[string]any{"pad": strings.Repeat("a", MaxTokenSize)}))},
		{name: "over 16 KiB of garbage", token: raw(strings.Repeat("A", MaxTokenSize+1))},
		{name: "empty", token: raw("")},
		{name: "whitespace", token: raw("   ")},
		{name: "Bearer prefix left on", token: raw("Bearer " + valid)},
		{name: "lowercase bearer prefix left on", token: raw("bearer " + valid)},
		{name: "trailing newline", token: raw(valid + "\n")},
		{name: "line break inside the signature", token: raw(hdr + "." + payload + "." + sig[:100] + "\r\n" + sig[100:])},
		{name: "NUL byte", token: raw(hdr + "." + payload + "\x00." + sig)},
		{name: "one segment", token: raw(hdr)},
		{name: "two segments", token: raw(hdr + "." + payload)},
		{name: "trailing dot", token: raw(valid + ".")},
		{name: "extra segments", token: raw(valid + "." + sig)},
		{name: "JWE-shaped, 5 segments", token: func(t *testing.T) string {
			h := jwttest.B64JSON(t, map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": testKID})
			return h + "." + jwttest.B64([]byte("encrypted-key")) + "." + jwttest.B64([]byte("iv")) + "." + payload + "." + jwttest.B64([]byte("tag"))
		}},
		{name: "dots only", token: raw("..")},
		{name: "non-base64 header", token: raw("!!!." + payload + "." + sig)},
		{name: "non-base64 payload", token: raw(hdr + ".%%%." + sig)},
		{name: "non-base64 signature", token: raw(hdr + "." + payload + ".***")},
		{name: "standard base64 alphabet", token: raw(hdr + "." + payload + "." + strings.NewReplacer("-", "+", "_", "/").Replace(sig) + "+/")},
		{name: "non-ASCII in header", token: raw("é" + hdr + "." + payload + "." + sig)},
		{name: "header not JSON", token: raw(jwttest.B64([]byte("not json")) + "." + payload + "." + sig)},
		{name: "header JSON null", token: raw(jwttest.B64([]byte("null")) + "." + payload + "." + sig)},
		{name: "payload JSON array", token: func(t *testing.T) string {
			return jwttest.SignRaw(t, jwt.SigningMethodRS256, main, hdr, jwttest.B64([]byte(`["sub"]`)))
		}},
		{name: "signed payload JSON null", token: func(t *testing.T) string {
			return jwttest.SignRaw(t, jwt.SigningMethodRS256, main, hdr, jwttest.B64([]byte("null")))
		}},
		{name: "signed payload empty object", token: func(t *testing.T) string {
			return jwttest.SignRaw(t, jwt.SigningMethodRS256, main, hdr, jwttest.B64([]byte("{}")))
		}},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d forged cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token(t)
			var p domain.Principal
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Verify panicked: %v", r)
					}
				}()
				p, err = f.v.Verify(t.Context(), tok)
			}()
			wantCode(t, err, domain.Unauthenticated)
			msg := domain.ErrorMessage(err)
			if tc.expired && msg != msgExpired || !tc.expired && msg != msgInvalid {
				t.Fatalf("message = %q", msg)
			}
			if p.UserID != "" || p.ClientID != "" {
				t.Fatalf("refused token returned a principal: %+v", p)
			}
		})
	}
	if n := f.src.calls.Load(); n != 1 {
		t.Fatalf("forged tokens caused %d JWKS fetches, want 1 (the first)", n)
	}
	if n := attackerFetches.Load(); n != 0 {
		t.Fatalf("the verifier fetched a token-supplied URL %d times", n)
	}
	// The table's fixture still accepts a genuine token afterwards.
	if _, err := f.v.Verify(t.Context(), valid); err != nil {
		t.Fatalf("baseline token refused after the table: %v", err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flipChar changes the base64url character at i to another valid one.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// nonCanonical sets the unused low bits of the last base64url character,
// which a lenient decoder ignores.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}
