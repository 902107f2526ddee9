// Package mysqltest gives tests outside adapters/mysqlstore (the apps'
// end-to-end tests with CLOUDPOST_STORAGE=mysql) a fresh, migrated MySQL
// database of their own on the server scripts/ci/mariadb.sh runs.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
)

// DefaultDSNs are tried in order when CLOUDPOST_TEST_MYSQL_DSN is not set:
// root over TCP, then the test user scripts/ci/mariadb.sh creates.
var DefaultDSNs = []string{"root@tcp(127.0.0.1:3306)/", "cloudpost_test:cloudpost@tcp(127.0.0.1:3306)/"}

type server struct {
	db  *sql.DB
	dsn string
}

var admin = sync.OnceValues(func() (server, error) {
	candidates := DefaultDSNs
	if dsn := os.Getenv("CLOUDPOST_TEST_MYSQL_DSN"); dsn != "" {
		candidates = []string{dsn}
	}
	var errs []error
	for _, dsn := range candidates {
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mc.DBName, mc.Timeout = "", 2*time.Second
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(2)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err != nil {
			db.Close()
			errs = append(errs, err)
			continue
		}
		return server{db, dsn}, nil
	}
	return server{}, errors.Join(errs...)
})

// NewDatabase creates an empty database named cpt_<random> on the test
// server (CLOUDPOST_TEST_MYSQL_DSN, else DefaultDSNs), applies the
// migrations, drops it when the test ends and returns its DSN (usable as
// CLOUDPOST_MYSQL_DSN). Without a server it fails the test when CI=true and
// skips it otherwise.
func NewDatabase(t testing.TB) string {
	t.Helper()
	srv, err := admin()
	if err != nil {
		msg := "no MySQL/MariaDB answers (CLOUDPOST_TEST_MYSQL_DSN, else " + strings.Join(DefaultDSNs, ", ") + "): " +
			err.Error() + "; start one with scripts/ci/mariadb.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cpt_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := srv.db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("mysqltest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := srv.db.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("mysqltest: drop database %s: %v", name, err)
		}
	})
	mc, err := mysql.ParseDSN(srv.dsn)
	if err != nil {
		t.Fatal(err)
	}
	mc.DBName = name
	dsn := mc.FormatDSN()
	db, err := mysqlstore.OpenDB(mysqlstore.DefaultConfig(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := mysqlstore.MigrateUpIfPending(ctx, db); err != nil {
		t.Fatalf("mysqltest: migrate: %v", err)
	}
	return dsn
}
