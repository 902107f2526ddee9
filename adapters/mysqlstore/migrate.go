package mysqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the versioned schema migrations (goose SQL files),
// compiled into every binary.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migration commands of Migrate.
const (
	MigrateUp     = "up"
	MigrateDown   = "down"
	MigrateStatus = "status"
)

// migrateConns is how many connections goose needs at once: one it runs
// the migrations on, one for its lock and one for the lock's heartbeat.
const migrateConns = 3

// widenPool lets db open migrateConns connections until the returned
// function restores its limit: with fewer (CLOUDPOST_MYSQL_MAX_OPEN_CONNS=1
// is sane on Lambda) goose would wait for a connection it holds itself.
func widenPool(db *sql.DB) (restore func()) {
	n := db.Stats().MaxOpenConnections
	if n == 0 || n >= migrateConns {
		return func() {}
	}
	db.SetMaxOpenConns(migrateConns)
	return func() { db.SetMaxOpenConns(n) }
}

// newProvider returns a goose provider over the embedded migrations that
// uses no goose global state, and serialises concurrent runs (several
// instances starting with CLOUDPOST_MIGRATE=auto) with goose's table lock:
// a row in goose_lock, not GET_LOCK, which needs no session state and so
// also works through RDS Proxy.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewMySQLTableLocker(lock.WithTableLockTimeout(time.Second, 300))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectMySQL, db, sub,
		goose.WithDisableGlobalRegistry(true),
		goose.WithLocker(locker),
		goose.WithLogger(goose.NopLogger()),
	)
}

// Migrate runs a migration command against db and writes what it did to
// out: "up" applies every pending migration, "down" rolls back the latest
// one, "status" lists each migration and when it was applied. The lead's
// `cloudpost migrate up|down|status` calls it with the writer pool (see
// OpenDB). Returns an error naming the failed migration.
func Migrate(ctx context.Context, db *sql.DB, command string, out io.Writer) error {
	defer widenPool(db)()
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	switch command {
	case MigrateUp:
		res, err := p.Up(ctx)
		for _, r := range res {
			fmt.Fprintln(out, r)
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(res) == 0 {
			v, _ := p.GetDBVersion(ctx)
			fmt.Fprintf(out, "no pending migrations (version %d)\n", v)
		}
		return nil
	case MigrateDown:
		r, err := p.Down(ctx)
		if r != nil {
			fmt.Fprintln(out, r)
		}
		if errors.Is(err, goose.ErrNoNextVersion) {
			fmt.Fprintln(out, "no migration to roll back")
			return nil
		}
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		return nil
	case MigrateStatus:
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, m := range st {
			applied := "pending"
			if m.State == goose.StateApplied {
				applied = "applied " + m.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(out, "%-5d %-30s %s\n", m.Source.Version, m.Source.Path, applied)
		}
		return nil
	}
	return fmt.Errorf("unknown migrate command %q (up, down or status)", command)
}

// MigrateUpIfPending applies pending migrations and reports how many it
// applied; CLOUDPOST_MIGRATE=auto runs it at start-up.
func MigrateUpIfPending(ctx context.Context, db *sql.DB) (int, error) {
	defer widenPool(db)()
	p, err := newProvider(db)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil || !pending {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	return len(res), nil
}
