package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// startServer starts the Echo server app (apps/fxmodules.Server, the local
// server) with deterministic ids and clock and serves its Echo instance
// over TLS, as API Gateway serves the Lambda app.
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	var e *echo.Echo
	app := fx.New(fxmodules.Server(testConfig(t)), deterministic(), fx.Invoke(testRoutes), fx.Populate(&e))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	srv := httptest.NewTLSServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func serverDo(t testing.TB, srv *httptest.Server, x exchange) result {
	t.Helper()
	req, err := http.NewRequest(x.Method, srv.URL+x.Target, bytes.NewReader(x.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range x.Header {
		req.Header[k] = vs
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{Status: res.StatusCode, Header: res.Header, Body: body}
}

// comparedHeaders are the response headers that must match between the
// server and Lambda (Date and Content-Length are API Gateway's business).
var comparedHeaders = []string{
	"Content-Type", "Etag", "Location", "Cache-Control", "Vary", "Www-Authenticate", "Retry-After",
	"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy",
	"Strict-Transport-Security", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
	"Access-Control-Allow-Credentials", "X-Multi",
}

// maskedKeys hold values that differ per app instance by design: random
// request ids and tokens signed with each instance's own key.
var maskedKeys = []string{"requestId", "accessToken", "idToken", "refreshToken"}

type step struct {
	name string
	req  func(v map[string]string) exchange
	// want is the status every transport must answer.
	want int
	// capture reads values later steps use (per transport).
	capture func(t *testing.T, v map[string]string, r result)
	// mask are extra JSON keys whose values differ per instance.
	mask []string
}

func jsonReq(method, target string, body any, hdr ...string) exchange {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	var b []byte
	if body != nil {
		if s, ok := body.(string); ok {
			b = []byte(s)
		} else {
			var err error
			if b, err = json.Marshal(body); err != nil {
				panic(err)
			}
		}
		h.Set("Content-Type", "application/json")
	}
	return exchange{Method: method, Target: target, Header: h, Body: b}
}

func bearer(v map[string]string, x exchange) exchange {
	x.Header.Set("Authorization", "Bearer "+v["access"])
	return x
}

func decodeInto(t testing.TB, r result, out any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
}

// paritySteps is a representative walk over the API: public and
// authenticated routes, every kind of error, CORS, conditional requests,
// query and path encoding, a base64-encoded request body, and the test
// routes for cookies, repeated headers and binary bodies.
func paritySteps() []step {
	alice := map[string]string{"email": "alice@example.com", "password": "s3cret-pass", "displayName": "Alice"}
	binary := []byte{0, 0xff, 0xfe, 'a', 0x80, '\n', 0x7f}
	return []step{
		{name: "healthz", want: 200, req: func(map[string]string) exchange { return jsonReq("GET", "/healthz", nil) }},
		{name: "readyz", want: 200, req: func(map[string]string) exchange { return jsonReq("GET", "/readyz", nil) }},
		{name: "openapi", want: 200, req: func(map[string]string) exchange { return jsonReq("GET", "/openapi.yaml", nil) }},
		{name: "signup", want: 201, req: func(map[string]string) exchange { return jsonReq("POST", "/v1/auth/signup", alice) }},
		{name: "signup taken", want: 409, req: func(map[string]string) exchange { return jsonReq("POST", "/v1/auth/signup", alice) }},
		{name: "signup malformed", want: 400, req: func(map[string]string) exchange { return jsonReq("POST", "/v1/auth/signup", `{"email":`) }},
		{name: "signup unknown field", want: 400, req: func(map[string]string) exchange {
			return jsonReq("POST", "/v1/auth/signup", `{"email":"b@example.com","password":"s3cret-pass","displayName":"B","admin":true}`)
		}},
		{name: "dev mail", want: 200, mask: []string{"code"},
			req: func(map[string]string) exchange { return jsonReq("GET", "/v1/dev/mail?to=alice%40example.com", nil) },
			capture: func(t *testing.T, v map[string]string, r result) {
				var m struct{ Messages []struct{ Code string } }
				decodeInto(t, r, &m)
				if len(m.Messages) == 0 {
					t.Fatalf("no mail: %s", r.Body)
				}
				v["code"] = m.Messages[0].Code
			}},
		{name: "confirm", want: 204, req: func(v map[string]string) exchange {
			return jsonReq("POST", "/v1/auth/confirm", map[string]string{"email": "alice@example.com", "code": v["code"]})
		}},
		{name: "signin", want: 200,
			req: func(map[string]string) exchange {
				return jsonReq("POST", "/v1/auth/signin", map[string]string{"email": "alice@example.com", "password": "s3cret-pass"})
			},
			capture: func(t *testing.T, v map[string]string, r result) {
				var tk struct{ AccessToken, RefreshToken string }
				decodeInto(t, r, &tk)
				v["access"], v["refresh"] = tk.AccessToken, tk.RefreshToken
			}},
		{name: "me without token", want: 401, req: func(map[string]string) exchange { return jsonReq("GET", "/v1/me", nil) }},
		{name: "me with a bad token", want: 401, req: func(map[string]string) exchange {
			return jsonReq("GET", "/v1/me", nil, "Authorization", "Bearer not.a.token")
		}},
		{name: "me", want: 200, req: func(v map[string]string) exchange { return bearer(v, jsonReq("GET", "/v1/me", nil)) }},
		{name: "me from a browser origin", want: 200, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/me", nil, "Origin", "https://app.example.com"))
		}},
		{name: "me from a foreign origin", want: 200, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/me", nil, "Origin", "https://evil.example.net"))
		}},
		{name: "preflight", want: 204, req: func(map[string]string) exchange {
			return jsonReq("OPTIONS", "/v1/posts", nil, "Origin", "https://app.example.com",
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
		}},
		{name: "patch me", want: 200, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("PATCH", "/v1/me", map[string]string{"bio": "Hi ✓"}, "If-Match", `"1"`))
		}},
		{name: "patch me stale", want: 412, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("PATCH", "/v1/me", map[string]string{"bio": "again"}, "If-Match", `"1"`))
		}},
		{name: "create post (base64 body)", want: 201,
			req: func(v map[string]string) exchange {
				x := bearer(v, jsonReq("POST", "/v1/posts", map[string]any{"body": "Hello from everywhere ☁"}))
				x.Base64 = true
				return x
			},
			capture: func(t *testing.T, v map[string]string, r result) {
				var p struct{ ID string }
				decodeInto(t, r, &p)
				v["post"] = p.ID
			}},
		{name: "get post", want: 200, req: func(v map[string]string) exchange { return bearer(v, jsonReq("GET", "/v1/posts/"+v["post"], nil)) }},
		{name: "get post with a request id", want: 200, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/posts/"+v["post"], nil, "X-Request-Id", "parity-req-1"))
		}},
		{name: "get post with an encoded id", want: 404, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/posts/no%20such%3Apost", nil))
		}},
		{name: "list posts, repeated query", want: 400, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/posts?limit=1&limit=5&author="+v["post"][:0], nil))
		}},
		{name: "list posts, bad limit", want: 400, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/posts?limit=zero", nil))
		}},
		{name: "comment", want: 201, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("POST", "/v1/posts/"+v["post"]+"/comments", map[string]string{"body": "first"}))
		}},
		{name: "list comments", want: 200, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("GET", "/v1/posts/"+v["post"]+"/comments", nil))
		}},
		{name: "sync", want: 200, req: func(v map[string]string) exchange { return bearer(v, jsonReq("GET", "/v1/sync", nil)) }},
		{name: "upload", want: 201, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("POST", "/v1/uploads", map[string]any{"purpose": "post", "contentType": "image/png", "size": 1234}))
		}},
		{name: "upload of a forbidden type", want: 415, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("POST", "/v1/uploads", map[string]any{"purpose": "post", "contentType": "image/svg+xml", "size": 1234}))
		}},
		{name: "body too large", want: 413, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("POST", "/v1/posts", `{"body":"`+strings.Repeat("x", 70<<10)+`"}`))
		}},
		{name: "unknown route", want: 404, req: func(map[string]string) exchange { return jsonReq("GET", "/v1/nope", nil) }},
		{name: "wrong method", want: 405, req: func(map[string]string) exchange { return jsonReq("PUT", "/healthz", nil) }},
		{name: "cookies and repeated headers", want: 200, req: func(map[string]string) exchange {
			return jsonReq("GET", "/test/cookies?a=1&b=x%20y", nil, "Cookie", "c1=v1; c2=v2", "X-Multi", "a", "X-Multi", "b")
		}},
		{name: "binary body both ways", want: 200, req: func(map[string]string) exchange {
			return exchange{Method: "POST", Target: "/test/bytes", Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: binary}
		}},
		{name: "binary response", want: 200, req: func(map[string]string) exchange { return jsonReq("GET", "/test/png", nil) }},
		{name: "delete post", want: 204, req: func(v map[string]string) exchange { return bearer(v, jsonReq("DELETE", "/v1/posts/"+v["post"], nil)) }},
		{name: "post is gone", want: 404, req: func(v map[string]string) exchange { return bearer(v, jsonReq("GET", "/v1/posts/"+v["post"], nil)) }},
		{name: "sign out", want: 204, req: func(v map[string]string) exchange {
			return bearer(v, jsonReq("POST", "/v1/auth/signout", map[string]string{"refreshToken": v["refresh"]}))
		}},
		{name: "refresh after sign-out", want: 401, req: func(v map[string]string) exchange {
			return jsonReq("POST", "/v1/auth/refresh", map[string]string{"refreshToken": v["refresh"]})
		}},
	}
}

// TestParity sends the same requests through the Echo server (net/http
// over TLS) and through the Lambda handler as HTTP API events, each
// against its own app with deterministic ids and clock, and requires the
// same status, headers that matter and bodies.
func TestParity(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	v2App := startApp(t, testConfig(t), functions.HandlerAPI, deterministic(), fx.Invoke(testRoutes))
	type transport struct {
		name string
		do   func(exchange) result
		vars map[string]string
	}
	transports := []*transport{
		{name: "server", do: func(x exchange) result { return serverDo(t, srv, x) }, vars: map[string]string{}},
		{name: "lambda", do: func(x exchange) result { return invokeV2(t, v2App, x) }, vars: map[string]string{}},
	}
	for _, s := range paritySteps() {
		results := make([]result, len(transports))
		for i, tr := range transports {
			r := tr.do(s.req(tr.vars))
			if r.Status != s.want {
				t.Fatalf("%s via %s: status %d, want %d: %s", s.name, tr.name, r.Status, s.want, r.Body)
			}
			if s.capture != nil {
				s.capture(t, tr.vars, r)
			}
			results[i] = r
		}
		for i := 1; i < len(transports); i++ {
			compareResults(t, s.name+" via "+transports[i].name, results[0], results[i], s.mask)
		}
	}
}

func compareResults(t *testing.T, what string, want, got result, mask []string) {
	t.Helper()
	for _, k := range comparedHeaders {
		if w, g := headerList(want.Header.Values(k)), headerList(got.Header.Values(k)); !slices.Equal(w, g) {
			t.Errorf("%s: header %s = %q, server sent %q", what, k, g, w)
		}
	}
	if w, g := want.Header.Values("Set-Cookie"), got.Header.Values("Set-Cookie"); !slices.Equal(w, g) {
		t.Errorf("%s: Set-Cookie = %q, server sent %q", what, g, w)
	}
	wid, gid := want.Header.Get("X-Request-Id"), got.Header.Get("X-Request-Id")
	if gid == "" || (wid == "parity-req-1") != (gid == "parity-req-1") {
		t.Errorf("%s: X-Request-Id %q, server sent %q", what, gid, wid)
	}
	wb, gb := want.Body, got.Body
	if strings.Contains(want.Header.Get("Content-Type"), "json") {
		wb, gb = maskJSON(t, wb, mask), maskJSON(t, gb, mask)
	}
	if !bytes.Equal(wb, gb) {
		t.Errorf("%s: body\n%s\nserver sent\n%s", what, shorten(gb), shorten(wb))
	}
}

// headerList splits list-valued headers: payload 2.0 joins repeated
// response headers with commas, which HTTP defines as the same list.
func headerList(values []string) []string {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

func maskJSON(t *testing.T, b []byte, extra []string) []byte {
	t.Helper()
	if len(b) == 0 {
		return b
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	keys := append(slices.Clone(maskedKeys), extra...)
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if slices.Contains(keys, k) {
					v[k] = "<masked>"
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	out, _ := json.Marshal(v)
	return out
}

func shorten(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}
