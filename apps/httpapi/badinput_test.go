package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

// chunked hides a body's length, so it is sent with chunked encoding and the
// server only learns its size while reading.
type chunked struct{ io.Reader }

// TestBadInputIsNever500 sends malformed requests of every kind: each gets a
// 4xx problem with the right code (and, through the validating client, one
// the document lists), never a 500.
func TestBadInputIsNever500(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("eve")
	post := en.do(req{method: "POST", path: "/v1/posts", token: u.token, body: map[string]any{"body": "hi"}}).
		want(t, http.StatusCreated).obj(t)
	postID := post["id"].(string)
	big := `{"email":"` + strings.Repeat("a", 70<<10) + `"}`
	otherListCursor := "" // a posts cursor used for comments
	for range 3 {
		en.do(req{method: "POST", path: "/v1/posts", token: u.token, body: map[string]any{"body": "more"}}).want(t, http.StatusCreated)
	}
	var pg struct{ NextCursor *string }
	en.do(req{method: "GET", path: "/v1/posts?limit=1", token: u.token}).want(t, http.StatusOK).json(t, &pg)
	if pg.NextCursor == nil {
		t.Fatal("no next cursor")
	}
	otherListCursor = *pg.NextCursor

	cases := []struct {
		name   string
		r      req
		status int
		code   domain.Code
		detail string // a substring of the problem's detail
	}{
		{"malformed JSON", req{method: "POST", path: "/v1/auth/signup", body: `{"email":`}, 400, domain.Invalid, "not valid JSON"},
		{"not JSON", req{method: "POST", path: "/v1/auth/signin", body: `hello`}, 400, domain.Invalid, "not valid JSON"},
		{"trailing data", req{method: "POST", path: "/v1/auth/signin", body: `{"email":"a@b.co","password":"x"} {}`}, 400, domain.Invalid, "single JSON value"},
		{"empty body", req{method: "POST", path: "/v1/auth/signin", body: ``}, 400, domain.Invalid, "required"},
		{"array body", req{method: "POST", path: "/v1/auth/signin", body: `[]`}, 400, domain.Invalid, "must be an object"},
		{"unknown field", req{method: "POST", path: "/v1/auth/signup", body: `{"email":"a@b.co","password":"secret123","displayName":"A","admin":true}`}, 400, domain.Invalid, `"admin"`},
		{"wrong type string", req{method: "POST", path: "/v1/auth/signup", body: `{"email":5,"password":"secret123","displayName":"A"}`}, 400, domain.Invalid, `"email" must be a string`},
		{"wrong type integer", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"post","contentType":"image/png","size":"10"}`}, 400, domain.Invalid, `"size" must be an integer`},
		{"fractional integer", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"post","contentType":"image/png","size":1.5}`}, 400, domain.Invalid, `"size"`},
		{"huge integer", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"post","contentType":"image/png","size":1e400}`}, 400, domain.Invalid, ""},
		{"wrong type array", req{method: "POST", path: "/v1/posts", token: u.token, body: `{"body":"x","mediaIds":"abc"}`}, 400, domain.Invalid, `"mediaIds" must be an array`},
		{"wrong type bool", req{method: "POST", path: "/v1/notifications/read", token: u.token, body: `{"all":"yes"}`}, 400, domain.Invalid, `"all" must be a boolean`},
		{"wrong type in optional", req{method: "PATCH", path: "/v1/me", token: u.token, body: `{"bio":42}`}, 400, domain.Invalid, `bio`},
		{"null displayName", req{method: "PATCH", path: "/v1/me", token: u.token, body: `{"displayName":null}`}, 400, domain.Invalid, `"displayName" must not be null`},
		{"null post body", req{method: "PATCH", path: "/v1/posts/" + postID, token: u.token, body: `{"body":null}`}, 400, domain.Invalid, `"body" must not be null`},
		{"text/plain", req{method: "POST", path: "/v1/auth/signin", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, domain.UnsupportedMediaType, "application/json"},
		{"no content type", req{method: "POST", path: "/v1/auth/signin", body: `{}`, header: map[string]string{"Content-Type": ""}}, 415, domain.UnsupportedMediaType, ""},
		{"latin1 JSON", req{method: "POST", path: "/v1/auth/signin", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}}, 415, domain.UnsupportedMediaType, ""},
		{"form post", req{method: "POST", path: "/v1/posts", token: u.token, body: `body=x`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, domain.UnsupportedMediaType, ""},
		{"oversized body", req{method: "POST", path: "/v1/auth/signup", body: big}, 413, domain.TooLarge, ""},
		{"oversized chunked body", req{method: "POST", path: "/v1/auth/signup", body: chunked{strings.NewReader(big)}}, 413, domain.TooLarge, ""},
		{"no token", req{method: "GET", path: "/v1/posts"}, 401, domain.Unauthenticated, ""},
		{"garbage token", req{method: "GET", path: "/v1/posts", token: "x.y.z"}, 401, domain.Unauthenticated, ""},
		{"unknown route", req{method: "GET", path: "/v1/nope"}, 404, domain.NotFound, "no such route"},
		{"unknown nested route", req{method: "GET", path: "/v1/posts/" + postID + "/likes", token: u.token}, 404, domain.NotFound, ""},
		{"trailing slash", req{method: "GET", path: "/v1/me/", token: u.token}, 404, domain.NotFound, ""},
		{"wrong method", req{method: "PUT", path: "/v1/me", token: u.token, body: `{}`}, 405, domain.Invalid, "method not allowed"},
		{"wrong method on auth", req{method: "GET", path: "/v1/auth/signin"}, 405, domain.Invalid, ""},
		{"DELETE on GET route", req{method: "DELETE", path: "/healthz"}, 405, domain.Invalid, ""},
		{"malformed id", req{method: "GET", path: "/v1/posts/not%20an%20id", token: u.token}, 404, domain.NotFound, ""},
		{"long id", req{method: "GET", path: "/v1/posts/" + strings.Repeat("a", 100), token: u.token}, 404, domain.NotFound, ""},
		{"unknown id", req{method: "GET", path: "/v1/posts/0190a0a0-0000-7000-8000-000000000000", token: u.token}, 404, domain.NotFound, ""},
		{"bad cursor", req{method: "GET", path: "/v1/posts?cursor=%21%21%21", token: u.token}, 400, domain.Invalid, "cursor"},
		{"cursor of another list", req{method: "GET", path: "/v1/posts/" + postID + "/comments?cursor=" + otherListCursor, token: u.token}, 400, domain.Invalid, "cursor"},
		{"cursor of another author", req{method: "GET", path: "/v1/posts?author=" + u.id + "&cursor=" + otherListCursor, token: u.token}, 400, domain.Invalid, "cursor"},
		{"bad sync cursor", req{method: "GET", path: "/v1/sync?cursor=garbage", token: u.token}, 400, domain.Invalid, "cursor"},
		{"bad notifications cursor", req{method: "GET", path: "/v1/notifications?cursor=AAAA", token: u.token}, 400, domain.Invalid, "cursor"},
		{"limit zero", req{method: "GET", path: "/v1/posts?limit=0", token: u.token}, 400, domain.Invalid, "limit"},
		{"limit too big", req{method: "GET", path: "/v1/posts?limit=101", token: u.token}, 400, domain.Invalid, "limit"},
		{"limit not a number", req{method: "GET", path: "/v1/notifications?limit=ten", token: u.token}, 400, domain.Invalid, "limit"},
		{"limit negative", req{method: "GET", path: "/v1/posts/" + postID + "/comments?limit=-1", token: u.token}, 400, domain.Invalid, "limit"},
		{"weak If-Match", req{method: "PATCH", path: "/v1/me", token: u.token, body: `{"bio":"x"}`, header: map[string]string{"If-Match": `W/"1"`}}, 400, domain.Invalid, "If-Match"},
		{"garbage If-Match", req{method: "PATCH", path: "/v1/posts/" + postID, token: u.token, body: `{"body":"x"}`, header: map[string]string{"If-Match": "abc"}}, 400, domain.Invalid, "If-Match"},
		{"zero If-Match", req{method: "PATCH", path: "/v1/posts/" + postID, token: u.token, body: `{"body":"x"}`, header: map[string]string{"If-Match": `"0"`}}, 400, domain.Invalid, "If-Match"},
		{"bad email", req{method: "POST", path: "/v1/auth/forgot", body: `{"email":"not an email"}`}, 400, domain.Invalid, "email"},
		{"mark read without ids", req{method: "POST", path: "/v1/notifications/read", token: u.token, body: `{}`}, 400, domain.Invalid, ""},
		{"post body too long", req{method: "POST", path: "/v1/posts", token: u.token, body: `{"body":"` + strings.Repeat("x", 5001) + `"}`}, 400, domain.Invalid, "body"},
		{"too many media", req{method: "POST", path: "/v1/posts", token: u.token, body: `{"body":"x","mediaIds":["1","2","3","4","5","6","7","8","9","10","11"]}`}, 400, domain.Invalid, "media"},
		{"control characters", req{method: "PATCH", path: "/v1/me", token: u.token, body: `{"displayName":"a\u0000b"}`}, 400, domain.Invalid, "control"},
		{"upload type", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"post","contentType":"image/svg+xml","size":10}`}, 415, domain.UnsupportedMediaType, ""},
		{"upload too large", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"post","contentType":"image/png","size":1073741824}`}, 413, domain.TooLarge, ""},
		{"upload empty", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"post","contentType":"image/png","size":0}`}, 400, domain.Invalid, "size"},
		{"upload purpose", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"banner","contentType":"image/png","size":10}`}, 400, domain.Invalid, "purpose"},
		{"malformed query", req{method: "GET", path: "/v1/posts?cursor=%%%garbage", token: u.token}, 400, domain.Invalid, `query string is malformed: invalid URL escape "%%%"`},
		{"malformed query on sync", req{method: "GET", path: "/v1/sync?cursor=%zz", token: u.token}, 400, domain.Invalid, "query string is malformed"},
		{"malformed query on healthz", req{method: "GET", path: "/healthz?probe=%zz"}, 400, domain.Invalid, "query string is malformed"},
		{"repeated parameter on getMe", req{method: "GET", path: "/v1/me?x=1&x=2", token: u.token}, 400, domain.Invalid, `"x" must be given once`},
		{"repeated limit", req{method: "GET", path: "/v1/posts?limit=1&limit=1000", token: u.token}, 400, domain.Invalid, `query parameter "limit" must be given once`},
		{"repeated cursor", req{method: "GET", path: "/v1/notifications?cursor=a&cursor=b", token: u.token}, 400, domain.Invalid, `"cursor" must be given once`},
		{"limit with plus", req{method: "GET", path: "/v1/posts?limit=%2B5", token: u.token}, 400, domain.Invalid, "limit"},
		{"limit with space", req{method: "GET", path: "/v1/posts?limit=+5", token: u.token}, 400, domain.Invalid, "limit"},
		{"member name case", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"PURPOSE":"post","contentType":"image/png","size":10}`}, 400, domain.Invalid, `unknown field "PURPOSE"`},
		{"duplicate member", req{method: "POST", path: "/v1/uploads", token: u.token, body: `{"purpose":"avatar","contentType":"image/png","size":10,"purpose":"post"}`}, 400, domain.Invalid, `field "purpose" appears more than once`},
		{"invalid UTF-8", req{method: "POST", path: "/v1/posts", token: u.token, body: "{\"body\":\"caf\xe9\"}"}, 400, domain.Invalid, `field "body" is not valid UTF-8`},
		{"lone surrogate", req{method: "POST", path: "/v1/posts", token: u.token, body: `{"body":"\ud83d"}`}, 400, domain.Invalid, `field "body" is not valid Unicode`},
		{"null PATCH me", req{method: "PATCH", path: "/v1/me", token: u.token, body: `null`}, 400, domain.Invalid, "must be a JSON object, not null"},
		{"null PATCH post", req{method: "PATCH", path: "/v1/posts/" + postID, token: u.token, body: `null`}, 400, domain.Invalid, "not null"},
		{"invisible post", req{method: "POST", path: "/v1/posts", token: u.token, body: `{"body":"\u200d\u200b\u2060"}`}, 400, domain.Invalid, "body must contain a visible character"},
		{"invisible post edit", req{method: "PATCH", path: "/v1/posts/" + postID, token: u.token, body: `{"body":"\u2060\n\u200b"}`}, 400, domain.Invalid, "visible character"},
		{"invisible comment", req{method: "POST", path: "/v1/posts/" + postID + "/comments", token: u.token, body: `{"body":"\u3164"}`}, 400, domain.Invalid, "body must contain a visible character"},
		{"bidi override name", req{method: "PATCH", path: "/v1/me", token: u.token, body: `{"displayName":"\u202e"}`}, 400, domain.Invalid, "displayName"},
		{"invisible name at sign-up", req{method: "POST", path: "/v1/auth/signup", body: `{"email":"zw@example.com","password":"secret123","displayName":"\u200b\u200b"}`}, 400, domain.Invalid, "displayName must contain a visible character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := en.do(tc.r).problem(t, tc.status, tc.code)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", p.Detail, tc.detail)
			}
		})
	}
	// A 405 says which methods the route has.
	r := en.do(req{method: "PUT", path: "/v1/me", token: u.token, body: `{}`})
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "DELETE") {
		t.Errorf("Allow %q", allow)
	}
}
