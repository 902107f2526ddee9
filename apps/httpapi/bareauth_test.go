package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/mocks"
)

// TestBareAccessToken: `Authorization: <accessToken>` with no scheme, as
// the Flutter client sends it (API Gateway's Cognito authorizers accept
// it), is verified exactly like `Bearer <accessToken>`; other schemes and
// anything that is not a JWT stay 401.
func TestBareAccessToken(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("flo")
	// openapi.yaml documents only the Bearer form, so its validating client
	// would flag the bare one: these requests go around it.
	raw := en.srv.Client()
	get := func(authorization string) *resp {
		t.Helper()
		return en.doWith(raw, req{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": authorization}})
	}
	for _, h := range []string{u.token, "Bearer " + u.token} {
		r := get(h).want(t, http.StatusOK)
		if !strings.Contains(string(r.body), u.id) {
			t.Fatalf("GET /v1/me with %.10s...: %s", h, r.body)
		}
	}
	parts := strings.Split(u.token, ".")
	for name, h := range map[string]string{
		"basic":                "Basic " + u.token,
		"token scheme":         "Token " + u.token,
		"bearer with a colon":  "Bearer: " + u.token,
		"tab after the scheme": "Bearer\t" + u.token,
		"bare with trailing":   u.token + " x",
		"two segments":         parts[0] + "." + parts[1],
		"four segments":        u.token + "." + parts[2],
		"empty signature":      parts[0] + "." + parts[1] + ".",
		"empty header":         "." + parts[1] + "." + parts[2],
		"empty payload":        parts[0] + ".." + parts[2],
		"standard base64":      parts[0] + "." + parts[1] + "." + parts[2] + "+/",
		"not a JWT":            "garbage",
		"tampered bare":        parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA",
		"huge bare":            parts[0] + "." + strings.Repeat("a", 20000) + "." + parts[2],
		"bare refresh token":   u.refresh,
		"JWT-shaped garbage":   "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			r := get(h)
			p := r.problem(t, http.StatusUnauthorized, domain.Unauthenticated)
			if strings.Contains(p.Detail, "token_use") {
				t.Errorf("detail %q hints at the token use of a token that is not a genuine id token", p.Detail)
			}
			if r.header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}

	// A genuine id token, bare or as a bearer token, is refused with a
	// detail that says what to send; a forged one gets no hint.
	idParts := strings.Split(u.idToken, ".")
	for _, h := range []string{u.idToken, "Bearer " + u.idToken, "bearer " + u.idToken} {
		p := get(h).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
		if p.Detail != "token_use is id: send the access token" {
			t.Errorf("id token: detail %q", p.Detail)
		}
	}
	for name, tok := range map[string]string{
		"id token with the access token's signature": idParts[0] + "." + idParts[1] + "." + parts[2],
		"id token signature tampered":                idParts[0] + "." + idParts[1] + "." + idParts[2][:len(idParts[2])-4] + "AAAA",
	} {
		p := get("Bearer "+tok).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
		if p.Detail != "invalid token" {
			t.Errorf("%s: detail %q", name, p.Detail)
		}
	}
}

// TestBareTokenReachesTheVerifierUnchanged: a bare token is handed to the
// verifier as is, exactly like the token of a Bearer header; other schemes
// never reach it.
func TestBareTokenReachesTheVerifierUnchanged(t *testing.T) {
	ctrl := gomock.NewController(t)
	v := mocks.NewMockTokenVerifier(ctrl)
	en := newEnv(t, func(d *httpapi.Deps) { d.Verifier = v })
	raw := en.srv.Client()
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	v.EXPECT().Verify(gomock.Any(), tok).Return(domain.Principal{}, domain.Errorf(domain.Unauthenticated, "invalid token")).Times(2)
	for _, h := range []string{tok, "Bearer " + tok} {
		en.doWith(raw, req{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": h}}).
			problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	}
	for _, h := range []string{"Basic " + tok, "Token " + tok, "Digest " + tok} {
		en.doWith(raw, req{method: "GET", path: "/v1/me", header: map[string]string{"Authorization": h}}).
			problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	}
}
