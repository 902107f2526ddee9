package ports

import (
	"context"
	"math/bits"
	"time"
)

// RateCounters counts events per key in fixed time windows, in storage
// that every instance (servers, Lambda invocations) shares, so that a limit
// holds however requests are spread. The policy (what is counted, how many
// are allowed) is the core's; the adapter only counts.
type RateCounters interface {
	// Hit adds n (0 or more; 0 only reads) events to key's counter for the
	// window of length window that holds now (windows start at multiples
	// of window since the Unix epoch), and returns the counter after the
	// addition and when that window ends. Concurrent hits are never lost.
	// Returns Invalid for an empty or over-long key (at most 191 bytes), a
	// negative n or a window under one second.
	Hit(ctx context.Context, key string, window time.Duration, n int, now time.Time) (count int, resetAt time.Time, err error)
	// PruneRateCounters deletes the counters of windows that ended before
	// before, and returns how many it deleted.
	PruneRateCounters(ctx context.Context, before time.Time) (int, error)
}

// Revocations keeps, per user, the instant before which the user's tokens
// are refused: what makes sign-out, a password reset and account deletion
// hold for access tokens that have not expired yet, on every instance.
type Revocations interface {
	// RevokeTokens records that userID's tokens issued before at are
	// refused. A later instant replaces an earlier one, never the other way
	// round. The record outlives the account (DeleteUser keeps it), so a
	// deleted account's tokens stay refused. Returns Invalid for an empty
	// user id.
	RevokeTokens(ctx context.Context, userID string, at time.Time) error
	// TokensRevokedBefore returns the instant before which userID's tokens
	// are refused, the zero time when none is recorded.
	TokensRevokedBefore(ctx context.Context, userID string) (time.Time, error)
}

// RateWindow returns the window of length w (> 0) that holds now, as
// RateCounters.Hit counts it: it
// starts at the greatest multiple of w since the Unix epoch not after now.
// Exact to the nanosecond for every time.Time (the offset is computed in
// 128 bits, not from UnixNano, which overflows outside 1678-2262).
func RateWindow(now time.Time, w time.Duration) (start, end time.Time) {
	sec := now.Unix()
	r := sec % int64(w)
	if r < 0 {
		r += int64(w)
	}
	// now is sec*1e9 + nsec ns after the epoch; its offset in the window
	// is ((sec mod w)*1e9 + nsec) mod w.
	hi, lo := bits.Mul64(uint64(r), uint64(time.Second))
	lo, carry := bits.Add64(lo, uint64(now.Nanosecond()), 0)
	off := bits.Rem64(hi+carry, lo, uint64(w))
	start = now.Round(0).Add(-time.Duration(off))
	return start, start.Add(w)
}
