package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// Reads outside transactions run on a pooled connection through the
// driver directly (sql.Conn.Raw) instead of DB.QueryContext. Both pass the
// operation's context (request context plus QueryTimeout) to the driver,
// which watches it and breaks the connection when it ends, so timeouts and
// cancellation behave the same. What the direct path saves per statement
// is database/sql's own machinery around a result set: a derived
// cancellable context and a goroutine that waits on it to close the rows
// (two goroutine switches), the Rows and Row values and the generic
// conversions of Scan; about a third of the allocations of a primary-key
// read (see BenchmarkGetPost and the package doc).
//
// The direct path steps aside (the statement then runs through
// database/sql) when the driver needs a server-side prepared statement
// (interpolateParams=false: it answers driver.ErrSkip) or the pooled
// connection turns out broken before the statement was sent
// (driver.ErrBadConn): database/sql then prepares, or retries on another
// connection, as it always does.

// rawReadsOff disables the direct path (test hook, see export_test.go).
var rawReadsOff atomic.Bool

// errRawUnsupported says the direct path cannot run a statement.
var errRawUnsupported = errors.New("mysqlstore: direct read not possible")

// rawQuery runs a read-only query on a pooled connection of db through the
// driver and calls row for each result row; the row's values are valid
// only during the call. ok is false when the direct path could not run the
// query and nothing was sent to the server: the caller then runs it
// through database/sql.
func rawQuery(ctx context.Context, db *sql.DB, query string, args []any, row func(r rowScanner) error) (ok bool, err error) {
	if rawReadsOff.Load() {
		return false, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return true, err
	}
	// Closing returns the connection to the pool; a broken one is dropped
	// there (driver.Validator) or by Raw (driver.ErrBadConn).
	defer conn.Close()
	sent := false
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return errRawUnsupported
		}
		named, err := rawArgs(dc, args)
		if err != nil {
			return err
		}
		rows, err := qc.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		sent = true
		r := rawRow{vals: make([]driver.Value, len(rows.Columns()))}
		for {
			err = rows.Next(r.vals)
			if err != nil {
				break
			}
			if err = row(&r); err != nil {
				break
			}
		}
		cerr := rows.Close()
		if err == io.EOF {
			err = cerr
		}
		return err
	})
	if !sent && (errors.Is(err, errRawUnsupported) || errors.Is(err, driver.ErrSkip) || errors.Is(err, driver.ErrBadConn)) {
		return false, nil
	}
	return true, err
}

// rawArgs converts query arguments to driver values the way database/sql
// does: the connection's own converter first (NamedValueChecker), else the
// default one.
func rawArgs(dc any, args []any) ([]driver.NamedValue, error) {
	if len(args) == 0 {
		return nil, nil
	}
	checker, _ := dc.(driver.NamedValueChecker)
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv := driver.NamedValue{Ordinal: i + 1, Value: a}
		err := driver.ErrSkip
		if checker != nil {
			err = checker.CheckNamedValue(&nv)
		}
		if errors.Is(err, driver.ErrSkip) {
			nv.Value, err = driver.DefaultParameterConverter.ConvertValue(a)
		}
		if err != nil {
			return nil, fmt.Errorf("mysqlstore: argument %d: %w", i+1, err)
		}
		named[i] = nv
	}
	return named, nil
}

// rawRow scans the driver's values of one row into the destination types
// this package reads into, with database/sql's rules for them (a NULL into
// a plain type is an error, integers are range checked).
type rawRow struct{ vals []driver.Value }

func (r *rawRow) Scan(dest ...any) error {
	if len(dest) != len(r.vals) {
		return fmt.Errorf("mysqlstore: %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := rawAssign(d, r.vals[i]); err != nil {
			return fmt.Errorf("mysqlstore: column %d: %w", i+1, err)
		}
	}
	return nil
}

func rawAssign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *string:
		switch v := v.(type) {
		case []byte:
			*d = string(v)
			return nil
		case string:
			*d = v
			return nil
		case int64:
			*d = strconv.FormatInt(v, 10)
			return nil
		case uint64:
			*d = strconv.FormatUint(v, 10)
			return nil
		}
	case *int64:
		n, err := rawInt(v, math.MinInt64, math.MaxInt64)
		*d = n
		return err
	case *int:
		n, err := rawInt(v, math.MinInt, math.MaxInt)
		*d = int(n)
		return err
	case *bool:
		b, err := driver.Bool.ConvertValue(v)
		if err != nil {
			return err
		}
		*d = b.(bool)
		return nil
	case *time.Time:
		if t, ok := v.(time.Time); ok {
			*d = t
			return nil
		}
	case sql.Scanner: // sql.NullString, sql.NullTime, sql.NullInt64...
		return d.Scan(v)
	}
	if v == nil {
		return fmt.Errorf("converting NULL to %T is unsupported", dest)
	}
	return fmt.Errorf("unsupported scan of %T into %T", v, dest)
}

// rawInt returns an integer column value within [lo, hi].
func rawInt(v driver.Value, lo, hi int64) (int64, error) {
	switch v := v.(type) {
	case int64:
		if v >= lo && v <= hi {
			return v, nil
		}
	case uint64:
		if v <= uint64(hi) {
			return int64(v), nil
		}
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, err
		}
		return rawInt(n, lo, hi)
	case nil:
		return 0, errors.New("converting NULL to an integer is unsupported")
	default:
		return 0, fmt.Errorf("unsupported scan of %T into an integer", v)
	}
	return 0, fmt.Errorf("value %v out of range", v)
}

// queryOne runs a query that returns at most one row and scans that row;
// sql.ErrNoRows when there is none. On a pool it takes the direct path.
func queryOne[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) (T, error) {
	if db, ok := q.(*sql.DB); ok {
		var v T
		found := false
		done, err := rawQuery(ctx, db, query, args, func(r rowScanner) error {
			if found {
				return nil // like QueryRow: later rows are ignored
			}
			found = true
			var err error
			v, err = scan(r)
			return err
		})
		if done {
			if err == nil && !found {
				err = sql.ErrNoRows
			}
			return v, err
		}
	}
	return scan(q.QueryRowContext(ctx, query, args...))
}
