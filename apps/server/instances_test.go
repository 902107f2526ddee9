package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth/cognitolocal"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest"
)

// TestLimitsAndRevocationAcrossInstances runs two server instances on one
// MySQL database and one (Cognito) user pool, as behind a load balancer:
// a limit counts the requests of both, and a sign-out on one instance ends
// the session on the other within the revocation cache's lifetime.
func TestLimitsAndRevocationAcrossInstances(t *testing.T) {
	env, code := instancesEnv(t, "CLOUDPOST_LIMIT_POST_USER=3/1h", "CLOUDPOST_REVOCATION_CACHE_TTL=1s")
	a, _, _ := startServer(t, env, code)
	b, _, _ := startServer(t, env, code)
	onB := func(c *client) *client { return &client{t: t, base: b.base, http: b.http, token: c.token, code: code} }

	a.token = signUpAndIn(a, fmt.Sprintf("ann-%d@example.com", time.Now().UnixNano()), "Ann").AccessToken
	annB := onB(a)
	a.do("POST", "/v1/posts", map[string]string{"body": "one"}, 201, nil)
	annB.do("POST", "/v1/posts", map[string]string{"body": "two"}, 201, nil)
	a.do("POST", "/v1/posts", map[string]string{"body": "three"}, 201, nil)
	h := annB.do("POST", "/v1/posts", map[string]string{"body": "four"}, 429, nil)
	if h.Get("Retry-After") == "" || h.Get("RateLimit") == "" {
		t.Errorf("429 headers: %v", h)
	}

	annB.do("GET", "/v1/me", nil, 200, nil) // B has the revocation state cached
	a.do("POST", "/v1/auth/signout", nil, 204, nil)
	a.do("GET", "/v1/me", nil, 401, nil)
	// B's cache lifetime: a lower bound, which a busy machine only
	// lengthens, so this wait cannot make the test flaky.
	time.Sleep(1100 * time.Millisecond)
	annB.do("GET", "/v1/me", nil, 401, nil)
	annB.do("POST", "/v1/uploads", map[string]any{"purpose": "post", "contentType": "image/png", "size": 10}, http.StatusUnauthorized, nil)
}

// instancesEnv is the configuration of server instances that share state
// as behind a load balancer: a new MySQL database and a new cognito-local
// user pool, plus extra; code reads the pool's mailed sign-up codes.
func instancesEnv(t *testing.T, extra ...string) (env []string, code func(email string) string) {
	t.Helper()
	srv := cognitolocal.Shared(t)
	pool, err := srv.CreatePool(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	code = func(email string) string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := srv.Code(ctx, email, cognitolocal.TargetSignUp)
		if err != nil {
			t.Fatalf("no code for %s: %v", email, err)
		}
		return c
	}
	env = append([]string{
		"CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN=" + mysqltest.NewDatabase(t), "CLOUDPOST_MIGRATE=auto",
		"CLOUDPOST_AUTH=cognito", "CLOUDPOST_COGNITO_REGION=" + pool.Region,
		"CLOUDPOST_COGNITO_USER_POOL_ID=" + pool.UserPoolID, "CLOUDPOST_COGNITO_CLIENT_ID=" + pool.ClientID,
		"CLOUDPOST_COGNITO_ENDPOINT=" + pool.Endpoint,
	}, extra...)
	return env, code
}
