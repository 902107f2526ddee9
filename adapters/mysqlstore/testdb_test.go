package mysqlstore

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
)

// The tests run against a real MySQL or MariaDB server: the one of
// CLOUDPOST_TEST_MYSQL_DSN (a DSN without database name whose user may
// create and drop databases named cpt_*), by default the one on
// 127.0.0.1:3306 that scripts/ci/mariadb.sh installs and starts. Every store they make gets a
// fresh database (cpt_<random>), migrated up and dropped at cleanup, so
// tests run in parallel and leave nothing behind.

// testDSNs are tried in order when CLOUDPOST_TEST_MYSQL_DSN is not set:
// root over TCP (how these machines come), then the user
// scripts/ci/mariadb.sh creates (for a fresh install, where root may only
// log in over the socket).
var testDSNs = []string{"root@tcp(127.0.0.1:3306)/", "cloudpost_test:cloudpost@tcp(127.0.0.1:3306)/"}

// testServer is the admin pool the helpers create and drop databases with,
// and the DSN it was opened with.
var testServer = sync.OnceValues(func() (testServerInfo, error) {
	candidates := testDSNs
	if dsn := os.Getenv("CLOUDPOST_TEST_MYSQL_DSN"); dsn != "" {
		candidates = []string{dsn}
	}
	var errs []error
	for _, dsn := range candidates {
		db, err := openAdmin(dsn)
		if err == nil {
			return testServerInfo{db, dsn}, nil
		}
		errs = append(errs, err)
	}
	return testServerInfo{}, errors.Join(errs...)
})

type testServerInfo struct {
	db  *sql.DB
	dsn string
}

func openAdmin(dsn string) (*sql.DB, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	mc.DBName = ""
	mc.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// requireServer returns the admin pool, or fails (CI=true) or skips the
// test when no server answers.
func requireServer(t testing.TB) *sql.DB {
	t.Helper()
	srv, err := testServer()
	if err != nil {
		msg := "no MySQL/MariaDB answers (CLOUDPOST_TEST_MYSQL_DSN, else " + strings.Join(testDSNs, ", ") + "): " +
			err.Error() + "; start one with scripts/ci/mariadb.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return srv.db
}

// testDatabase creates an empty database, migrated up unless bare, drops it
// at cleanup and returns its DSN.
func testDatabase(t testing.TB, bare bool) string {
	t.Helper()
	admin := requireServer(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cpt_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	srv, _ := testServer()
	mc, err := mysql.ParseDSN(srv.dsn)
	if err != nil {
		t.Fatal(err)
	}
	mc.DBName = name
	dsn := mc.FormatDSN()
	if !bare {
		db := testOpenDB(t, dsn, DefaultConfig())
		if _, err := MigrateUpIfPending(ctx, db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	return dsn
}

// testOpenDB opens a pool like Open does, closed at cleanup.
func testOpenDB(t testing.TB, dsn string, c Config) *sql.DB {
	t.Helper()
	db, err := OpenDB(c, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestStore returns a store over a fresh database (writer only).
func newTestStore(t testing.TB, o Options) *Store {
	t.Helper()
	db := testOpenDB(t, testDatabase(t, false), DefaultConfig())
	return NewFromDB(db, nil, o)
}

// testDBName returns the database name of dsn.
func testDBName(t testing.TB, dsn string) string {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return mc.DBName
}

// testCount returns SELECT COUNT(*) ... for query on db.
func testCount(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", strings.Fields(query)[0], err)
	}
	return n
}
