// Package scratch gives tests (and the load tool) empty databases of their
// own on the MySQL or MariaDB server scripts/ci/mariadb.sh runs (or
// CLOUDPOST_TEST_MYSQL_DSN). It does not import the adapter, so the
// adapter's own tests can use it; package mysqltest adds the migrations on
// top.
//
// Databases are cheap to copy and slow to build: a Template is built once
// per test binary (by migrating it, say) and each test gets a copy of it.
//
// Every database NewDatabase and Template make is named
// cpt_<token>_<suffix>, where token is random per process, and the process
// holds the server lock cloudpost_scratch_<token> on a connection of its own
// until it exits. Test cleanups drop the databases; those of a test binary
// that died first (a timeout, a kill) are dropped by the next process that
// starts here, which finds their token's lock free. Test binaries running
// at once (go test ./...) never touch each other's databases.
package scratch

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	db.SetMaxOpenConns(8) // one of them holds the process's lock (claim)
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

// NewDatabase creates an empty utf8mb4 database, drops it when the test
// ends and returns its DSN. See Server for a missing server.
func NewDatabase(t testing.TB) string {
	t.Helper()
	srv, p := claimed(t)
	name := p.newName("")
	if err := createDatabase(context.Background(), srv.db, name); err != nil {
		t.Fatalf("scratch: %v", err)
	}
	t.Cleanup(func() { dropAtCleanup(t, srv.db, name) })
	return srv.dsnOf(name)
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

// claim is this process's hold on the server: the token in the names of
// its databases and the connection that holds the lock of that token.
type claim struct {
	token string
	lock  *sql.Conn // holds GET_LOCK(lockName(token)) until the process exits
	n     atomic.Int64
}

// ownedName matches the names claim.newName makes; its group is the token.
var ownedName = regexp.MustCompile(`^cpt_([0-9a-f]{8})_[0-9a-z]+$`)

func lockName(token string) string { return "cloudpost_scratch_" + token }

// newName returns a new database name of the process: cpt_<token>_<kind><n>.
func (c *claim) newName(kind string) string {
	return fmt.Sprintf("cpt_%s_%s%d", c.token, kind, c.n.Add(1))
}

// claimTaken tells whether theClaim has run and succeeded.
var claimTaken atomic.Bool

// theClaim takes the process's lock and drops the databases of processes
// that are gone, once per process.
var theClaim = sync.OnceValues(func() (*claim, error) {
	srv, err := admin()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := srv.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("scratch: lock connection: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &claim{token: hex.EncodeToString(b[:]), lock: conn}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lockName(c.token)).Scan(&got); err != nil || got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("scratch: GET_LOCK(%s) = %v, %v", lockName(c.token), got, err)
	}
	dropOrphans(ctx, srv.db, c.token)
	claimTaken.Store(true)
	return c, nil
})

// claimed returns the admin pool and the process's claim; see Server for a
// missing server.
func claimed(t testing.TB) (server, *claim) {
	t.Helper()
	Server(t)
	srv, _ := admin()
	c, err := theClaim()
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// dropOrphans drops the databases of every other token whose lock is free:
// their process exited without its cleanups. Best effort: a database
// another process is dropping at the same time is no error.
func dropOrphans(ctx context.Context, db *sql.DB, mine string) {
	rows, err := db.QueryContext(ctx, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'cpt\_%'`)
	if err != nil {
		return
	}
	byToken := map[string][]string{}
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			break
		}
		if m := ownedName.FindStringSubmatch(name); m != nil && m[1] != mine {
			byToken[m[1]] = append(byToken[m[1]], name)
		}
	}
	rows.Close()
	for token, names := range byToken {
		var free sql.NullInt64
		if db.QueryRowContext(ctx, "SELECT IS_FREE_LOCK(?)", lockName(token)).Scan(&free) != nil || !free.Valid || free.Int64 != 1 {
			continue
		}
		for _, name := range names {
			_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name)
		}
	}
}

// DropAll drops every database this process made that is still there
// (templates, and those of tests that have not ended); a TestMain calls it
// after m.Run. Without a server, or before any database was made, it does
// nothing.
func DropAll() error {
	if !claimTaken.Load() {
		return nil
	}
	srv, _ := admin()
	c, _ := theClaim()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := srv.db.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", "cpt\\_"+c.token+"\\_%")
	if err != nil {
		return fmt.Errorf("scratch: list databases: %w", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
	}
	rows.Close()
	var errs []error
	for _, name := range names {
		if _, err := srv.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			errs = append(errs, fmt.Errorf("scratch: drop database %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// createDatabase creates the empty utf8mb4 database name.
func createDatabase(ctx context.Context, db *sql.DB, name string) error {
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// dropAtCleanup drops name, failing t if that fails.
func dropAtCleanup(t testing.TB, db *sql.DB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		t.Errorf("scratch: drop database %s: %v", name, err)
	}
}

// dsnOf returns the DSN of database name on the server.
func (s server) dsnOf(name string) string {
	mc, _ := mysql.ParseDSN(s.dsn) // parsed once already by open
	mc.DBName = name
	return mc.FormatDSN()
}

// Template is a database built once per process, by Setup, that each
// NewDatabase copies: the definition of every table (CREATE TABLE ...
// LIKE) and its rows. That is a few statements per table instead of a
// migration per test. When the test ends its copy is emptied and given the
// template's rows again (DML only, no files to create or drop), and the
// next NewDatabase reuses it; a copy whose schema the test changed, or that
// cannot be reset, is dropped instead. A reused copy has the template's
// rows and AUTO_INCREMENT counters, like a new one.
//
// Only tables are copied: NewDatabase fails the test when Setup made views,
// triggers, routines, events or foreign keys, which a copy would lose. The
// template and the idle copies are dropped by DropAll, or at the latest by
// the next process after this one exits (see the package comment).
type Template struct {
	// Setup fills the template, an empty utf8mb4 database at dsn; it runs
	// once per process, at the first NewDatabase.
	Setup func(ctx context.Context, dsn string) error

	once     sync.Once
	err      error
	name     string
	tables   []string         // every table, in name order
	seeded   []string         // the tables with rows
	schema   string           // the template's schema (describe)
	counters map[string]int64 // its AUTO_INCREMENT counters

	mu   sync.Mutex
	idle []string // reset copies, ready for reuse
}

// NewDatabase returns the DSN of a copy of the template (building the
// template first if needed) that is the test's own until it ends. See
// Server for a missing server.
func (tp *Template) NewDatabase(t testing.TB) string {
	t.Helper()
	srv, c := claimed(t)
	tp.once.Do(func() { tp.err = tp.build(srv, c) })
	if tp.err != nil {
		t.Fatal(tp.err)
	}
	tp.mu.Lock()
	var name string
	if n := len(tp.idle); n > 0 {
		name, tp.idle = tp.idle[n-1], tp.idle[:n-1]
	}
	tp.mu.Unlock()
	if name == "" {
		name = c.newName("")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := tp.copyInto(ctx, srv.db, name); err != nil {
			_, _ = srv.db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
			t.Fatalf("scratch: copy of template %s: %v", tp.name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tp.reset(ctx, srv.db, name); err == nil {
			tp.mu.Lock()
			tp.idle = append(tp.idle, name)
			tp.mu.Unlock()
			return
		}
		dropAtCleanup(t, srv.db, name)
	})
	return srv.dsnOf(name)
}

// build creates the template, runs Setup and notes what to copy.
func (tp *Template) build(srv server, c *claim) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tp.name = c.newName("tpl")
	if err := createDatabase(ctx, srv.db, tp.name); err != nil {
		return fmt.Errorf("scratch: template: %w", err)
	}
	if err := tp.Setup(ctx, srv.dsnOf(tp.name)); err != nil {
		return fmt.Errorf("scratch: template %s: setup: %w", tp.name, err)
	}
	var other int
	err := srv.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'BASE TABLE') +
		(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?) +
		(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) +
		(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) +
		(SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?)`,
		tp.name, tp.name, tp.name, tp.name, tp.name).Scan(&other)
	if err != nil {
		return fmt.Errorf("scratch: template %s: %w", tp.name, err)
	}
	if other != 0 {
		return fmt.Errorf("scratch: template %s has %d views, triggers, routines, events or foreign keys, which copies would lose", tp.name, other)
	}
	if tp.tables, err = strings1(ctx, srv.db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", tp.name); err != nil {
		return fmt.Errorf("scratch: template %s: %w", tp.name, err)
	}
	for _, table := range tp.tables {
		var hasRows bool
		if err := srv.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+tp.name+"."+quote(table)+")").Scan(&hasRows); err != nil {
			return fmt.Errorf("scratch: template %s: %w", tp.name, err)
		}
		if hasRows {
			tp.seeded = append(tp.seeded, table)
		}
	}
	conn, err := srv.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if tp.schema, tp.counters, err = describe(ctx, conn, tp.name); err != nil {
		return fmt.Errorf("scratch: template %s: %w", tp.name, err)
	}
	return nil
}

// copyInto creates database name as a copy of the template.
func (tp *Template) copyInto(ctx context.Context, db *sql.DB, name string) error {
	if err := createDatabase(ctx, db, name); err != nil {
		return err
	}
	for _, table := range tp.tables {
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+name+"."+quote(table)+" LIKE "+tp.name+"."+quote(table)); err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
	}
	for _, table := range tp.seeded {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+name+"."+quote(table)+" SELECT * FROM "+tp.name+"."+quote(table)); err != nil {
			return fmt.Errorf("rows of %s: %w", table, err)
		}
	}
	return nil
}

// reset gives copy name the template's rows again, in one transaction,
// after checking that its schema is still the template's, and puts back
// the AUTO_INCREMENT counters that moved. Row locks still held (a
// connection the test leaked) make it fail within seconds rather than wait.
func (tp *Template) reset(ctx context.Context, db *sql.DB, name string) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil { // a transaction or a session setting may be left: discard the connection
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	schema, counters, err := describe(ctx, conn, name)
	if err != nil {
		return err
	}
	if schema != tp.schema {
		return fmt.Errorf("the schema of %s is no longer the template's", name)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 5, lock_wait_timeout = 5"); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, table := range tp.tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+name+"."+quote(table)); err != nil {
			return err
		}
	}
	for _, table := range tp.seeded {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+name+"."+quote(table)+" SELECT * FROM "+tp.name+"."+quote(table)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// Back to the template's counters (DDL, so after the commit; with the
	// rows back, 1 means the lowest they allow).
	for table, n := range counters {
		if n != tp.counters[table] {
			if _, err := conn.ExecContext(ctx, "ALTER TABLE "+name+"."+quote(table)+" AUTO_INCREMENT = 1"); err != nil {
				return err
			}
		}
	}
	_, err = conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = DEFAULT, lock_wait_timeout = DEFAULT")
	return err
}

// describe returns the schema of database name (its tables, columns,
// indexes, checks and other objects, one line each, sorted) and the
// AUTO_INCREMENT counter of each table that has one.
func describe(ctx context.Context, conn *sql.Conn, name string) (schema string, counters map[string]int64, err error) {
	// MySQL 8 caches information_schema.TABLES for a day by default;
	// MariaDB has no such cache, nor the variable.
	_, _ = conn.ExecContext(ctx, "SET SESSION information_schema_stats_expiry = 0")
	rows, err := conn.QueryContext(ctx, `
		SELECT 'a', TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND AUTO_INCREMENT IS NOT NULL
		UNION ALL SELECT 's', CONCAT_WS('|', 't', TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION), 0 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?
		UNION ALL SELECT 's', CONCAT_WS('|', 'c', TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE,
			IFNULL(COLUMN_DEFAULT, 'NULL'), EXTRA, IFNULL(COLLATION_NAME, '')), 0 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?
		UNION ALL SELECT 's', CONCAT_WS('|', 'i', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, IFNULL(SUB_PART, ''), NON_UNIQUE, INDEX_TYPE), 0
			FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?
		UNION ALL SELECT 's', CONCAT_WS('|', 'k', CONSTRAINT_NAME, CHECK_CLAUSE), 0 FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?
		UNION ALL SELECT 's', CONCAT_WS('|', 'r', TRIGGER_NAME), 0 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
		UNION ALL SELECT 's', CONCAT_WS('|', 'p', ROUTINE_NAME), 0 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?
		UNION ALL SELECT 's', CONCAT_WS('|', 'e', EVENT_NAME), 0 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
		name, name, name, name, name, name, name, name)
	if err != nil {
		return "", nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	defer rows.Close()
	var lines []string
	counters = map[string]int64{}
	for rows.Next() {
		var kind, line string
		var n int64
		if err := rows.Scan(&kind, &line, &n); err != nil {
			return "", nil, fmt.Errorf("schema of %s: %w", name, err)
		}
		if kind == "a" {
			counters[line] = n
		} else {
			lines = append(lines, line)
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), counters, nil
}

// strings1 returns the one string column of query's rows.
func strings1(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// quote quotes an identifier with backticks.
func quote(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }
