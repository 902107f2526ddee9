package mysqlstore

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var (
	_ ports.RateCounters = (*Store)(nil)
	_ ports.Revocations  = (*Store)(nil)
)

// maxRateKey is the longest rate counter key (rate_counters.k).
const maxRateKey = 191

// rateCounterPruneBatch is how many counters one DELETE of
// PruneRateCounters removes, so that pruning never holds many locks.
const rateCounterPruneBatch = 1000

// hitSQL adds n to a counter in one statement. The new row starts at n; an
// existing row is locked (the duplicate-key path takes an exclusive record
// lock and reads the latest committed count, not a snapshot) and
// incremented. LAST_INSERT_ID(expr) makes the server report the counter
// after the addition in the statement's own OK packet (the driver's
// LastInsertId), so the value read back is this statement's, taken under
// the row lock, whatever other sessions do. n is passed twice instead of
// VALUES(hits), which MySQL 8.0.20+ deprecates (its row alias replacement
// does not run on MariaDB).
const hitSQL = "INSERT INTO rate_counters (k, window_start, window_end, hits) VALUES (?, ?, ?, LAST_INSERT_ID(?))" +
	" ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(hits + ?)"

// Hit adds n events to key's counter for the window of length window that
// holds now (windows start at multiples of window since the Unix epoch) and
// returns the counter after the addition and when the window ends. It costs
// one statement on the writer: the upsert hitSQL for n > 0, a primary-key
// SELECT for n = 0 (which reads without creating a counter). Concurrent
// hits are never lost: each upsert increments the row under its exclusive
// lock. A deadlock or lock wait timeout (the statement rolled back, so
// nothing was counted) runs it again, up to Options.Retries times. Returns
// Invalid for an empty key or one over 191 bytes, a negative n or a window
// under one second; Unavailable when the database cannot answer.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, n int, now time.Time) (int, time.Time, error) {
	if err := checkHit(key, window, n); err != nil {
		return 0, time.Time{}, err
	}
	start, end := ports.RateWindow(now, window)
	// The row's identity: DATETIME(6) keeps microseconds. The start is
	// rounded down and the end up, so a window is never pruned before it
	// ended; windows of one length are at least a second apart, so the
	// rounding never merges two of them.
	dbStart, dbEnd := dbTime(start), ceilMicro(end)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if n == 0 {
		// The writer: the count must include every hit that returned,
		// from any instance.
		var count int64
		err := s.writer.QueryRowContext(ctx, "SELECT hits FROM rate_counters WHERE k = ? AND window_start = ? AND window_end = ?",
			key, dbStart, dbEnd).Scan(&count)
		if err == sql.ErrNoRows {
			return 0, end, nil
		}
		if err != nil {
			return 0, time.Time{}, translate(err, "")
		}
		return int(count), end, nil
	}
	res, err := s.execRetry(ctx, hitSQL, key, dbStart, dbEnd, n, n)
	if err != nil {
		return 0, time.Time{}, translate(err, "")
	}
	count, err := res.LastInsertId()
	if err != nil {
		return 0, time.Time{}, translate(err, "")
	}
	return int(count), end, nil
}

// PruneRateCounters deletes the counters of windows that ended before
// before, at most 1000 per statement (each an index range on window_end,
// with its own timeout) until none is left, so it never holds many locks
// for long; it returns how many it deleted. On an error it returns how
// many the statements before it deleted and Unavailable (or Internal).
func (s *Store) PruneRateCounters(ctx context.Context, before time.Time) (int, error) {
	if before.IsZero() {
		return 0, nil
	}
	// Stored ends are rounded up and before down: what is deleted has
	// ended before before.
	before = dbTime(before)
	return s.deleteInBatches(ctx, s.writer.ExecContext, "DELETE FROM rate_counters WHERE window_end < ? ORDER BY window_end LIMIT ?", before, rateCounterPruneBatch)
}

// deleteInBatches runs query (a DELETE ... LIMIT ? taking before and
// batch) with exec, each statement with its own timeout, until one deletes
// fewer than batch rows, and returns how many rows went. On an error it
// returns how many the statements before it deleted and the error
// translated (Unavailable or Internal).
func (s *Store) deleteInBatches(ctx context.Context, exec func(context.Context, string, ...any) (sql.Result, error), query string, before time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := func() (int64, error) {
			ctx, cancel := s.opCtx(ctx)
			defer cancel()
			res, err := exec(ctx, query, before, batch)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		}()
		if err != nil {
			return total, translate(err, "")
		}
		total += int(n)
		if n < int64(batch) {
			return total, nil
		}
	}
}

// RevokeTokens records that userID's tokens issued before at are refused,
// in one upsert on the writer that keeps the greater of the stored and the
// new instant (GREATEST), so a later instant replaces an earlier one and
// never the other way round, also under concurrent calls. at is stored at
// microsecond precision, rounded up (a revocation never covers less than
// asked); the zero time revokes nothing and is not stored. The record is
// kept by DeleteUser. Returns Invalid for an empty user id (or one that is
// not 1 to 64 printable ASCII characters, which no user has); Unavailable
// when the database cannot answer.
func (s *Store) RevokeTokens(ctx context.Context, userID string, at time.Time) error {
	if err := checkNewID("user", userID); err != nil {
		return err
	}
	if at.IsZero() {
		return nil
	}
	at = ceilMicro(at)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.execRetry(ctx, "INSERT INTO token_revocations (user_id, revoked_before) VALUES (?, ?)"+
		" ON DUPLICATE KEY UPDATE revoked_before = GREATEST(revoked_before, ?)", userID, at, at)
	return translate(err, "")
}

// TokensRevokedBefore returns the instant before which userID's tokens are
// refused (UTC, microsecond precision), the zero time when none is
// recorded. It is one primary-key read, always on the writer, also with a
// replica: a revocation must hold at once on every instance, and the
// read-your-writes pins only cover what this process wrote (a sign-out
// handled by another server or Lambda instance would otherwise be missed
// for as long as the replica lags). Returns Unavailable when the database
// cannot answer.
func (s *Store) TokensRevokedBefore(ctx context.Context, userID string) (time.Time, error) {
	if !validID(userID) {
		return time.Time{}, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var at time.Time
	err := s.writer.QueryRowContext(ctx, "SELECT revoked_before FROM token_revocations WHERE user_id = ?", userID).Scan(&at)
	if err == sql.ErrNoRows {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, translate(err, "")
	}
	return at.UTC(), nil
}

// execRetry runs one autocommit statement on the writer and runs it again
// after a deadlock or lock wait timeout (either rolls the statement back
// whole, so running it again applies it once), up to Options.Retries
// times with jittered back-off. Errors are not translated.
func (s *Store) execRetry(ctx context.Context, query string, args ...any) (sql.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := s.writer.ExecContext(ctx, query, args...)
		if err == nil || !retryable(err) || attempt >= s.opts.Retries || ctx.Err() != nil {
			return res, err
		}
		backoff := time.Duration(1<<attempt) * 5 * time.Millisecond
		backoff += rand.N(backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// checkHit returns Invalid for arguments Hit refuses.
func checkHit(key string, window time.Duration, n int) error {
	switch {
	case key == "" || len(key) > maxRateKey:
		return domain.Errorf(domain.Invalid, "rate counter key must be 1 to %d bytes", maxRateKey)
	case n < 0:
		return domain.Errorf(domain.Invalid, "hits must not be negative")
	case window < time.Second:
		return domain.Errorf(domain.Invalid, "rate window must be at least one second")
	}
	return nil
}

// ceilMicro is t in UTC rounded up to a microsecond (what DATETIME(6)
// keeps).
func ceilMicro(t time.Time) time.Time {
	u := t.UTC().Round(0)
	d := u.Truncate(time.Microsecond)
	if d.Before(u) {
		d = d.Add(time.Microsecond)
	}
	return d
}
