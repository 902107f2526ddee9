package scratch

import (
	"context"
	"database/sql"
	"testing"
)

// TestOrphansAreDropped: a process's first claim drops the databases of
// tokens whose lock is free (their process died before its cleanups) and
// leaves those of live processes, its own, and names it did not make.
func TestOrphansAreDropped(t *testing.T) {
	srv, c := claimed(t)
	ctx := t.Context()
	live, err := srv.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	var got sql.NullInt64
	if err := live.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lockName("0000aaaa")).Scan(&got); err != nil || got.Int64 != 1 {
		t.Fatalf("GET_LOCK: %v %v", got, err)
	}
	dead, alive, mine, other := "cpt_0000dead_1", "cpt_0000aaaa_1", c.newName(""), "cpt_0000dead"
	for _, name := range []string{dead, alive, mine, other} {
		if err := createDatabase(ctx, srv.db, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = srv.db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	}

	dropOrphans(ctx, srv.db, c.token)

	exists := func(name string) bool {
		var n int
		if err := srv.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if exists(dead) {
		t.Errorf("%s, whose lock is free, is still there", dead)
	}
	for _, name := range []string{alive, mine, other} {
		if !exists(name) {
			t.Errorf("%s was dropped", name)
		}
	}
}

// TestDropAll drops the process's databases, and only those (not even
// one named like its token without the suffix).
func TestDropAll(t *testing.T) {
	srv, c := claimed(t)
	ctx := t.Context()
	mine, other := c.newName("x"), "cpt_"+c.token
	for _, name := range []string{mine, other} {
		if err := createDatabase(ctx, srv.db, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = srv.db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	}
	if err := DropAll(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := srv.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?)", mine, other).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d of %s and %s left, want only the latter", n, mine, other)
	}
}
