package functions_test

import (
	"net/http"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// TestIdempotencyKeyAcrossLambdaInstances: two API function instances on
// one database (API Gateway spreads retries over instances): a retry with
// the same Idempotency-Key on the other instance gets the first response
// and creates nothing; another body under the key is 422.
func TestIdempotencyKeyAcrossLambdaInstances(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	cfg := testConfig(t, "CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN="+dsn)
	a, b := startApp(t, cfg, functions.HandlerAPI), startApp(t, cfg, functions.HandlerAPI)
	user, _, _ := (&authFixture{app: a}).account(t, "idem@example.com")
	post := func(app *functions.App, body string) result {
		x := jsonReq("POST", "/v1/posts", map[string]string{"body": body}, "Idempotency-Key", `"lambda-key-1"`)
		x.Claims = accessClaims(user)
		return invokeV2(t, app, x)
	}
	first := post(a, "once")
	if first.Status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	again := post(b, "once")
	if again.Status != http.StatusCreated || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry on the other instance: %d %v %s, want the first answer %s", again.Status, again.Header, again.Body, first.Body)
	}
	if r := post(b, "another"); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("another body under the key: %d %s, want 422", r.Status, r.Body)
	}
	x := jsonReq("GET", "/v1/posts?author="+user, nil)
	x.Claims = accessClaims(user)
	var page struct{ Items []struct{ ID string } }
	decodeInto(t, invokeV2(t, a, x), &page)
	if len(page.Items) != 1 {
		t.Errorf("%d posts after a retried create, want 1", len(page.Items))
	}
}
