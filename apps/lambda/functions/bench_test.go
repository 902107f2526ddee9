package functions_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/lambda/apigateway"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// BenchmarkGetPost compares one warm GET /v1/posts/{id} (memory adapters)
// through the Echo app's ServeHTTP with the same request through the api
// handler: from a decoded event (ServeV2) and from the raw JSON payload to
// the response's JSON (Invoke, the handler's real work per invocation),
// with the bearer token verified by the app as on the server, and with
// authorizer claims as behind API Gateway's JWT authorizer.
//
// The *-apigw payloads are shaped like what API Gateway really sends for
// a browser's request (its headers, the full requestContext);
// echo-ServeHTTP-browser is the same request, same headers, through Echo,
// their baseline. The interleaved sub-benchmark reports the ratios
// directly.
func BenchmarkGetPost(b *testing.B) {
	var e *echo.Echo
	var api *apigateway.Handler
	app := startApp(b, testConfig(b), functions.HandlerAPI, fx.Populate(&e, &api))
	f := &authFixture{app: app}
	userID, access, _ := f.account(b, "bench@example.com")
	r := invokeV2(b, app, bearer(map[string]string{"access": access}, jsonReq("POST", "/v1/posts", map[string]string{"body": "benchmark"})))
	var post struct{ ID string }
	if err := json.Unmarshal(r.Body, &post); err != nil || post.ID == "" {
		b.Fatalf("create post: %d %s", r.Status, r.Body)
	}
	path := "/v1/posts/" + post.ID
	ctx := lambdaCtx("bench")

	echoGet := func(headers map[string]string) func(b *testing.B) {
		return func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			req.Header.Set("Authorization", "Bearer "+access)
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK || headers != nil && w.Header().Get("Access-Control-Allow-Origin") == "" {
				b.Fatalf("status %d %v", w.Code, w.Header())
			}
		}
	}
	serveV2 := func(ev events.APIGatewayV2HTTPRequest) func(b *testing.B) {
		return func(b *testing.B) {
			e := ev
			if res := api.ServeV2(ctx, &e); res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	}
	invoke := func(payload []byte) func(b *testing.B) {
		return func(b *testing.B) {
			out, err := api.Invoke(ctx, payload)
			if err != nil || !bytes.HasPrefix(out, []byte(`{"statusCode":200,`)) {
				b.Fatalf("%v %s", err, out)
			}
		}
	}
	bearerEv := v2Event(bearer(map[string]string{"access": access}, jsonReq("GET", path, nil)), "$default")
	claims := jsonReq("GET", path, nil)
	claims.Claims = accessClaims(userID)
	ops := []struct {
		name string
		// base names the Echo request this one is compared with.
		base string
		once func(b *testing.B)
	}{
		{"echo-ServeHTTP", "", echoGet(nil)},
		{"lambda-v2-event", "echo-ServeHTTP", serveV2(bearerEv)},
		{"lambda-v2-invoke-json", "echo-ServeHTTP", invoke(mustJSON(bearerEv))},
		{"lambda-v2-event-authorizer", "echo-ServeHTTP", serveV2(v2Event(claims, "$default"))},
		{"echo-ServeHTTP-browser", "", echoGet(browserHeaders)},
		{"lambda-v2-invoke-apigw", "echo-ServeHTTP-browser", invoke(apigwV2(path, access, nil))},
		{"lambda-v2-invoke-apigw-authorizer", "echo-ServeHTTP-browser", invoke(apigwV2(path, access, accessClaims(userID)))},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				op.once(b)
			}
		})
	}
	// On a shared machine load changes between sub-benchmarks; here every
	// iteration runs each request once, so load hits all alike and the
	// ratios (<name>/<base>) are comparable across runs.
	b.Run("interleaved", func(b *testing.B) {
		total := make([]time.Duration, len(ops))
		for b.Loop() {
			for i, op := range ops {
				t := time.Now()
				op.once(b)
				total[i] += time.Since(t)
			}
		}
		byName := map[string]time.Duration{}
		for i, op := range ops {
			byName[op.name] = total[i]
		}
		for i, op := range ops {
			b.ReportMetric(float64(total[i].Nanoseconds())/float64(b.N), op.name+"-ns")
			if op.base != "" {
				b.ReportMetric(float64(total[i])/float64(byName[op.base]), op.name+"/"+op.base)
			}
		}
	})
}

// browserHeaders are what a browser's fetch from the web app sends, less
// Authorization.
var browserHeaders = map[string]string{
	"Accept":             "application/json",
	"Accept-Encoding":    "gzip, deflate, br, zstd",
	"Accept-Language":    "fr-FR,fr;q=0.9,en;q=0.8",
	"Origin":             "https://app.example.com",
	"Referer":            "https://app.example.com/feed",
	"Sec-Ch-Ua":          `"Chromium";v="130", "Not?A_Brand";v="99"`,
	"Sec-Ch-Ua-Mobile":   "?0",
	"Sec-Ch-Ua-Platform": `"Linux"`,
	"Sec-Fetch-Dest":     "empty",
	"Sec-Fetch-Mode":     "cors",
	"Sec-Fetch-Site":     "same-site",
	"User-Agent":         "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
}

// apigwHeaders are browserHeaders with Authorization and what API Gateway
// adds.
func apigwHeaders(access string) map[string]string {
	h := map[string]string{
		"Authorization": "Bearer " + access, "Content-Length": "0", "Host": "abc123defg.execute-api.eu-west-1.amazonaws.com",
		"X-Amzn-Trace-Id": "Root=1-67890abc-0123456789abcdef01234567", "X-Forwarded-For": "203.0.113.9",
		"X-Forwarded-Port": "443", "X-Forwarded-Proto": "https",
	}
	for k, v := range browserHeaders {
		h[k] = v
	}
	return h
}

// apigwV2 is the HTTP API event API Gateway sends for a browser's GET of
// path (lower-case header names; claims: a JWT authorizer's).
func apigwV2(path, access string, claims map[string]string) []byte {
	h := map[string]string{}
	for k, v := range apigwHeaders(access) {
		h[strings.ToLower(k)] = v
	}
	rc := map[string]any{
		"accountId": "123456789012", "apiId": "abc123defg", "domainName": "abc123defg.execute-api.eu-west-1.amazonaws.com",
		"domainPrefix": "abc123defg", "requestId": "JKJaXmPLvHcESHA=", "routeKey": "$default", "stage": "$default",
		"time": "25/Nov/2026:05:28:48 +0000", "timeEpoch": 1795584528000,
		"http": map[string]any{"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": h["user-agent"]},
	}
	if claims != nil {
		rc["authorizer"] = map[string]any{"jwt": map[string]any{"claims": claims, "scopes": nil}}
	}
	// API Gateway sends the version first (json.Marshal would sort it in
	// after the headers).
	rest := mustJSON(map[string]any{
		"routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": h,
		"requestContext": rc, "isBase64Encoded": false,
	})
	return append([]byte(`{"version":"2.0",`), rest[1:]...)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
