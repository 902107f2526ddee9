package mysqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestTemplateCopiesAreMigratedDatabases: what testDatabase hands out, a
// copy of the migrated template, new or reused after a test wrote to it,
// has the tables, rows and AUTO_INCREMENT counters of a database migrated
// from scratch; a copy whose schema a test changed is dropped, not reused.
func TestTemplateCopiesAreMigratedDatabases(t *testing.T) {
	admin := requireServer(t)
	fresh := testDatabase(t, true)
	if _, err := MigrateUpIfPending(t.Context(), testOpenDB(t, fresh, DefaultConfig())); err != nil {
		t.Fatal(err)
	}
	want := dumpDatabase(t, admin, testDBName(t, fresh))

	var written string
	t.Run("new", func(t *testing.T) {
		dsn := testDatabase(t, false)
		written = testDBName(t, dsn)
		if got := dumpDatabase(t, admin, written); got != want {
			t.Fatalf("a copy of the template:\n%s\nmigrated from scratch:\n%s", got, want)
		}
		s := NewFromDB(testOpenDB(t, dsn, DefaultConfig()), nil, Options{})
		id := porttest.NewID()
		if _, err := s.CreateProfile(t.Context(), domain.Profile{ID: id, Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreatePost(t.Context(), domain.Post{ID: porttest.NewID(), AuthorID: id, Body: "moves the feed's counter"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reused", func(t *testing.T) {
		name := testDBName(t, testDatabase(t, false))
		if name != written {
			t.Logf("got %s, not the copy %s the last test wrote to (another test took it)", name, written)
		}
		if got := dumpDatabase(t, admin, name); got != want {
			t.Fatalf("a reused copy:\n%s\nmigrated from scratch:\n%s", got, want)
		}
	})
	var altered string
	t.Run("schema changed", func(t *testing.T) {
		dsn := testDatabase(t, false)
		altered = testDBName(t, dsn)
		if _, err := testOpenDB(t, dsn, DefaultConfig()).ExecContext(t.Context(), "ALTER TABLE profiles ADD COLUMN scratch_test INT NULL"); err != nil {
			t.Fatal(err)
		}
	})
	if n := testCount(t, admin, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", altered); n != 0 {
		t.Errorf("the copy %s whose schema a test changed is still there", altered)
	}
}

// dumpDatabase describes database name: each table's SHOW CREATE TABLE
// (which names a moved AUTO_INCREMENT counter) and its rows, with times
// left out.
func dumpDatabase(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME, GROUP_CONCAT(IF(DATA_TYPE IN ('datetime', 'timestamp', 'date', 'time'), "+
		"'''<time>''', CONCAT('`', COLUMN_NAME, '`')) ORDER BY ORDINAL_POSITION SEPARATOR ', ') "+
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? GROUP BY TABLE_NAME ORDER BY TABLE_NAME", name)
	if err != nil {
		t.Fatal(err)
	}
	type table struct{ name, columns string }
	var tables []table
	for rows.Next() {
		var tb table
		if err := rows.Scan(&tb.name, &tb.columns); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	rows.Close()
	var b strings.Builder
	for _, tb := range tables {
		var n, create string
		if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+name+"."+tb.name).Scan(&n, &create); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s\n", create)
		rows, err := db.QueryContext(ctx, "SELECT CONCAT_WS(' | ', "+tb.columns+") FROM "+name+"."+tb.name+" ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row sql.NullString
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  row %s\n", row.String)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}
