package cognitoauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

func TestConfigFromEnvironment(t *testing.T) {
	var c cognitoauth.Config
	err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{
		"CLOUDPOST_COGNITO_REGION":           "eu-west-1",
		"CLOUDPOST_COGNITO_USER_POOL_ID":     "eu-west-1_AbCdEf123",
		"CLOUDPOST_COGNITO_CLIENT_ID":        "1example23456789",
		"CLOUDPOST_COGNITO_EXTRA_CLIENT_IDS": "webclient1,mobileclient2",
		"CLOUDPOST_COGNITO_DOMAIN":           "https://auth.example.com",
		"CLOUDPOST_COGNITO_REDIRECT_URLS":    "https://api.example.com/v1/auth/oauth/callback",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.IssuerURL(); got != "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123" {
		t.Errorf("IssuerURL = %s", got)
	}
	if got := c.JWKSURL(); got != "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json" {
		t.Errorf("JWKSURL = %s", got)
	}
	if got := strings.Join(c.ClientIDs(), ","); got != "1example23456789,webclient1,mobileclient2" {
		t.Errorf("ClientIDs = %s", got)
	}
	if strings.Join(c.OAuthProviders, ",") != "google,apple" || c.StateTTL != 10*time.Minute {
		t.Errorf("defaults: %v %v", c.OAuthProviders, c.StateTTL)
	}

	c.Endpoint = "http://127.0.0.1:9229"
	if c.IssuerURL() != "http://127.0.0.1:9229/eu-west-1_AbCdEf123" || c.JWKSURL() != "http://127.0.0.1:9229/eu-west-1_AbCdEf123/.well-known/jwks.json" {
		t.Errorf("emulator URLs: %s %s", c.IssuerURL(), c.JWKSURL())
	}
	c.Issuer = "http://localhost:9229/eu-west-1_AbCdEf123/"
	if c.IssuerURL() != "http://localhost:9229/eu-west-1_AbCdEf123" {
		t.Errorf("explicit issuer: %s", c.IssuerURL())
	}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	good := cognitoauth.Config{Region: "eu-west-1", UserPoolID: "eu-west-1_AbCdEf123", ClientID: "1example23456789", StateTTL: 10 * time.Minute, OAuthProviders: []string{"google"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*cognitoauth.Config){
		"CLOUDPOST_COGNITO_REGION":           func(c *cognitoauth.Config) { c.Region = "" },
		"CLOUDPOST_COGNITO_USER_POOL_ID":     func(c *cognitoauth.Config) { c.UserPoolID = "pool" },
		"CLOUDPOST_COGNITO_CLIENT_ID":        func(c *cognitoauth.Config) { c.ClientID = "bad id!" },
		"CLOUDPOST_COGNITO_EXTRA_CLIENT_IDS": func(c *cognitoauth.Config) { c.ExtraClientIDs = []string{""} },
		"CLOUDPOST_COGNITO_ENDPOINT":         func(c *cognitoauth.Config) { c.Endpoint = "localhost:9229" },
		"CLOUDPOST_COGNITO_ISSUER":           func(c *cognitoauth.Config) { c.Issuer = "ftp://x" },
		"CLOUDPOST_COGNITO_DOMAIN": func(c *cognitoauth.Config) {
			c.Domain = "http://auth.example.com"
			c.RedirectURLs = []string{"https://a.example/cb"}
		},
		"CLOUDPOST_COGNITO_REDIRECT_URLS": func(c *cognitoauth.Config) { c.Domain = "https://auth.example.com" },
		"CLOUDPOST_COGNITO_OAUTH_PROVIDERS": func(c *cognitoauth.Config) {
			c.Domain, c.RedirectURLs, c.OAuthProviders = "https://auth.example.com", []string{"https://a.example/cb"}, []string{"myspace"}
		},
		"CLOUDPOST_COGNITO_STATE_SECRET": func(c *cognitoauth.Config) {
			c.Domain, c.RedirectURLs, c.StateSecret = "https://auth.example.com", []string{"https://a.example/cb"}, "short"
		},
		"CLOUDPOST_COGNITO_STATE_TTL": func(c *cognitoauth.Config) {
			c.Domain, c.RedirectURLs, c.StateTTL = "https://auth.example.com", []string{"https://a.example/cb"}, time.Hour*2
		},
	}
	// Client ids are at most 128 characters.
	long := good
	long.ClientID = strings.Repeat("c", 128)
	if err := long.Validate(); err != nil {
		t.Errorf("a 128-character client id: %v", err)
	}
	long.ClientID += "c"
	if err := long.Validate(); err == nil || !strings.Contains(err.Error(), "CLOUDPOST_COGNITO_CLIENT_ID") {
		t.Errorf("a 129-character client id: %v", err)
	}
	for name, mut := range cases {
		c := good
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
		if _, nerr := cognitoauth.New(c, cognitoauth.Options{}); nerr == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

// TestModule validates the fx graph and checks that building it does no
// I/O: the endpoint is never contacted before the first call.
func TestModule(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	cfg := cognitoauth.Config{Region: "eu-west-1", UserPoolID: "eu-west-1_AbCdEf123", ClientID: "1example23456789", Endpoint: srv.URL}
	opts := []fx.Option{
		fx.Supply(cfg),
		fx.Provide(func() ports.Clock { return system.Clock{} }),
		cognitoauth.Module,
	}
	if err := fx.ValidateApp(append(opts, fx.Invoke(func(ports.Identity, ports.TokenVerifier) {}))...); err != nil {
		t.Fatal(err)
	}
	var id ports.Identity
	var v ports.TokenVerifier
	app := fx.New(append(opts, fx.Populate(&id, &v), fx.NopLogger)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer app.Stop(ctx)
	if id == nil || v == nil || hits.Load() != 0 {
		t.Fatalf("identity %v, verifier %v, %d requests before the first call", id, v, hits.Load())
	}
	// The fake answers 200 with an empty body: not a key set.
	if _, err := v.Verify(ctx, "a.b.c"); domain.ErrorCode(err) != domain.Unauthenticated {
		t.Fatalf("Verify garbage: %v", err)
	}
	p, err := cognitoauth.New(cfg, cognitoauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	srv.Close()
	if err := p.Ping(ctx); domain.ErrorCode(err) != domain.Unavailable {
		t.Fatalf("Ping of a closed endpoint: %v", err)
	}
}
