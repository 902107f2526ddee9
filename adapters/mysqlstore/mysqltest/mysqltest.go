// Package mysqltest gives tests outside adapters/mysqlstore (the apps'
// end-to-end tests with CLOUDPOST_STORAGE=mysql) a fresh, migrated MySQL
// database of their own on the server scripts/ci/mariadb.sh runs.
package mysqltest

import (
	"context"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
)

// NewDatabase creates an empty database on the test server
// (scratch.NewDatabase: CLOUDPOST_TEST_MYSQL_DSN, else scratch.DefaultDSNs),
// applies the migrations, drops it when the test ends and returns its DSN
// (usable as CLOUDPOST_MYSQL_DSN). Without a server it fails the test when
// CI=true and skips it otherwise.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn := scratch.NewDatabase(t)
	db, err := mysqlstore.OpenDB(mysqlstore.DefaultConfig(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := mysqlstore.MigrateUpIfPending(context.Background(), db); err != nil {
		t.Fatalf("mysqltest: migrate: %v", err)
	}
	return dsn
}
