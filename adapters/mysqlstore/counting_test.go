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
}

func (c *countingConnector) record(what string) {
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
	mc, err := driverConfig(c, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConnector{Connector: conn}
	db := sql.OpenDB(cc)
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	t.Cleanup(func() { db.Close() })
	return db, cc
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
