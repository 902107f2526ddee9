package mysqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/core/domain"
)

// RetryAfter is the hint attached to Unavailable errors (HTTP Retry-After).
const RetryAfter = 2 * time.Second

// MySQL server error numbers this package handles.
const (
	errLockWaitTimeout  = 1205
	errDeadlock         = 1213
	errDuplicateKey     = 1062
	errDataTooLong      = 1406
	errBadString        = 1366
	errTooManyConns     = 1040
	errUserConns        = 1203
	errServerShutdown   = 1053
	errReadOnly         = 1290
	errReadOnlyTx       = 1792
	errReadOnlyMode     = 1836
	errAccessDenied     = 1045
	errConnKilled       = 1927
	errQueryInterrupted = 1317
	errMaxStatementTime = 3024 // MySQL: max_execution_time exceeded
	errMariaDBStmtTime  = 1969 // MariaDB: max_statement_time exceeded
	errIdleTimeout      = 4031 // MySQL 8.0.24+: the server closed an idle connection
)

// callbackError marks an error returned by a caller's callback so the
// transaction runner returns it unchanged (never translated or retried).
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// call runs a caller's callback and marks its error.
func call(fn func() error) error {
	if err := fn(); err != nil {
		return callbackError{err}
	}
	return nil
}

// retryable reports whether a transaction that failed with err may simply
// run again: a deadlock (InnoDB rolled the transaction back) or a lock wait
// timeout (only the statement was rolled back, unless
// innodb_rollback_on_timeout; the runner rolls back the rest).
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == errDeadlock || me.Number == errLockWaitTimeout)
}

// translate turns what a database call returned into the domain error the
// ports document. Domain errors (the adapter's own NotFound, Conflict...)
// and callback errors pass unchanged; duplicate keys become Conflict with
// conflictMsg; failures to reach or use the server, timeouts and exhausted
// retries become Unavailable with a Retry-After hint; anything else is
// Internal (the cause is kept for logs).
func translate(err error, conflictMsg string) error {
	if err == nil {
		return nil
	}
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.err
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return de
	}
	unavailable := func(msg string) error {
		e := domain.Wrap(err, domain.Unavailable, msg)
		e.RetryAfter = RetryAfter
		return e
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errDuplicateKey:
			if conflictMsg == "" {
				conflictMsg = "already exists"
			}
			return domain.Wrap(err, domain.Conflict, conflictMsg)
		case errDeadlock, errLockWaitTimeout:
			return unavailable("the database is busy, try again")
		case errDataTooLong:
			return domain.Wrap(err, domain.Invalid, "a value is too long")
		case errBadString:
			return domain.Wrap(err, domain.Invalid, "a value is not valid text")
		case errTooManyConns, errUserConns, errServerShutdown, errReadOnly, errReadOnlyTx, errReadOnlyMode,
			errAccessDenied, errConnKilled, errQueryInterrupted, errMaxStatementTime, errMariaDBStmtTime, errIdleTimeout:
			return unavailable("the database is unavailable")
		}
		return domain.Wrap(err, domain.Internal, "database error")
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable("the database did not answer in time")
	case errors.Is(err, context.Canceled):
		return unavailable("request cancelled")
	case isConnError(err):
		return unavailable("the database is unavailable")
	}
	return domain.Wrap(err, domain.Internal, "database error")
}

// isConnError reports whether err says the server could not be reached or
// the connection broke.
func isConnError(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.As(err, &ne):
		return true
	}
	// The driver reports some handshake and TLS failures as plain errors.
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "IAM auth") || strings.Contains(msg, "tls:")
}

// duplicateKeyName returns the index named by a duplicate-key error ("" for
// other errors).
func duplicateKeyName(err error) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != errDuplicateKey {
		return ""
	}
	// "Duplicate entry 'x' for key 'profiles.profiles_email_key'" (MySQL 8
	// prefixes the table, MariaDB does not).
	_, key, ok := strings.Cut(me.Message, " for key '")
	if !ok {
		return ""
	}
	key = strings.TrimSuffix(key, "'")
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	return key
}
