package fxmodules_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
)

// TestServerAppGraphIsComplete validates the fx graph of every adapter
// combination the configuration allows, without starting anything.
func TestServerAppGraphIsComplete(t *testing.T) {
	combos := map[string][]string{
		"memory": nil,
		"mysql":  {"CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN=cloudpost:pw@tcp(db.example.com:3306)/cloudpost"},
		"s3":     {"CLOUDPOST_BLOB=s3", "CLOUDPOST_S3_BUCKET=media-bucket", "CLOUDPOST_S3_REGION=eu-west-1"},
		"cognito": {"CLOUDPOST_AUTH=cognito", "CLOUDPOST_COGNITO_REGION=eu-west-1", "CLOUDPOST_COGNITO_USER_POOL_ID=eu-west-1_abc123",
			"CLOUDPOST_COGNITO_CLIENT_ID=client123", "CLOUDPOST_COGNITO_DOMAIN=https://auth.example.com",
			"CLOUDPOST_COGNITO_REDIRECT_URLS=https://app.example.com/callback"},
	}
	for name, env := range combos {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(env)
			if err != nil {
				t.Fatal(err)
			}
			if err := fx.ValidateApp(fxmodules.Server(cfg)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestServerStartsAndStopsGracefully(t *testing.T) {
	cfg, err := config.Load([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=error"})
	if err != nil {
		t.Fatal(err)
	}
	var ep *fxmodules.Endpoint
	app := fx.New(fxmodules.Server(cfg), fx.Populate(&ep), fx.NopLogger)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(ep.BaseURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(ep.BaseURL() + "/healthz"); err == nil {
		t.Error("server still answers after Stop")
	}
}
