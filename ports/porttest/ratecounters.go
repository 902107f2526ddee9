package porttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// RunRateCounters runs the contract suite of ports.RateCounters: counts add
// up within a window and restart in the next, keys and windows (instants
// and lengths) are independent, n = 0 only reads, windows are aligned to the
// Unix epoch and resetAt is the window's end, concurrent hits are never
// lost (run it with -race), invalid arguments are Invalid, and pruning
// removes exactly the windows that ended and reports how many.
//
// newStore is called once per subtest and must return an empty store that
// shares no counters with any other store it returned: the subtests run in
// parallel. It may register cleanups on t.
func RunRateCounters(t *testing.T, newStore func(t *testing.T) ports.RateCounters) {
	parallelCases(t, "RateCounters", []namedCase[*rateFix]{
		{"CountsAddUpWithinAWindow", rateCountsAddUp},
		{"ResetAtIsTheWindowEnd", rateResetAt},
		{"KeysAndWindowsAreIndependent", rateIndependent},
		{"ZeroOnlyReads", rateZeroReads},
		{"ConcurrentHitsAreNeverLost", rateConcurrent},
		{"Invalid", rateInvalid},
		{"PruneRemovesOnlyEndedWindows", ratePrune},
	}, func(t *testing.T) *rateFix {
		return &rateFix{t: t, ctx: t.Context(), s: nonNil(t, newStore(t))}
	})
}

// namedCase is one subtest of a contract suite run by parallelCases.
type namedCase[F any] struct {
	name string
	run  func(t *testing.T, f F)
}

// parallelCases runs every case as a parallel subtest of group, each on a
// fixture of its own from newFix.
func parallelCases[F any](t *testing.T, group string, cases []namedCase[F], newFix func(t *testing.T) F) {
	t.Run(group, func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, newFix(t))
			})
		}
	})
}

// nonNil fails the test when a suite's constructor returned a nil store.
func nonNil[S comparable](t *testing.T, s S) S {
	t.Helper()
	var zero S
	if s == zero {
		t.Fatal("newStore returned nil")
	}
	return s
}

// rateFix is the store of one subtest with a helper that fails the test on
// an error.
type rateFix struct {
	t   *testing.T
	ctx context.Context
	s   ports.RateCounters
}

// rateBase is a minute (and hour) boundary the tests count from: windows
// of a minute or an hour start there.
var rateBase = time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC)

// hit calls Hit and checks the count and resetAt it returns (a zero
// wantReset is not checked).
func (f *rateFix) hit(key string, window time.Duration, n int, now time.Time, want int, wantReset time.Time) {
	f.t.Helper()
	got, reset, err := f.s.Hit(f.ctx, key, window, n, now)
	if err != nil {
		f.t.Fatalf("Hit(%q, %v, %d, %s): %v", key, window, n, now.Format(time.RFC3339Nano), err)
	}
	if got != want {
		f.t.Errorf("Hit(%q, %v, %d, %s) = %d, want %d", key, window, n, now.Format(time.RFC3339Nano), got, want)
	}
	if !wantReset.IsZero() && !reset.Equal(wantReset) {
		f.t.Errorf("Hit(%q, %v, %d, %s) resetAt %s, want %s", key, window, n, now.Format(time.RFC3339Nano),
			reset.Format(time.RFC3339Nano), wantReset.Format(time.RFC3339Nano))
	}
}

// rateKey returns a key no other subtest uses.
func rateKey(name string) string { return "porttest:" + name + ":" + NewID() }

func rateCountsAddUp(t *testing.T, f *rateFix) {
	k := rateKey("add")
	end1, end2 := rateBase.Add(time.Minute), rateBase.Add(2*time.Minute)
	f.hit(k, time.Minute, 1, rateBase, 1, end1)
	f.hit(k, time.Minute, 2, rateBase.Add(30*time.Second), 3, end1)
	f.hit(k, time.Minute, 1, rateBase.Add(time.Minute-time.Microsecond), 4, end1)
	f.hit(k, time.Minute, 0, rateBase.Add(10*time.Second), 4, end1)
	// The next window starts from zero ...
	f.hit(k, time.Minute, 1, end1, 1, end2)
	f.hit(k, time.Minute, 5, end1.Add(59*time.Second), 6, end2)
	// ... and the earlier one keeps its count.
	f.hit(k, time.Minute, 0, rateBase.Add(time.Second), 4, end1)
	// A window later than the next: again from zero.
	f.hit(k, time.Minute, 2, rateBase.Add(10*time.Minute), 2, rateBase.Add(11*time.Minute))
	// Large additions.
	f.hit(k, time.Hour, 1_000_000, rateBase, 1_000_000, rateBase.Add(time.Hour))
	f.hit(k, time.Hour, 1_000_000, rateBase, 2_000_000, rateBase.Add(time.Hour))
}

func rateResetAt(t *testing.T, f *rateFix) {
	// Windows start at multiples of their length since the Unix epoch, also
	// lengths that do not divide a day or are not whole seconds (or
	// microseconds); resetAt is exact to the nanosecond.
	now := time.Unix(1_700_000_123, 456_789_000).UTC()
	for _, w := range []time.Duration{time.Second, 7 * time.Second, 1500 * time.Millisecond, time.Second + time.Nanosecond,
		time.Minute, 13 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		ns := now.UnixNano()
		want := time.Unix(0, ns-ns%int64(w)+int64(w))
		f.hit(rateKey("reset"), w, 1, now, 1, want)
		// The same instant in another zone is the same window.
		k := rateKey("zone")
		f.hit(k, w, 1, now.In(time.FixedZone("UTC+5:30", 5*3600+1800)), 1, want)
		f.hit(k, w, 1, now, 2, want)
	}
	// Exactly at a window's start: that window, which ends a length later.
	f.hit(rateKey("edge"), time.Minute, 1, rateBase, 1, rateBase.Add(time.Minute))
	// A wall-clock time with a monotonic reading.
	wall := time.Now()
	_, reset, err := f.s.Hit(f.ctx, rateKey("wall"), time.Minute, 1, wall)
	if err != nil {
		t.Fatalf("Hit(time.Now()): %v", err)
	}
	if !reset.After(wall) || reset.After(wall.Add(time.Minute)) || reset.UnixNano()%int64(time.Minute) != 0 {
		t.Errorf("Hit at %s: resetAt %s, want the next minute boundary", wall, reset)
	}
}

func rateIndependent(t *testing.T, f *rateFix) {
	base := rateKey("ind")
	keys := []string{base + ":a", base + ":b", base + ":A", base + ":k", base + ":k ", base + ":ключ", base + ":🔑",
		base + strings.Repeat("x", 191-len(base))}
	for i, k := range keys {
		f.hit(k, time.Minute, i+1, rateBase, i+1, rateBase.Add(time.Minute))
	}
	for i, k := range keys {
		f.hit(k, time.Minute, 0, rateBase.Add(time.Second), i+1, rateBase.Add(time.Minute))
	}
	// One key over windows of different lengths that start at the same
	// instant: one counter per length.
	k := rateKey("lengths")
	f.hit(k, time.Minute, 1, rateBase, 1, rateBase.Add(time.Minute))
	f.hit(k, time.Hour, 10, rateBase, 10, rateBase.Add(time.Hour))
	f.hit(k, time.Second, 100, rateBase, 100, rateBase.Add(time.Second))
	f.hit(k, time.Minute, 1, rateBase.Add(time.Second), 2, rateBase.Add(time.Minute))
	f.hit(k, time.Hour, 0, rateBase.Add(time.Second), 10, rateBase.Add(time.Hour))
	f.hit(k, time.Second, 0, rateBase, 100, rateBase.Add(time.Second))
}

func rateZeroReads(t *testing.T, f *rateFix) {
	k := rateKey("zero")
	end := rateBase.Add(time.Minute)
	f.hit(k, time.Minute, 0, rateBase, 0, end)
	f.hit(k, time.Minute, 0, rateBase.Add(time.Second), 0, end)
	f.hit(k, time.Minute, 1, rateBase, 1, end)
	f.hit(k, time.Minute, 0, rateBase, 1, end)
	f.hit(k, time.Minute, 0, rateBase, 1, end)
	f.hit(k, time.Minute, 1, rateBase, 2, end)
}

func rateConcurrent(t *testing.T, f *rateFix) {
	const workers, each = 50, 20
	k := rateKey("race")
	now := rateBase.Add(30 * time.Minute)
	got := make([][]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				n, _, err := f.s.Hit(f.ctx, k, time.Hour, 1, now)
				if err != nil {
					errs[w] = err
					return
				}
				got[w] = append(got[w], n)
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
	}
	f.hit(k, time.Hour, 0, now, workers*each, rateBase.Add(time.Hour))
	// Every hit saw the count its own addition made: 1 to 1000, each once.
	all := slices.Concat(got...)
	slices.Sort(all)
	for i, n := range all {
		if n != i+1 {
			t.Fatalf("the counts returned to concurrent hits are not 1..%d: position %d holds %d", workers*each, i, n)
		}
	}
}

func rateInvalid(t *testing.T, f *rateFix) {
	k := rateKey("invalid")
	for _, c := range []struct {
		key    string
		window time.Duration
		n      int
	}{
		{"", time.Minute, 1},
		{strings.Repeat("x", 192), time.Minute, 1},
		{strings.Repeat("é", 96), time.Minute, 1}, // 192 bytes
		{k, time.Minute, -1},
		{k, time.Second - time.Nanosecond, 1},
		{k, 0, 1},
		{k, -time.Minute, 1},
	} {
		_, _, err := f.s.Hit(f.ctx, c.key, c.window, c.n, rateBase)
		storageWantCode(t, err, domain.Invalid, fmt.Sprintf("Hit(%d-byte key, %v, %d)", len(c.key), c.window, c.n))
	}
	// Nothing was counted; the limits themselves are valid.
	f.hit(k, time.Minute, 0, rateBase, 0, rateBase.Add(time.Minute))
	f.hit(k, time.Second, 1, rateBase, 1, rateBase.Add(time.Second))
	f.hit(strings.Repeat("y", 191), time.Minute, 1, rateBase, 1, rateBase.Add(time.Minute))
	f.hit(k, time.Minute, 0, rateBase, 0, rateBase.Add(time.Minute))
}

func ratePrune(t *testing.T, f *rateFix) {
	prune := func(before time.Time, want int) {
		t.Helper()
		n, err := f.s.PruneRateCounters(f.ctx, before)
		if err != nil {
			t.Fatalf("PruneRateCounters(%s): %v", before.Format(time.RFC3339), err)
		}
		if n != want {
			t.Errorf("PruneRateCounters(%s) = %d, want %d", before.Format(time.RFC3339), n, want)
		}
	}
	old, long, edge, cur := rateKey("old"), rateKey("long"), rateKey("edge"), rateKey("cur")
	at := func(m int) time.Time { return rateBase.Add(time.Duration(m) * time.Minute) }
	// Ended before at(10): three windows of old, one second-long window.
	f.hit(old, time.Minute, 3, at(0), 3, at(1))
	f.hit(old, time.Minute, 1, at(1), 1, at(2))
	f.hit(old, time.Minute, 2, at(5).Add(30*time.Second), 2, at(6))
	f.hit(old, time.Second, 7, at(9).Add(58*time.Second), 7, at(9).Add(59*time.Second))
	// Not ended before at(10): an hour-long window that started with the
	// others, one that ends exactly at at(10), the current one.
	f.hit(long, time.Hour, 5, at(0), 5, at(60))
	f.hit(edge, time.Minute, 1, at(9), 1, at(10))
	f.hit(cur, time.Minute, 4, at(10).Add(time.Second), 4, at(11))

	prune(time.Time{}, 0)
	prune(at(10), 4)
	prune(at(10), 0)
	f.hit(old, time.Minute, 0, at(0), 0, at(1))
	f.hit(old, time.Minute, 0, at(1), 0, at(2))
	f.hit(old, time.Minute, 0, at(5), 0, at(6))
	f.hit(old, time.Second, 0, at(9).Add(58*time.Second), 0, at(9).Add(59*time.Second))
	f.hit(long, time.Hour, 0, at(0), 5, at(60))
	f.hit(edge, time.Minute, 0, at(9), 1, at(10))
	f.hit(cur, time.Minute, 0, at(10), 4, at(11))
	// A pruned window counts from zero again when hit.
	f.hit(old, time.Minute, 1, at(0), 1, at(1))
	// Everything has ended an hour later (the reads above created nothing).
	prune(at(61), 4)
	f.hit(cur, time.Minute, 0, at(10), 0, at(11))
}
