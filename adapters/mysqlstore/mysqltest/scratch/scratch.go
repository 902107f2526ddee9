// Package scratch gives tests (and the load tool) empty databases of their
// own on the MySQL or MariaDB server scripts/ci/mariadb.sh runs (or
// CLOUDPOST_TEST_MYSQL_DSN). It does not import the adapter, so the
// adapter's own tests can use it; package mysqltest adds the migrations on
// top.
package scratch

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultDSNs are tried in order when CLOUDPOST_TEST_MYSQL_DSN is not set:
// root over TCP (how these machines come), then the user
// scripts/ci/mariadb.sh creates (for a fresh install, where root may only
// log in over the socket).
var DefaultDSNs = []string{"root@tcp(127.0.0.1:3306)/", "cloudpost_test:cloudpost@tcp(127.0.0.1:3306)/"}

type server struct {
	db  *sql.DB
	dsn string
}

// admin is the pool databases are created and dropped with, and its DSN.
var admin = sync.OnceValues(func() (server, error) {
	candidates := DefaultDSNs
	if dsn := os.Getenv("CLOUDPOST_TEST_MYSQL_DSN"); dsn != "" {
		candidates = []string{dsn}
	}
	var errs []error
	for _, dsn := range candidates {
		db, err := open(dsn)
		if err == nil {
			return server{db, dsn}, nil
		}
		errs = append(errs, err)
	}
	return server{}, errors.Join(errs...)
})

func open(dsn string) (*sql.DB, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	mc.DBName, mc.Timeout = "", 2*time.Second
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

// Server returns the admin pool (no database selected). Without a server it
// fails the test when CI=true and skips it otherwise, saying how to start
// one.
func Server(t testing.TB) *sql.DB {
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
	return srv.db
}

// ServerDSN returns the DSN (no database) of the test server; see Server
// for a missing server.
func ServerDSN(t testing.TB) string {
	t.Helper()
	Server(t)
	srv, _ := admin()
	return srv.dsn
}

// NewDatabase creates an empty utf8mb4 database named cpt_<random>, drops
// it when the test ends and returns its DSN. See Server for a missing
// server.
func NewDatabase(t testing.TB) string {
	t.Helper()
	db := Server(t)
	srv, _ := admin()
	dsn, drop, err := Create(context.Background(), db, srv.dsn)
	if err != nil {
		t.Fatalf("scratch: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("scratch: %v", err)
		}
	})
	return dsn
}

// Create creates an empty utf8mb4 database named cpt_<random> through db,
// a pool on serverDSN without a database, and returns the new database's
// DSN and a function that drops it.
func Create(ctx context.Context, db *sql.DB, serverDSN string) (dsn string, drop func(context.Context) error, err error) {
	mc, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cpt_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop = func(ctx context.Context) error {
		if _, err := db.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	mc.DBName = name
	return mc.FormatDSN(), drop, nil
}
