package mysqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
	"github.com/go-sql-driver/mysql"
)

// The tests run against a real MySQL or MariaDB server (see package
// scratch: CLOUDPOST_TEST_MYSQL_DSN, by default the one scripts/ci/mariadb.sh
// starts on 127.0.0.1:3306). Every store they make gets a fresh database,
// a copy of one migrated template (migrated once per test binary), dropped
// at cleanup, so tests run in parallel and leave nothing behind.

// requireServer returns the admin pool, or fails (CI=true) or skips the
// test when no server answers.
func requireServer(t testing.TB) *sql.DB { return scratch.Server(t) }

// migrated is the template of the tests' migrated databases.
var migrated = &scratch.Template{Setup: func(ctx context.Context, dsn string) error {
	db, err := OpenDB(DefaultConfig(), dsn, true)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = MigrateUpIfPending(ctx, db)
	return err
}}

// testDatabase creates a database, migrated unless bare, drops it at
// cleanup and returns its DSN.
func testDatabase(t testing.TB, bare bool) string {
	t.Helper()
	if bare {
		return scratch.NewDatabase(t)
	}
	return migrated.NewDatabase(t)
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

// testOpenTxDB opens a transaction pool (autocommit off) like Open does,
// closed at cleanup.
func testOpenTxDB(t testing.TB, dsn string, c Config) *sql.DB {
	t.Helper()
	db, err := openDB(c, dsn, true, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testStoreOn returns a store over dsn with the pools Open makes (writer
// and transactions; no replica); o.Transactions is set.
func testStoreOn(t testing.TB, dsn string, c Config, o Options) *Store {
	t.Helper()
	o.Transactions = testOpenTxDB(t, dsn, c)
	return NewFromDB(testOpenDB(t, dsn, c), nil, o)
}

// newTestStore returns a store over a fresh database (writer and
// transaction pools).
func newTestStore(t testing.TB, o Options) *Store {
	t.Helper()
	return testStoreOn(t, testDatabase(t, false), DefaultConfig(), o)
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
