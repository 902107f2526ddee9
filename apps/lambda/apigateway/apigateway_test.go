package apigateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json"

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
	Principal                                                     *domain.Principal
}

// recorder is an http.Handler that records the request and answers with
// what the test configures.
type recorder struct {
	got     seen
	respond func(w http.ResponseWriter)
}

type principalKey struct{}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	p, _ := req.Context().Value(principalKey{}).(domain.Principal)
	r.got = seen{
		Method: req.Method, Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery,
		Host: req.Host, RemoteAddr: req.RemoteAddr, RequestURI: req.RequestURI, Header: req.Header.Clone(),
		Body: body, ContentLength: req.ContentLength, TLS: req.TLS != nil, APIRequestID: APIRequestID(req.Context()),
	}
	if p.UserID != "" {
		r.got.Principal = &p
	}
	if r.respond != nil {
		r.respond(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// newTestHandler serves with rec; the principal the app would be given
// is visible to rec.
func newTestHandler(t testing.TB, rec http.Handler, base string) *Handler {
	withPrincipal = func(ctx context.Context, p domain.Principal) context.Context {
		return context.WithValue(ctx, principalKey{}, p)
	}
	t.Cleanup(func() { withPrincipal = httpapi.WithPrincipal })
	return New(rec, Options{BasePath: base, Log: slog.New(slog.DiscardHandler)})
}

// invoke sends payload through Invoke and decodes the response strictly.
func invoke(t testing.TB, h *Handler, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res, json.RejectUnknownMembers(true)); err != nil || res.StatusCode < 100 {
		t.Fatalf("response %s: %v", out, err)
	}
	return res
}

func TestRequestConversion(t *testing.T) {
	rec := &recorder{}
	h := newTestHandler(t, rec, "")
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
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if res := invoke(t, h, payload); res.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d: %s", res.StatusCode, res.Body)
	}
	want := seen{
		Method: "POST", Path: "/v1/users/a b?c", RawPath: "", RawQuery: "q=%C3%A9t%C3%A9&q=2&x",
		Host: "api.example.com", RemoteAddr: "203.0.113.9:0", RequestURI: "/v1/users/a%20b%3Fc?q=%C3%A9t%C3%A9&q=2&x",
		Body: []byte{0, 1, 2, 0xff}, ContentLength: 4, TLS: true, APIRequestID: "JKJaXmPLvHcESHA=",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"one,two"}, "Cookie": {"a=1; b=2"}},
	}
	if !reflect.DeepEqual(rec.got, want) {
		t.Errorf("request:\n got %+v\nwant %+v", rec.got, want)
	}
	// Names differing only in case add their values in a fixed order.
	ev.Headers = map[string]string{"authorization": "Bearer b", "Authorization": "Bearer a"}
	h.ServeV2(context.Background(), ev)
	if got := rec.got.Header["Authorization"]; !reflect.DeepEqual(got, []string{"Bearer a", "Bearer b"}) {
		t.Errorf("merged headers %q", got)
	}
}

func TestPathsAndBasePath(t *testing.T) {
	for _, tc := range []struct {
		name, rawPath, stage, base, want string
	}{
		{"named stage", "/prod/v1/me", "prod", "", "/v1/me"},
		{"stage named like a route", "/v1/v1/me", "v1", "", "/v1/me"},
		{"default stage", "/prod/v1/me", "$default", "", "/prod/v1/me"},
		{"stage is a prefix of a segment only", "/production/x", "prod", "", "/production/x"},
		{"stage root", "/prod", "prod", "", "/"},
		{"base path", "/api/v1/me", "$default", "/api/", "/v1/me"},
		{"stage then base path", "/prod/api/v1/me", "prod", "api", "/v1/me"},
		{"base path is a prefix of a segment only", "/apix/v1", "$default", "/api", "/apix/v1"},
		{"no rawPath: requestContext.http.path", "", "$default", "", "/from/context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := newTestHandler(t, rec, tc.base)
			ev := &events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: tc.rawPath, RequestContext: v2ctx("GET", tc.stage)}
			ev.RequestContext.HTTP.Path = "/from/context"
			if res := h.ServeV2(context.Background(), ev); res.StatusCode != http.StatusNoContent || rec.got.Path != tc.want {
				t.Errorf("%d: path %q, want %q", res.StatusCode, rec.got.Path, tc.want)
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
		name        string
		method      string
		respond     func(w http.ResponseWriter)
		wantStatus  int
		wantBody    []byte
		wantB64     bool
		wantHeaders map[string]string
		wantCookies []string
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
			wantHeaders: map[string]string{"Content-Type": "application/problem+json", "Vary": "Origin,Accept"},
			wantCookies: []string{"a=1; Path=/; HttpOnly", "b=2; Path=/"},
		},
		{
			name: "binary body is base64", method: "GET",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "image/png")
				_, _ = w.Write(png)
			},
			wantStatus: 200, wantBody: png, wantB64: true, wantHeaders: map[string]string{"Content-Type": "image/png"},
		},
		{
			name: "text type with invalid UTF-8 is base64", method: "GET",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/plain; charset=latin1")
				w.Header().Set("X-Latin1", "caf\xe9")
				_, _ = w.Write([]byte{'c', 'a', 'f', 0xe9})
			},
			wantStatus: 200, wantBody: []byte{'c', 'a', 'f', 0xe9}, wantB64: true,
			wantHeaders: map[string]string{"Content-Type": "text/plain; charset=latin1", "X-Latin1": "caf\uFFFD"},
		},
		{
			name: "missing content type is sniffed", method: "GET",
			respond:    func(w http.ResponseWriter) { _, _ = w.Write(png) },
			wantStatus: 200, wantBody: png, wantB64: true, wantHeaders: map[string]string{"Content-Type": "image/png"},
		},
		{
			name: "HEAD has no body", method: "HEAD",
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			},
			wantStatus: 200, wantHeaders: map[string]string{"Content-Type": "application/json"},
		},
		{
			name: "204 has no body", method: "DELETE",
			respond: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusNoContent)
				_, _ = w.Write([]byte(`ignored`))
			},
			wantStatus: 204, wantHeaders: map[string]string{},
		},
		{
			name: "nothing written is 200", method: "GET", respond: func(http.ResponseWriter) {},
			wantStatus: 200, wantHeaders: map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, &recorder{respond: tc.respond}, "")
			payload, _ := json.Marshal(&events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/x", RequestContext: v2ctx(tc.method, "$default")})
			res := invoke(t, h, payload)
			body := []byte(res.Body)
			if res.IsBase64Encoded {
				body, _ = base64.StdEncoding.DecodeString(res.Body)
			}
			if res.StatusCode != tc.wantStatus || res.IsBase64Encoded != tc.wantB64 || !bytes.Equal(body, tc.wantBody) && len(body)+len(tc.wantBody) > 0 {
				t.Errorf("%d b64=%v body %q", res.StatusCode, res.IsBase64Encoded, res.Body)
			}
			if !reflect.DeepEqual(res.Headers, tc.wantHeaders) || !reflect.DeepEqual(res.Cookies, tc.wantCookies) || res.MultiValueHeaders != nil {
				t.Errorf("headers %q cookies %q multi %q, want %q %q", res.Headers, res.Cookies, res.MultiValueHeaders, tc.wantHeaders, tc.wantCookies)
			}
		})
	}
}

// TestMalformedEventsGetProblems: whatever is wrong with an event, the
// answer is a 400 problem (never an invocation error) and the app is not
// called. Member names match exactly and each may appear once, as API
// Gateway writes them; invalid UTF-8 is refused, not replaced.
func TestMalformedEventsGetProblems(t *testing.T) {
	const unreadable = "the event is not a readable HTTP API event (payload format 2.0)"
	const v1only = "only HTTP API events of payload format 2.0 are served"
	ok := `{"version":"2.0","rawPath":"/x","requestContext":{"requestId":"abc-1","http":{"method":"GET"}}}`
	for _, tc := range []struct {
		name, payload, detail string
	}{
		{"not json", `{"version":`, unreadable},
		{"not an object", `[]`, unreadable},
		{"trailing data", ok + `{}`, unreadable},
		{"wrong type", `{"version":"2.0","headers":{"a":1},"requestContext":{"http":{"method":"GET"}}}`, unreadable},
		{"duplicate member", `{"version":"2.0","rawPath":"/x","rawPath":"/y","requestContext":{"http":{"method":"GET"}}}`, unreadable},
		{"duplicate claim", `{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"GET"},"authorizer":{"jwt":{"claims":{"sub":"a","sub":"b","token_use":"access"}}}}}`, unreadable},
		{"duplicate header", `{"version":"2.0","rawPath":"/x","headers":{"authorization":"a","authorization":"b"},"requestContext":{"http":{"method":"GET"}}}`, unreadable},
		{"invalid UTF-8", "{\"version\":\"2.0\",\"rawPath\":\"/x\",\"headers\":{\"a\":\"caf\xe9\"},\"requestContext\":{\"http\":{\"method\":\"GET\"}}}", unreadable},
		{"lone surrogate", `{"version":"2.0","rawPath":"/x","headers":{"a":"\ud800"},"requestContext":{"http":{"method":"GET"}}}`, unreadable},
		{"no version", `{"rawPath":"/x","requestContext":{"http":{"method":"GET"}}}`, v1only},
		{"version in another case", `{"Version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"GET"}}}`, v1only},
		{"payload format 1.0", `{"version":"1.0","path":"/x","httpMethod":"GET","requestContext":{"http":{"method":"GET"}}}`, v1only},
		{"REST API event", `{"resource":"/{proxy+}","path":"/v1/me","httpMethod":"GET","multiValueHeaders":{"Accept":["a"]},` +
			`"requestContext":{"stage":"prod","identity":{"sourceIp":"203.0.113.9"},"authorizer":{"claims":{"sub":"u","token_use":"access"}}},"body":null}`, v1only},
		{"bad base64", `{"version":"2.0","rawPath":"/x","body":"%%%","isBase64Encoded":true,"requestContext":{"requestId":"abc-1","http":{"method":"POST"}}}`, "the request body is not valid base64"},
		{"no method", `{"version":"2.0","rawPath":"/x","requestContext":{"http":{}}}`, "the event has no valid HTTP method"},
		{"relative path", `{"version":"2.0","rawPath":"x","requestContext":{"http":{"method":"GET"}}}`, "the request path must start with /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			res := invoke(t, newTestHandler(t, rec, ""), []byte(tc.payload))
			var p httpapi.ProblemDetails
			if err := json.Unmarshal([]byte(res.Body), &p); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			if res.StatusCode != 400 || p.Status != 400 || p.Code != domain.Invalid || !strings.HasPrefix(p.Detail, tc.detail) ||
				res.Headers["Content-Type"] != httpapi.ProblemContentType || p.RequestID == "" || res.Headers["X-Request-Id"] != p.RequestID {
				t.Errorf("%+v %+v", res, p)
			}
			if rec.got.Method != "" {
				t.Error("the app was called with a malformed event")
			}
		})
	}
}

// TestEvents serves AWS's sample events (aws-lambda-go's testdata, see
// testdata/README.md) and a browser's request through a JWT authorizer.
// Only JWT authorizer claims of an access token become the principal;
// the app verifies the bearer token itself otherwise.
func TestEvents(t *testing.T) {
	sample := seen{
		Method: "GET", Path: "/my/path", RawQuery: "parameter1=value1&parameter1=value2&parameter2=value",
		Host: "id.execute-api.us-east-1.amazonaws.com", RemoteAddr: "IP:0",
		RequestURI: "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
		Header:     http.Header{"Header1": {"value1"}, "Header2": {"value2"}, "Cookie": {"cookie1; cookie2"}},
		Body:       []byte("{\r\n\t\"a\": 1\r\n}"), ContentLength: 13, TLS: true, APIRequestID: "id",
	}
	post := "/v1/posts/01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f"
	for file, want := range map[string]seen{
		"apigw-v2-request-jwt-authorizer.json":    sample, // claims without sub: not a principal
		"apigw-v2-request-lambda-authorizer.json": sample,
		"apigw-v2-request-iam.json":               sample,
		"apigw-v2-request-no-authorizer.json": {
			Method: "GET", Path: "/", Host: "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com", RemoteAddr: "1.2.3.4:0", RequestURI: "/",
			Header: http.Header{"Accept": {"*/*"}, "Content-Length": {"0"}, "User-Agent": {"curl/7.58.0"},
				"X-Amzn-Trace-Id": {"Root=1-5e9f0c65-1de4d666d4dd26aced652b6c"}, "X-Forwarded-For": {"1.2.3.4"},
				"X-Forwarded-Port": {"443"}, "X-Forwarded-Proto": {"https"}},
			Body: []byte{}, TLS: true, APIRequestID: "LV7fzho-PHcEJPw=",
		},
		"v2-jwt-get.json": {
			Method: "GET", Path: post, RawQuery: "fields=id%2Cbody&lang=fr", Host: "abc123defg.execute-api.eu-west-1.amazonaws.com",
			RemoteAddr: "203.0.113.9:0", RequestURI: post + "?fields=id%2Cbody&lang=fr", Body: []byte{}, TLS: true, APIRequestID: "JKJaXmPLvHcESHA=",
			Principal: &domain.Principal{
				UserID: "8a6b0f2e-0000-4000-8000-000000000004", Groups: []string{"admins", "editors"}, ClientID: "4h57kvbqlq2b1example",
				TokenID: "0e5c1f5a-0000-4000-8000-000000000002", ExpiresAt: time.Unix(1795587600, 0).UTC(), AuthTime: time.Unix(1795584000, 0).UTC(),
			},
		},
	} {
		t.Run(file, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			if res := invoke(t, newTestHandler(t, rec, ""), payload); res.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d: %s", res.StatusCode, res.Body)
			}
			got := rec.got
			if file == "v2-jwt-get.json" {
				if len(got.Header) != 17 || got.Header.Get("Cookie") != "theme=dark; consent=yes" || got.Header.Get("X-Unicode") != "café 😀 \u2028" {
					t.Errorf("headers %q", got.Header)
				}
				got.Header = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("request:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// FuzzDecodeEvent: whatever the payload, Invoke answers (never panics,
// never an invocation error) with a response API Gateway can read.
func FuzzDecodeEvent(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `null`, `{}`, `{"version":"2.0"}`, `{"version":"2.0","rawPath":"/%zz","requestContext":{"http":{"method":"GET"}}}`} {
		f.Add([]byte(s))
	}
	h := newTestHandler(f, &recorder{respond: func(w http.ResponseWriter) { _, _ = w.Write([]byte("ok")) }}, "/api")
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		var res events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &res, json.RejectUnknownMembers(true)); err != nil || res.StatusCode < 100 {
			t.Fatalf("response %s: %v", out, err)
		}
	})
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
		"solo":             {"solo"},
		"a,b":              {"a,b"}, // a group name may contain a comma
		"[eu-west-1_x g2]": {"eu-west-1_x", "g2"},
	} {
		if got := ParseListClaim(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseListClaim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrincipalFromClaims(t *testing.T) {
	p, err := PrincipalFromClaims(map[string]string{
		"sub": "u-1", "token_use": "access", "client_id": "app", "jti": "j-1", "exp": "1767323045", "iat": "1767319445.5",
		"cognito:groups": "[admins editors]", "scope": "aws.cognito.signin.user.admin",
	})
	want := domain.Principal{UserID: "u-1", ClientID: "app", TokenID: "j-1", Groups: []string{"admins", "editors"},
		ExpiresAt: time.Unix(1767323045, 0).UTC(), AuthTime: time.Unix(1767319445, 0).UTC()}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Errorf("access token claims: %+v %v", p, err)
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
