package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/lambda/apigateway"
	"github.com/cloudpost/cloudpost/core/domain"
)

// TestStrictInputThroughLambda: the Lambda handler serves the same Echo app,
// with no connection behind it. The read deadline and the draining of a
// refused body are no-ops there (ErrNotSupported), and every refusal is the
// same problem as over HTTP.
func TestStrictInputThroughLambda(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("lam")
	h := apigateway.New(httpapi.New(en.deps), apigateway.Options{})
	serve := func(method, path, query, body string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev := &events.APIGatewayV2HTTPRequest{
			Version: "2.0", RawPath: path, RawQueryString: query, Body: body,
			Headers: map[string]string{"authorization": "Bearer " + u.token, "content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				Stage: "$default", RequestID: "lambda-1",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, SourceIP: "203.0.113.9"},
			},
		}
		return h.ServeV2(context.Background(), ev)
	}

	if res := serve("POST", "/v1/posts", "", `{"body":"from lambda"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("create post: %d %s", res.StatusCode, res.Body)
	}
	for _, tc := range []struct {
		name, method, path, query, body string
		status                          int
		code                            domain.Code
		detail                          string
	}{
		{"oversized", "POST", "/v1/auth/signup", "", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, 413, domain.TooLarge, "at most"},
		{"malformed query", "GET", "/v1/posts", "cursor=%%%garbage", "", 400, domain.Invalid, "query string is malformed"},
		{"repeated limit", "GET", "/v1/posts", "limit=1&limit=1000", "", 400, domain.Invalid, `"limit" must be given once`},
		{"signed limit", "GET", "/v1/posts", "limit=%2B5", "", 400, domain.Invalid, "limit"},
		{"name case", "POST", "/v1/uploads", "", `{"PURPOSE":"post","contentType":"image/png","size":10}`, 400, domain.Invalid, `unknown field "PURPOSE"`},
		{"null patch", "PATCH", "/v1/me", "", `null`, 400, domain.Invalid, "not null"},
		{"invisible post", "POST", "/v1/posts", "", `{"body":"\u200d\u200b\u2060"}`, 400, domain.Invalid, "visible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(tc.method, tc.path, tc.query, tc.body)
			var p httpapi.ProblemDetails
			if err := json.Unmarshal([]byte(res.Body), &p); err != nil || res.StatusCode != tc.status || p.Code != tc.code ||
				!strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("%d %s, want %d %s mentioning %q", res.StatusCode, res.Body, tc.status, tc.code, tc.detail)
			}
			for k := range res.Headers {
				if strings.EqualFold(k, "Connection") {
					t.Errorf("Connection header on Lambda: %v", res.Headers)
				}
			}
		})
	}
}
