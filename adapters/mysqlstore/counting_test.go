package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// countingConnector wraps the driver's connector and records every round
// trip a statement costs: queries and execs sent as text, prepares and
// executions of prepared statements, BEGIN, COMMIT and ROLLBACK.
type countingConnector struct {
	driver.Connector
	mu   sync.Mutex
	on   bool
	sent []string
	sink *countingConnector // records go there instead when set
}

func (c *countingConnector) record(what string) {
	if c.sink != nil {
		c.sink.record(what)
		return
	}
	c.mu.Lock()
	if c.on {
		c.sent = append(c.sent, what)
	}
	c.mu.Unlock()
}

// count runs fn and returns the statements it sent.
func (c *countingConnector) count(fn func()) []string {
	c.mu.Lock()
	c.on, c.sent = true, nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.sent
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: c}, nil
}

type countingConn struct {
	driver.Conn
	c *countingConnector
}

var (
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
)

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.c.record("BEGIN")
	return &countingTx{Tx: tx, c: c.c}, nil
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.record(q)
	}
	return rows, err
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
	if !errors.Is(err, driver.ErrSkip) {
		c.c.record(q)
	}
	return res, err
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.c.record("PREPARE " + q)
	return &countingStmt{Stmt: st, c: c.c, q: q}, nil
}

func (c *countingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *countingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *countingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(v)
}

type countingTx struct {
	driver.Tx
	c *countingConnector
}

func (t *countingTx) Commit() error   { t.c.record("COMMIT"); return t.Tx.Commit() }
func (t *countingTx) Rollback() error { t.c.record("ROLLBACK"); return t.Tx.Rollback() }

type countingStmt struct {
	driver.Stmt
	c *countingConnector
	q string
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.record("EXECUTE " + s.q)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.record("EXECUTE " + s.q)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *countingStmt) CheckNamedValue(v *driver.NamedValue) error {
	if nc, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

// countingDB opens a pool over dsn configured like OpenDB, through a
// counting connector.
func countingDB(t testing.TB, dsn string, c Config) (*sql.DB, *countingConnector) {
	t.Helper()
	return countingPool(t, dsn, c, false, nil)
}

// countingPool opens a pool over dsn configured like openDB, through a
// counting connector that records into sink (its own when nil).
func countingPool(t testing.TB, dsn string, c Config, forTransactions bool, sink *countingConnector) (*sql.DB, *countingConnector) {
	t.Helper()
	mc, err := driverConfig(c, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	if forTransactions {
		mc.Params = map[string]string{"autocommit": "0"}
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConnector{Connector: conn, sink: sink}
	db := sql.OpenDB(cc)
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	t.Cleanup(func() { db.Close() })
	return db, cc
}

// countingStore returns a store over dsn with the pools Open makes (a
// writer pool and a transaction pool), both recording into the returned
// counter. Each pool holds one connection that never expires, so
// questions can read the server's per-session Questions counters.
func countingStore(t testing.TB, dsn string, o Options) (*Store, *countingConnector) {
	t.Helper()
	c := DefaultConfig()
	c.MaxOpenConns, c.MaxIdleConns = 1, 1
	w, counter := countingPool(t, dsn, c, false, nil)
	txs, _ := countingPool(t, dsn, c, true, counter)
	for _, db := range []*sql.DB{w, txs} {
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
	}
	o.Transactions = txs
	return NewFromDB(w, nil, o), counter
}

// questions returns the statements the store's two sessions have run, by
// the server's count (MariaDB's and MySQL's Questions status variable),
// not counting these reads.
func questions(t testing.TB, s *Store) int {
	t.Helper()
	total := 0
	for _, db := range []*sql.DB{s.writer, s.txs} {
		var name string
		var n int
		if err := db.QueryRowContext(t.Context(), "SHOW SESSION STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// summarize shortens recorded statements for failure messages.
func summarize(sent []string) string {
	out := make([]string, len(sent))
	for i, s := range sent {
		if len(s) > 70 {
			s = s[:70] + "…"
		}
		out[i] = s
	}
	return "\n\t" + strings.Join(out, "\n\t")
}
