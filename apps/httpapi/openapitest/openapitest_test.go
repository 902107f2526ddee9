package openapitest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/apps/httpapi/openapitest"
)

// TestCheck proves the validator rejects the kinds of drift it exists to
// catch, and accepts conforming exchanges.
func TestCheck(t *testing.T) {
	v := openapitest.New(t)
	const problem = `{"type":"about:blank","title":"Not Found","status":404,"detail":"x","code":"NotFound","requestId":"r1"}`
	const profile = `{"id":"u1","email":"a@b.co","displayName":"A","bio":"","image":null,"createdAt":"2026-01-02T03:04:05.000Z","updatedAt":"2026-01-02T03:04:05.000Z","version":1}`
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	jsonHdr := hdr("Content-Type", "application/json", "X-Request-Id", "r1", "ETag", `"1"`)
	problemHdr := hdr("Content-Type", "application/problem+json", "X-Request-Id", "r1")
	authed := func(method, target, body string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	cases := []struct {
		name   string
		req    *http.Request
		body   string
		status int
		header http.Header
		resp   string
		ok     bool
	}{
		{"conforming", authed("GET", "/v1/me", ""), "", 200, jsonHdr, profile, true},
		{"undocumented status", authed("GET", "/v1/me", ""), "", 418, problemHdr, strings.Replace(problem, "404", "418", 1), false},
		{"no request id", authed("GET", "/v1/me", ""), "", 200, hdr("Content-Type", "application/json", "ETag", `"1"`), profile, false},
		{"no etag", authed("GET", "/v1/me", ""), "", 200, hdr("Content-Type", "application/json", "X-Request-Id", "r1"), profile, false},
		{"extra field", authed("GET", "/v1/me", ""), "", 200, jsonHdr, strings.Replace(profile, `"bio":""`, `"bio":"","secret":1`, 1), false},
		{"missing field", authed("GET", "/v1/me", ""), "", 200, jsonHdr, strings.Replace(profile, `"bio":"",`, ``, 1), false},
		{"time without millis", authed("GET", "/v1/me", ""), "", 200, jsonHdr, strings.Replace(profile, "05.000Z", "05Z", 1), false},
		{"invalid request accepted", authed("POST", "/v1/notifications/read", `{"bogus":1}`), `{"bogus":1}`, 204, hdr("X-Request-Id", "r1"), "", false},
		{"invalid request refused", authed("POST", "/v1/notifications/read", `{"bogus":1}`), `{"bogus":1}`, 400, problemHdr, strings.Replace(problem, "404", "400", 1), true},
		{"missing token accepted", httptest.NewRequest("GET", "/v1/me", nil), "", 200, jsonHdr, profile, false},
		{"unknown route as 404 problem", httptest.NewRequest("GET", "/v1/nope", nil), "", 404, problemHdr, problem, true},
		{"unknown route as 200", httptest.NewRequest("GET", "/v1/nope", nil), "", 200, jsonHdr, `{}`, false},
		{"unknown route, plain 404", httptest.NewRequest("GET", "/v1/nope", nil), "", 404, hdr("Content-Type", "text/plain", "X-Request-Id", "r1"), "404 page not found", false},
		{"problem status mismatch", httptest.NewRequest("GET", "/v1/nope", nil), "", 405, problemHdr, problem, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Check(tc.req, []byte(tc.body), tc.status, tc.header, []byte(tc.resp))
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
