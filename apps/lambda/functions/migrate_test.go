package functions_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

func TestMigrateHandler(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MySQL.DSN = scratch.NewDatabase(t) // empty: the handler migrates it
	app, err := functions.Start(context.Background(), cfg, functions.Config{Handler: functions.HandlerMigrate})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Stop(context.Background())
	invoke := func(payload string) (functions.MigrateResponse, error) {
		var r functions.MigrateResponse
		out, err := app.Handler.Invoke(lambdaCtx("m"), []byte(payload))
		if err == nil {
			err = json.Unmarshal(out, &r)
		}
		return r, err
	}
	r, err := invoke(`{"command":"status"}`)
	if err != nil || r.Command != "status" || !strings.Contains(r.Output, "pending") || strings.Contains(r.Output, "applied") {
		t.Fatalf("status before: %+v %v", r, err)
	}
	// An empty event (sam remote invoke without --event) means up.
	r, err = invoke(`{}`)
	if err != nil || r.Command != "up" || !strings.Contains(r.Output, "00001") {
		t.Fatalf("up: %+v %v", r, err)
	}
	r, err = invoke(`{"command":"status"}`)
	if err != nil || strings.Contains(r.Output, "pending") || !strings.Contains(r.Output, "applied") {
		t.Fatalf("status after: %+v %v", r, err)
	}
	if r, err = invoke(`{"command":"up"}`); err != nil || !strings.Contains(r.Output, "no pending migrations") {
		t.Errorf("up again: %+v %v", r, err)
	}
	if _, err := invoke(`{"command":"sideways"}`); err == nil || !strings.Contains(err.Error(), "unknown migrate command") {
		t.Errorf("bad command: %v", err)
	}
	if _, err := invoke(`"up"`); err == nil {
		t.Error("a malformed event was accepted")
	}
}

func TestMigrateHandlerNamesMissingSettings(t *testing.T) {
	t.Parallel()
	app := startApp(t, testConfig(t), functions.HandlerMigrate)
	_, err := app.Handler.Invoke(lambdaCtx("m"), nil)
	if err == nil || !strings.Contains(err.Error(), "CLOUDPOST_MYSQL_DSN") {
		t.Errorf("migrate without a DSN: %v", err)
	}
}
