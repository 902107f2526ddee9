package lambdaapp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/lambda/lambdaapi"
	"github.com/cloudpost/cloudpost/apps/lambda/lambdaapp"
)

// BenchmarkGetPost compares one warm GET /v1/posts/{id} (memory adapters)
// through the Echo app's ServeHTTP with the same request through the api
// handler: from a decoded event (what the runtime hands a typed handler)
// and from the raw JSON payload (Invoke), with the bearer token verified
// by the app as on the server, and with authorizer claims as behind API
// Gateway's JWT authorizer.
func BenchmarkGetPost(b *testing.B) {
	var e *echo.Echo
	var api *lambdaapi.Handler
	app := startApp(b, testConfig(b), lambdaapp.HandlerAPI, fx.Populate(&e, &api))
	f := &authFixture{app: app}
	userID, access, _ := f.account(b, "bench@example.com")
	r := invokeV2(b, app, bearer(map[string]string{"access": access}, jsonReq("POST", "/v1/posts", map[string]string{"body": "benchmark"})))
	var post struct{ ID string }
	if err := json.Unmarshal(r.Body, &post); err != nil || post.ID == "" {
		b.Fatalf("create post: %d %s", r.Status, r.Body)
	}
	path := "/v1/posts/" + post.ID
	ctx := lambdaCtx("bench")

	b.Run("echo-ServeHTTP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+access)
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	bearerEv := v2Event(bearer(map[string]string{"access": access}, jsonReq("GET", path, nil)), "$default")
	b.Run("lambda-v2-event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev := bearerEv
			if res := api.ServeV2(ctx, &ev); res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	payload, _ := json.Marshal(bearerEv)
	b.Run("lambda-v2-invoke-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := api.Invoke(ctx, payload)
			if err != nil || len(out) == 0 {
				b.Fatal(err)
			}
		}
	})
	v1Payload, _ := json.Marshal(v1Event(bearer(map[string]string{"access": access}, jsonReq("GET", path, nil)), "prod"))
	b.Run("lambda-v1-invoke-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := api.Invoke(ctx, v1Payload)
			if err != nil || len(out) == 0 {
				b.Fatal(err)
			}
		}
	})
	x := jsonReq("GET", path, nil)
	x.Claims = accessClaims(userID)
	claimsEv := v2Event(x, "$default")
	b.Run("lambda-v2-event-authorizer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev := claimsEv
			if res := api.ServeV2(ctx, &ev); res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}
