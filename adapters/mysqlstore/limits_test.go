package mysqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestRateCountersPrepared runs the rate counter contract with server-side
// prepared statements (interpolateParams=false): Hit's count then comes
// back in the binary protocol's OK packet.
func TestRateCountersPrepared(t *testing.T) {
	requireServer(t)
	porttest.RunRateCounters(t, func(t *testing.T) ports.RateCounters {
		return NewFromDB(testOpenDB(t, testDatabase(t, false)+"?interpolateParams=false", DefaultConfig()), nil, Options{})
	})
}

// TestLimitsReadTheWriter: a revocation or a hit recorded by another
// instance holds at once, however stale the replica: both reads go to the
// writer although this store wrote nothing (no read-your-writes pin).
func TestLimitsReadTheWriter(t *testing.T) {
	e := newStaleReplica(t)
	ctx := t.Context()
	other := NewFromDB(e.writer, nil, Options{}) // another instance on the same writer
	user := porttest.NewID()
	at := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	// The replica holds an older revocation, and a counter of its own.
	if _, err := e.reader.ExecContext(ctx, "INSERT INTO token_revocations (user_id, revoked_before) VALUES (?, ?)", user, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewFromDB(e.reader, nil, Options{}).Hit(ctx, "k", time.Hour, 99, at); err != nil {
		t.Fatal(err)
	}
	if err := other.RevokeTokens(ctx, user, at); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Hit(ctx, "k", time.Hour, 3, at); err != nil {
		t.Fatal(err)
	}
	for _, when := range []string{"at once", "after the read-your-writes window"} {
		if got, err := e.s.TokensRevokedBefore(ctx, user); err != nil || !got.Equal(at) {
			t.Errorf("%s: TokensRevokedBefore = %v, %v; want %v from the writer", when, got, err, at)
		}
		if n, _, err := e.s.Hit(ctx, "k", time.Hour, 0, at); err != nil || n != 3 {
			t.Errorf("%s: Hit(n=0) = %d, %v; want 3 from the writer", when, n, err)
		}
		e.waitWindow()
	}
}

// TestPruneRateCountersInBatches: pruning deletes at most 1000 counters
// per statement and goes on until none is left; current windows stay.
func TestPruneRateCountersInBatches(t *testing.T) {
	dsn := testDatabase(t, false)
	db, counter := countingDB(t, dsn, DefaultConfig())
	s := NewFromDB(db, nil, Options{})
	ctx := t.Context()
	now := time.Date(2025, 5, 6, 7, 8, 0, 0, time.UTC)
	insert := func(n int, end time.Time) {
		t.Helper()
		for done := 0; done < n; done += 500 {
			k := min(500, n-done)
			args := make([]any, 0, 4*k)
			for i := range k {
				args = append(args, fmt.Sprintf("key-%s-%d", end.Format(time.RFC3339), done+i), end.Add(-time.Minute), end, 1)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO rate_counters (k, window_start, window_end, hits) VALUES "+repeatJoin("(?, ?, ?, ?)", k), args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		ended, statements int
	}{{2500, 3}, {1000, 2}, {999, 1}, {0, 1}} {
		insert(c.ended, now.Add(-time.Hour))
		insert(3, now.Add(time.Minute))
		var n int
		var err error
		sent := counter.count(func() { n, err = s.PruneRateCounters(ctx, now) })
		if err != nil {
			t.Fatal(err)
		}
		if n != c.ended || len(sent) != c.statements {
			t.Errorf("pruning %d ended windows: %d deleted in %d statements, want %d in %d:%s", c.ended, n, len(sent), c.ended, c.statements, summarize(sent))
		}
		for _, q := range sent {
			if !strings.HasPrefix(q, "DELETE FROM rate_counters WHERE window_end < ") {
				t.Errorf("unexpected statement %q", q)
			}
		}
		if left := testCount(t, db, "SELECT COUNT(*) FROM rate_counters"); left != 3 {
			t.Errorf("after pruning: %d counters left, want the 3 current ones", left)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM rate_counters"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRateWindowsBelowAMicrosecond: DATETIME(6) keeps microseconds; a
// window whose bounds fall between two is stored with its start rounded
// down and its end rounded up, so it keeps its own counter and is never
// pruned before it ended.
func TestRateWindowsBelowAMicrosecond(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := context.Background()
	w := time.Second + time.Nanosecond
	now := time.Unix(1_700_000_000, 0)
	start, end := ports.RateWindow(now, w)
	if start.Nanosecond()%1000 == 0 || end.Nanosecond()%1000 == 0 {
		t.Fatalf("test window %v..%v is microsecond-aligned", start, end)
	}
	for i, at := range []time.Time{start, end.Add(-time.Nanosecond), end, end.Add(w - time.Nanosecond)} {
		want, wantEnd := []int{1, 2, 1, 2}[i], end
		if i >= 2 {
			wantEnd = end.Add(w)
		}
		n, reset, err := s.Hit(ctx, "k", w, 1, at)
		if err != nil || n != want || !reset.Equal(wantEnd) {
			t.Errorf("Hit at %v: %d, %v, %v; want %d, %v", at, n, reset, err, want, wantEnd)
		}
	}
	for _, c := range []struct {
		before time.Time
		want   int
	}{{end, 0}, {end.Add(time.Microsecond), 0}, {end.Add(2 * time.Microsecond), 1}} {
		if n, err := s.PruneRateCounters(ctx, c.before); err != nil || n != c.want {
			t.Errorf("PruneRateCounters(end + %v) = %d, %v; want %d", c.before.Sub(end), n, err, c.want)
		}
	}
	if n, _, err := s.Hit(ctx, "k", w, 0, end); err != nil || n != 2 {
		t.Errorf("the next window after pruning the first: %d, %v; want 2", n, err)
	}
}
