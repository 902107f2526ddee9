package functions_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
	"github.com/cloudpost/cloudpost/ports"
)

// testEnv is the configuration every test app gets: memory adapters, a
// fixed public URL and blob secret (so presigned URLs are comparable), a
// CORS origin, quiet logs.
var testEnv = []string{
	"CLOUDPOST_PUBLIC_URL=https://api.example.com",
	"CLOUDPOST_LOCAL_BLOB_SECRET=parity-secret-parity-secret-0123",
	"CLOUDPOST_CORS_ORIGINS=https://app.example.com",
	"CLOUDPOST_HTTP_ADDR=127.0.0.1:0",
	"CLOUDPOST_LOG_LEVEL=error",
	"CLOUDPOST_LOCAL_BCRYPT_COST=4", // bcrypt at the default cost dominates these tests under -race
}

func testConfig(t testing.TB, extra ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(append(append([]string(nil), testEnv...), extra...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// seqIDs makes UUIDv7-shaped ids from a counter, so two app instances fed
// the same requests produce the same ids.
type seqIDs struct{ n atomic.Uint64 }

func (s *seqIDs) NewID() string {
	return fmt.Sprintf("01900000-0000-7000-8000-%012x", s.n.Add(1))
}

// frozenClock tells a fixed time until the test moves it.
type frozenClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFrozenClock() *frozenClock {
	return &frozenClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *frozenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// deterministic replaces the id generator and clock of an app.
func deterministic() fx.Option {
	ids, clock := &seqIDs{}, newFrozenClock()
	return fx.Options(
		fx.Decorate(func(ports.IDs) ports.IDs { return ids }),
		fx.Decorate(func(ports.Clock) ports.Clock { return clock }),
	)
}

// startApp starts the Lambda app for handler and stops it at cleanup.
func startApp(t testing.TB, cfg config.Config, handler string, opts ...fx.Option) *functions.App {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	app, err := functions.Start(ctx, cfg, functions.Config{Handler: handler}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return app
}

// lambdaCtx is the context the runtime gives an invocation.
func lambdaCtx(requestID string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
}

// testRoutes adds routes that exercise what no API route does (cookies,
// repeated headers, binary bodies) through the app's real middleware.
func testRoutes(e *echo.Echo) {
	e.GET("/test/cookies", func(c echo.Context) error {
		var got []string
		for _, ck := range c.Cookies() {
			got = append(got, ck.Name+"="+ck.Value)
		}
		c.SetCookie(&http.Cookie{Name: "session", Value: "s1", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		c.SetCookie(&http.Cookie{Name: "theme", Value: "dark", Path: "/"})
		c.Response().Header().Add("X-Multi", "one")
		c.Response().Header().Add("X-Multi", "two")
		// API Gateway's payload 2.0 joins repeated request headers with
		// commas, which HTTP treats as the same list.
		return c.JSON(http.StatusOK, map[string]any{
			"cookies": got, "xMulti": strings.Join(c.Request().Header.Values("X-Multi"), ","),
			"query": c.QueryParams(), "path": c.Request().URL.Path,
		})
	})
	e.POST("/test/bytes", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/octet-stream", b)
	})
	e.GET("/test/png", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "image/png", testPNG(8, 6))
	})
}

// testPNG encodes a small gradient image.
func testPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 30), uint8(y * 40), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// exchange is one HTTP request in transport-neutral form.
type exchange struct {
	Method string
	// Target is the path and query as a client would send them (encoded).
	Target string
	Header http.Header
	Body   []byte
	// Claims, when set, are the authorizer's verified claims (API Gateway
	// only; the server has no authorizer).
	Claims map[string]string
	// Base64 sends even a JSON body base64-encoded in events (API Gateway
	// does so for bodies it considers binary).
	Base64 bool
	// SourceIP is the client address API Gateway reports (default
	// 203.0.113.9).
	SourceIP string
}

// result is a response in transport-neutral form.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

// v2Event builds the HTTP API event API Gateway would send for x: the path
// decoded, repeated headers joined, cookies split out.
func v2Event(x exchange, stage string) events.APIGatewayV2HTTPRequest {
	u, err := url.ParseRequestURI(x.Target)
	if err != nil {
		panic(err)
	}
	raw := u.Path
	if stage != "$default" {
		raw = "/" + stage + raw
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: raw, RawQueryString: u.RawQuery,
		Headers: map[string]string{"host": "api.example.com", "x-forwarded-proto": "https"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", Stage: stage, RequestID: "JKJaXmPLvHcESHA=", DomainName: "api.example.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: x.Method, Path: raw, Protocol: "HTTP/1.1", SourceIP: "203.0.113.9"},
		},
	}
	if x.SourceIP != "" {
		ev.RequestContext.HTTP.SourceIP = x.SourceIP
	}
	for k, vs := range x.Header {
		if strings.EqualFold(k, "Cookie") {
			for _, v := range vs {
				for part := range strings.SplitSeq(v, ";") {
					ev.Cookies = append(ev.Cookies, strings.TrimSpace(part))
				}
			}
			continue
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	ev.Body, ev.IsBase64Encoded = eventBody(x)
	if x.Claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: x.Claims},
		}
	}
	return ev
}

// eventBody encodes a body as API Gateway does: base64 unless it is text
// sent with a JSON content type.
func eventBody(x exchange) (string, bool) {
	if len(x.Body) == 0 {
		return "", false
	}
	if !x.Base64 && strings.HasPrefix(x.Header.Get("Content-Type"), "application/json") && utf8.Valid(x.Body) {
		return string(x.Body), false
	}
	return base64.StdEncoding.EncodeToString(x.Body), true
}

// invokeV2 sends x through the Lambda handler as an HTTP API event.
func invokeV2(t testing.TB, app *functions.App, x exchange) result {
	t.Helper()
	payload, err := json.Marshal(v2Event(x, "prod"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := app.Handler.Invoke(lambdaCtx("aws-req-v2"), payload)
	if err != nil {
		t.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	h := http.Header{}
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	for _, c := range res.Cookies {
		h.Add("Set-Cookie", c)
	}
	return result{Status: res.StatusCode, Header: h, Body: responseBody(t, res.Body, res.IsBase64Encoded)}
}

func responseBody(t testing.TB, body string, b64 bool) []byte {
	t.Helper()
	if !b64 {
		return []byte(body)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("response body is not base64: %v", err)
	}
	return b
}
