package functions_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// migrateAdminDSNs are tried when CLOUDPOST_TEST_MYSQL_DSN is not set (the
// same servers the mysqlstore tests use; scripts/ci/mariadb.sh starts one).
var migrateAdminDSNs = []string{"root@tcp(127.0.0.1:3306)/", "cloudpost_test:cloudpost@tcp(127.0.0.1:3306)/"}

// migrateDatabase creates an empty database, dropped at cleanup, and
// returns its DSN.
func migrateDatabase(t *testing.T) string {
	t.Helper()
	candidates := migrateAdminDSNs
	if dsn := os.Getenv("CLOUDPOST_TEST_MYSQL_DSN"); dsn != "" {
		candidates = []string{dsn}
	}
	var admin *sql.DB
	var adminCfg *mysql.Config
	var errs []string
	for _, dsn := range candidates {
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		mc.DBName, mc.Timeout = "", 2*time.Second
		db, err := sql.Open("mysql", mc.FormatDSN())
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err = db.PingContext(ctx)
			cancel()
		}
		if err == nil {
			admin, adminCfg = db, mc
			break
		}
		errs = append(errs, err.Error())
	}
	if admin == nil {
		msg := "no MySQL/MariaDB answers (" + strings.Join(candidates, ", ") + "): " + strings.Join(errs, "; ") +
			"; start one with scripts/ci/mariadb.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cpt_lambda_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		admin.Close()
	})
	mc := adminCfg.Clone()
	mc.DBName = name
	return mc.FormatDSN()
}

func TestMigrateHandler(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MySQL.DSN = migrateDatabase(t)
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
