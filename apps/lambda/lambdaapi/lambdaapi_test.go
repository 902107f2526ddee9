package lambdaapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

// seen is what the test handler observed of one request.
type seen struct {
	Method, Path, RawPath, RawQuery, Host, RemoteAddr, RequestURI string
	Header                                                        http.Header
	Body                                                          []byte
	ContentLength                                                 int64
	TLS                                                           bool
	APIRequestID                                                  string
}

// recorder is an http.Handler that records the request and answers with
// what the test configures.
type recorder struct {
	got     seen
	respond func(w http.ResponseWriter)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.got = seen{
		Method: req.Method, Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery,
		Host: req.Host, RemoteAddr: req.RemoteAddr, RequestURI: req.RequestURI, Header: req.Header.Clone(),
		Body: body, ContentLength: req.ContentLength, TLS: req.TLS != nil, APIRequestID: APIRequestID(req.Context()),
	}
	if r.respond != nil {
		r.respond(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func newTestHandler(rec *recorder, base string) *Handler {
	return New(rec, Options{BasePath: base, Log: slog.New(slog.DiscardHandler)})
}

func TestV2RequestConversion(t *testing.T) {
	rec := &recorder{}
	h := newTestHandler(rec, "")
	ev := &events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/prod/v1/users/a b?c", RawQueryString: "q=%C3%A9t%C3%A9&q=2&x",
		Cookies: []string{"a=1", "b=2"},
		Headers: map[string]string{"host": "api.example.com", "content-type": "application/json", "x-multi": "one,two",
			"x-golambdaproxy-apigw-context": `{"authorizer":{"jwt":{"claims":{"sub":"mallory"}}}}`},
		Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}), IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "prod", RequestID: "JKJaXmPLvHcESHA=", DomainName: "abc.execute-api.eu-west-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "post", SourceIP: "203.0.113.9"},
		},
	}
	res := h.ServeV2(context.Background(), ev)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d: %s", res.StatusCode, res.Body)
	}
	g := rec.got
	want := seen{
		Method: "POST", Path: "/v1/users/a b?c", RawPath: "", RawQuery: "q=%C3%A9t%C3%A9&q=2&x",
		Host: "api.example.com", RemoteAddr: "203.0.113.9:0", RequestURI: "/v1/users/a%20b%3Fc?q=%C3%A9t%C3%A9&q=2&x",
		Body: []byte{0, 1, 2, 0xff}, ContentLength: 4, TLS: true, APIRequestID: "JKJaXmPLvHcESHA=",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"one,two"}, "Cookie": {"a=1; b=2"}},
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("request:\n got %+v\nwant %+v", g, want)
	}
}

func TestV1RequestConversion(t *testing.T) {
	rec := &recorder{}
	h := newTestHandler(rec, "/api")
	ev := &events.APIGatewayProxyRequest{
		HTTPMethod: "GET", Path: "/api/v1/posts/x%2Fy",
		Headers:                         map[string]string{"Accept": "b", "Host": "api.example.com"},
		MultiValueHeaders:               map[string][]string{"Accept": {"a", "b"}, "Host": {"api.example.com"}, "X-GoLambdaProxy-ApiGw-Context": {"{}"}},
		QueryStringParameters:           map[string]string{"limit": "2"},
		MultiValueQueryStringParameters: map[string][]string{"limit": {"1", "2"}, "cursor": {"a b&c"}},
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "prod", Path: "/prod/api/v1/posts/x%2Fy", RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "198.51.100.7"},
		},
	}
	h.ServeV1(context.Background(), ev)
	g := rec.got
	if g.Method != "GET" || g.Path != "/v1/posts/x/y" || g.RawPath != "/v1/posts/x%2Fy" {
		t.Errorf("path: %q %q %q", g.Method, g.Path, g.RawPath)
	}
	if g.RawQuery != "cursor=a+b%26c&limit=1&limit=2" {
		t.Errorf("query %q", g.RawQuery)
	}
	if !reflect.DeepEqual(g.Header, http.Header{"Accept": {"a", "b"}}) {
		t.Errorf("header %v (the spoofable context header must be dropped)", g.Header)
	}
	if g.Host != "api.example.com" || g.RemoteAddr != "198.51.100.7:0" || !g.TLS || g.Body == nil && g.ContentLength != 0 {
		t.Errorf("request %+v", g)
	}
}

func TestStagePrefixes(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string // what the handler must see
		ev   any
	}{
		{"v2 named stage", "/v1/me", &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/prod/v1/me",
			RequestContext: v2ctx("GET", "prod")}},
		{"v2 stage named like a route", "/v1/me", &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/v1/v1/me",
			RequestContext: v2ctx("GET", "v1")}},
		{"v2 default stage", "/prod/v1/me", &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/prod/v1/me",
			RequestContext: v2ctx("GET", "$default")}},
		{"v2 stage is a prefix of a segment only", "/production/x", &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/production/x",
			RequestContext: v2ctx("GET", "prod")}},
		{"v2 stage root", "/", &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/prod",
			RequestContext: v2ctx("GET", "prod")}},
		{"v1 execute-api path has no stage", "/prod/x", &events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/prod/x",
			RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", Path: "/prod/prod/x"}}},
		{"v1 path with stage", "/x", &events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/prod/x",
			RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", Path: "/prod/x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := newTestHandler(rec, "")
			payload, _ := json.Marshal(tc.ev)
			if _, err := h.Invoke(context.Background(), payload); err != nil {
				t.Fatal(err)
			}
			if rec.got.Path != tc.path {
				t.Errorf("path %q, want %q", rec.got.Path, tc.path)
			}
		})
	}
}

func v2ctx(method, stage string) events.APIGatewayV2HTTPRequestContext {
	return events.APIGatewayV2HTTPRequestContext{Stage: stage, RequestID: "r1",
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method}}
}

func TestResponses(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	for _, tc := range []struct {
		name       string
		method     string
		respond    func(w http.ResponseWriter)
		wantStatus int
		wantBody   []byte
		wantB64    bool
		wantHeader http.Header // checked on v1 (multi-value)
	}{
		{
			name: "json with cookies and repeated headers", method: "GET",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Add("Set-Cookie", "a=1; Path=/; HttpOnly")
				w.Header().Add("Set-Cookie", "b=2; Path=/")
				w.Header().Add("Vary", "Origin")
				w.Header().Add("Vary", "Accept")
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte(`{"é":1}`))
				w.Header().Set("X-Late", "not sent")
			},
			wantStatus: http.StatusTeapot, wantBody: []byte(`{"é":1}`),
			wantHeader: http.Header{"Content-Type": {"application/problem+json"}, "Set-Cookie": {"a=1; Path=/; HttpOnly", "b=2; Path=/"}, "Vary": {"Origin", "Accept"}},
		},
		{
			name: "binary body is base64", method: "GET",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "image/png")
				_, _ = w.Write(png)
			},
			wantStatus: 200, wantBody: png, wantB64: true, wantHeader: http.Header{"Content-Type": {"image/png"}},
		},
		{
			name: "text type with invalid UTF-8 is base64", method: "GET",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/plain; charset=latin1")
				_, _ = w.Write([]byte{'c', 'a', 'f', 0xe9})
			},
			wantStatus: 200, wantBody: []byte{'c', 'a', 'f', 0xe9}, wantB64: true, wantHeader: http.Header{"Content-Type": {"text/plain; charset=latin1"}},
		},
		{
			name: "missing content type is sniffed", method: "GET",
			respond:    func(w http.ResponseWriter) { _, _ = w.Write(png) },
			wantStatus: 200, wantBody: png, wantB64: true, wantHeader: http.Header{"Content-Type": {"image/png"}},
		},
		{
			name: "HEAD has no body", method: "HEAD",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			},
			wantStatus: 200, wantHeader: http.Header{"Content-Type": {"application/json"}},
		},
		{
			name: "204 has no body", method: "DELETE",
			respond: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusNoContent)
				_, _ = w.Write([]byte(`ignored`))
			},
			wantStatus: 204, wantHeader: http.Header{},
		},
		{
			name: "nothing written is 200", method: "GET", respond: func(http.ResponseWriter) {},
			wantStatus: 200, wantHeader: http.Header{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{respond: tc.respond}
			h := newTestHandler(rec, "")
			r1 := h.ServeV1(context.Background(), &events.APIGatewayProxyRequest{HTTPMethod: tc.method, Path: "/x"})
			if r1.StatusCode != tc.wantStatus || r1.IsBase64Encoded != tc.wantB64 || !bytes.Equal(decodeBody(t, r1.Body, r1.IsBase64Encoded), tc.wantBody) {
				t.Errorf("v1: %d b64=%v body %q", r1.StatusCode, r1.IsBase64Encoded, r1.Body)
			}
			if !reflect.DeepEqual(http.Header(r1.MultiValueHeaders), tc.wantHeader) || len(r1.Headers) != 0 {
				t.Errorf("v1 headers %v / %v, want %v", r1.MultiValueHeaders, r1.Headers, tc.wantHeader)
			}
			r2 := h.ServeV2(context.Background(), &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/x", RequestContext: v2ctx(tc.method, "$default")})
			if r2.StatusCode != tc.wantStatus || r2.IsBase64Encoded != tc.wantB64 || !bytes.Equal(decodeBody(t, r2.Body, r2.IsBase64Encoded), tc.wantBody) {
				t.Errorf("v2: %d b64=%v body %q", r2.StatusCode, r2.IsBase64Encoded, r2.Body)
			}
			if !reflect.DeepEqual(r2.Cookies, tc.wantHeader["Set-Cookie"]) {
				t.Errorf("v2 cookies %q", r2.Cookies)
			}
			for k, vs := range tc.wantHeader {
				if k == "Set-Cookie" {
					if _, ok := r2.Headers[k]; ok {
						t.Errorf("v2: Set-Cookie must travel in cookies only")
					}
					continue
				}
				if got := r2.Headers[k]; got != strings.Join(vs, ",") {
					t.Errorf("v2 header %s = %q, want %q", k, got, strings.Join(vs, ","))
				}
			}
			if _, ok := r2.Headers["X-Late"]; ok {
				t.Error("a header set after WriteHeader was sent")
			}
		})
	}
}

func decodeBody(t *testing.T, body string, b64 bool) []byte {
	t.Helper()
	if !b64 {
		if body == "" {
			return nil
		}
		return []byte(body)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("body is not base64: %v", err)
	}
	return b
}

func TestMalformedEventsGetProblems(t *testing.T) {
	rec := &recorder{}
	h := newTestHandler(rec, "")
	for _, tc := range []struct {
		name, payload, detail string
	}{
		{"not json", `{"version":`, "the event is not an API Gateway proxy event"},
		{"bad base64", `{"version":"2.0","rawPath":"/x","body":"%%%","isBase64Encoded":true,"requestContext":{"requestId":"abc-1","http":{"method":"POST"}}}`, "the request body is not valid base64"},
		{"no method", `{"version":"2.0","rawPath":"/x","requestContext":{"http":{}}}`, "the event has no valid HTTP method"},
		{"relative path", `{"httpMethod":"GET","path":"x","requestContext":{"requestId":"r-2"}}`, "the request path must start with /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.got = seen{}
			out, err := h.Invoke(context.Background(), []byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				StatusCode        int                 `json:"statusCode"`
				Headers           map[string]string   `json:"headers"`
				MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
				Body              string              `json:"body"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			for k, v := range res.MultiValueHeaders { // v1 answers
				if res.Headers == nil {
					res.Headers = map[string]string{}
				}
				res.Headers[k] = v[0]
			}
			var p httpapi.ProblemDetails
			if err := json.Unmarshal([]byte(res.Body), &p); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			if res.StatusCode != 400 || p.Status != 400 || p.Code != domain.Invalid || p.Detail != tc.detail ||
				res.Headers["Content-Type"] != httpapi.ProblemContentType || p.RequestID == "" || res.Headers["X-Request-Id"] != p.RequestID {
				t.Errorf("%s: %+v %+v", out, res, p)
			}
			if rec.got.Method != "" {
				t.Error("the app was called with a malformed event")
			}
		})
	}
	// The fields of an unreadable event's answer are accepted by both formats.
	out, _ := h.Invoke(context.Background(), []byte(`[]`))
	var fields map[string]any
	_ = json.Unmarshal(out, &fields)
	if len(fields) != 3 || fields["statusCode"] == nil || fields["headers"] == nil || fields["body"] == nil {
		t.Errorf("unreadable event answer %s", out)
	}
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/posts/abc":        "/v1/posts/abc",
		"/v1/a%20b":            "/v1/a%20b",
		"/v1/a b":              "/v1/a%20b",
		"/v1/50%":              "/v1/50%25",
		"/v1/%zz":              "/v1/%25zz",
		"/v1/é?#":              "/v1/%C3%A9%3F%23",
		"/v1/it's(ok)+;=:@~!$": "/v1/it's(ok)+;=:@~!$",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseListClaim(t *testing.T) {
	for in, want := range map[string][]string{
		"":                 nil,
		"[]":               nil,
		"[admin]":          {"admin"},
		"[admin editors]":  {"admin", "editors"},
		`["a b","c"]`:      {"a b", "c"},
		"admin,editors":    {"admin", "editors"},
		" admin , , ops ":  {"admin", "ops"},
		"solo":             {"solo"},
		"[eu-west-1_x g2]": {"eu-west-1_x", "g2"},
	} {
		if got := ParseListClaim(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseListClaim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrincipalFromClaims(t *testing.T) {
	p, err := PrincipalFromClaims(map[string]string{
		"sub": "u-1", "token_use": "access", "client_id": "app", "jti": "j-1", "exp": "1767323045",
		"cognito:groups": "[admins editors]", "scope": "aws.cognito.signin.user.admin",
	})
	want := domain.Principal{UserID: "u-1", ClientID: "app", TokenID: "j-1", Groups: []string{"admins", "editors"},
		ExpiresAt: time.Unix(1767323045, 0).UTC()}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Errorf("access token claims: %+v %v", p, err)
	}
	// REST API Cognito authorizer form.
	claims, ok := claimsV1(map[string]any{"claims": map[string]any{
		"sub": "u-2", "token_use": "access", "exp": "Fri Jul 29 18:52:53 UTC 2016", "cognito:groups": "a,b", "auth_time": 1469814773.0,
	}})
	if !ok {
		t.Fatal("v1 claims not found")
	}
	p, err = PrincipalFromClaims(claims)
	if err != nil || p.UserID != "u-2" || !reflect.DeepEqual(p.Groups, []string{"a", "b"}) ||
		!p.ExpiresAt.Equal(time.Date(2016, 7, 29, 18, 52, 53, 0, time.UTC)) || claims["auth_time"] != "1469814773" {
		t.Errorf("v1 claims: %+v %v %v", p, err, claims)
	}
	if c, ok := claimsV1(map[string]any{"jwt": map[string]any{"claims": map[string]any{"sub": "u-3", "cognito:groups": []any{"x", "y"}}}}); !ok ||
		!reflect.DeepEqual(ParseListClaim(c["cognito:groups"]), []string{"x", "y"}) {
		t.Errorf("v1 jwt claims: %v %v", c, ok)
	}
	if _, ok := claimsV1(map[string]any{"principalId": "x"}); ok {
		t.Error("an authorizer without claims yielded claims")
	}
	for name, c := range map[string]map[string]string{
		"id token":     {"sub": "u", "token_use": "id", "aud": "app"},
		"no token_use": {"sub": "u"},
		"no sub":       {"token_use": "access"},
	} {
		if _, err := PrincipalFromClaims(c); domain.ErrorCode(err) != domain.Unauthenticated {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPayloadVersion(t *testing.T) {
	for in, want := range map[string]string{
		`{"version":"2.0","rawPath":"/"}`:                                   "2.0",
		` { "a" : {"version":"2.0"}, "b":["version"], "version" : "1.0" } `: "1.0",
		`{"headers":{"version":"2.0"},"httpMethod":"GET"}`:                  "",
		`{"queryStringParameters":{"version":"2.0"}}`:                       "",
		`{"Version":"2.0"}`:                                                 "2.0",
		`{"versio\u006e":"2.0"}`:                                            "2.0",
		`{"version":"1.0","version":"2.0"}`:                                 "2.0",
		`{"version":2}`:                                                     "",
		`{"body":"\"version\":\"2.0\"","x":[1,{"y":"]"}],"n":-1.5e3,"t":true,"version":"2.0"}`: "2.0",
		`[{"version":"2.0"}]`: "",
		`{"version":"2.0"`:    "",
		`{}`:                  "",
		``:                    "",
	} {
		if got := payloadVersion([]byte(in)); got != want {
			t.Errorf("payloadVersion(%s) = %q, want %q", in, got, want)
		}
	}
}

// FuzzPayloadVersion checks the scanner against encoding/json on every
// valid document: the version it finds is the one decoding would see.
func FuzzPayloadVersion(f *testing.F) {
	for _, s := range []string{`{"version":"2.0"}`, `{"a":{"version":"x"},"VERSION":"y"}`, `{"version":null}`, `{"b":"\\\"","version":"2.0"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := payloadVersion(b)
		var probe struct {
			Version any `json:"version"`
		}
		if !json.Valid(b) || json.Unmarshal(b, &probe) != nil {
			return
		}
		want, _ := probe.Version.(string)
		if got != want {
			t.Errorf("payloadVersion(%s) = %q, encoding/json sees %q", b, got, want)
		}
	})
}
