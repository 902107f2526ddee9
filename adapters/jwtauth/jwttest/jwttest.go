// Package jwttest builds raw, possibly malicious JWTs for the verifier
// tests of jwtauth and cognitoauth (forged headers, payloads and
// signatures that no well-behaved library would produce).
package jwttest

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// B64 is base64url without padding, the encoding of JWT segments.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// B64JSON encodes v as JSON, then B64.
func B64JSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return B64(raw)
}

// SignRaw builds a compact JWS from already encoded header and payload
// segments, signed with method and key.
func SignRaw(t testing.TB, method jwt.SigningMethod, key any, header, payload string) string {
	t.Helper()
	sig, err := method.Sign(header+"."+payload, key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return header + "." + payload + "." + B64(sig)
}

// With returns a copy of claims with the changes applied (a nil value
// deletes the claim).
func With(claims, changes map[string]any) map[string]any {
	out := make(map[string]any, len(claims)+len(changes))
	for k, v := range claims {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
