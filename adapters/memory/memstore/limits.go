package memstore

import (
	"context"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var (
	_ ports.RateCounters = (*Store)(nil)
	_ ports.Revocations  = (*Store)(nil)
)

// maxRateKey is the longest rate counter key, as in the MySQL store.
const maxRateKey = 191

// counterKey identifies one fixed window of one key: its start (Unix
// seconds and nanoseconds) and its length, so one key counted over windows
// of different lengths keeps one counter per length.
type counterKey struct {
	key    string
	sec    int64
	nsec   int32
	window time.Duration
}

// counter is the count of one window and when the window ends.
type counter struct {
	n   int
	end time.Time
}

// Hit adds n events to key's counter for the window of length window that
// holds now (windows start at multiples of window since the Unix epoch) and
// returns the counter after the addition and when the window ends. Hits
// are counted under the store's limits mutex, so concurrent hits are never
// lost; n = 0 reads without creating a counter. Returns Invalid for an
// empty key or one over 191 bytes, a negative n or a window under one
// second, Unavailable for a cancelled context.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, n int, now time.Time) (int, time.Time, error) {
	if err := checkCtx(ctx); err != nil {
		return 0, time.Time{}, err
	}
	switch {
	case key == "" || len(key) > maxRateKey:
		return 0, time.Time{}, domain.Errorf(domain.Invalid, "rate counter key must be 1 to %d bytes", maxRateKey)
	case n < 0:
		return 0, time.Time{}, domain.Errorf(domain.Invalid, "hits must not be negative")
	case window < time.Second:
		return 0, time.Time{}, domain.Errorf(domain.Invalid, "rate window must be at least one second")
	}
	start, end := ports.RateWindow(now, window)
	k := counterKey{key: key, sec: start.Unix(), nsec: int32(start.Nanosecond()), window: window}
	s.limitsMu.Lock()
	defer s.limitsMu.Unlock()
	c := s.counters[k]
	if c == nil {
		if n == 0 {
			return 0, end, nil
		}
		c = &counter{end: end}
		s.counters[k] = c
	}
	c.n += n
	return c.n, end, nil
}

// PruneRateCounters deletes the counters of windows that ended before
// before and returns how many it deleted. Returns Unavailable for a
// cancelled context.
func (s *Store) PruneRateCounters(ctx context.Context, before time.Time) (int, error) {
	if err := checkCtx(ctx); err != nil {
		return 0, err
	}
	s.limitsMu.Lock()
	defer s.limitsMu.Unlock()
	pruned := 0
	for k, c := range s.counters {
		if c.end.Before(before) {
			delete(s.counters, k)
			pruned++
		}
	}
	return pruned, nil
}

// RevokeTokens records that userID's tokens issued before at are refused;
// a later instant replaces an earlier one, never the other way round. The
// zero time revokes nothing. DeleteUser keeps the record. Returns Invalid
// for an empty user id, Unavailable for a cancelled context.
func (s *Store) RevokeTokens(ctx context.Context, userID string, at time.Time) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	if userID == "" {
		return domain.Errorf(domain.Invalid, "user id must not be empty")
	}
	if at.IsZero() {
		return nil
	}
	at = at.Round(0).UTC()
	s.limitsMu.Lock()
	defer s.limitsMu.Unlock()
	if cur, ok := s.revoked[userID]; !ok || at.After(cur) {
		s.revoked[userID] = at
	}
	return nil
}

// TokensRevokedBefore returns the instant (UTC) before which userID's
// tokens are refused, the zero time when none is recorded. Returns
// Unavailable for a cancelled context.
func (s *Store) TokensRevokedBefore(ctx context.Context, userID string) (time.Time, error) {
	if err := checkCtx(ctx); err != nil {
		return time.Time{}, err
	}
	s.limitsMu.Lock()
	defer s.limitsMu.Unlock()
	return s.revoked[userID], nil
}
