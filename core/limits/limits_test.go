package limits_test

import (
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

func newService(t *testing.T, p limits.Policy) (*limits.Service, *fakeclock.Clock) {
	t.Helper()
	// A whole minute, so windows start where the test expects.
	clock := fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	return limits.New(memstore.New(clock), clock, p), clock
}

func TestParseRule(t *testing.T) {
	for in, want := range map[string]limits.Rule{
		"20/1h": {20, time.Hour}, " 5 / 15m ": {5, 15 * time.Minute}, "off": {},
	} {
		got, err := limits.ParseRule(in)
		if err != nil || got != want {
			t.Errorf("ParseRule(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "20", "0/1h", "-1/1h", "20/", "20/500ms", "20/1.5s", "x/1h", "20/1y"} {
		if _, err := limits.ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) accepted", bad)
		}
	}
}

func TestTakeCountsPerAddressAndUser(t *testing.T) {
	s, clock := newService(t, limits.Policy{
		PerAddress: map[limits.Action]limits.Rule{limits.Post: {5, time.Minute}},
		PerUser:    map[limits.Action]limits.Rule{limits.Post: {3, time.Minute}},
	})
	ctx := t.Context()
	for i := range 3 {
		st, err := s.Take(ctx, limits.Post, "ann", "198.51.100.7")
		if err != nil || len(st) != 2 || st[1].Remaining != 2-i {
			t.Fatalf("post %d: %+v %v", i, st, err)
		}
	}
	st, err := s.Take(ctx, limits.Post, "ann", "198.51.100.7")
	if !domain.IsCode(err, domain.TooManyRequests) || domain.RetryAfter(err) != time.Minute || st[1].Remaining != 0 {
		t.Fatalf("fourth post by ann: %+v %v (retry after %v)", st, err, domain.RetryAfter(err))
	}
	// Another user behind the same address has one left there.
	if _, err := s.Take(ctx, limits.Post, "bob", "198.51.100.7"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if _, err := s.Take(ctx, limits.Post, "cy", "198.51.100.7"); !domain.IsCode(err, domain.TooManyRequests) {
		t.Fatalf("sixth post from one address: %v", err)
	}
	// Actions without rules are not counted; the next window starts over.
	if st, err := s.Take(ctx, limits.Comment, "ann", "198.51.100.7"); err != nil || len(st) != 0 {
		t.Fatalf("comment: %+v %v", st, err)
	}
	clock.Advance(time.Minute)
	if _, err := s.Take(ctx, limits.Post, "ann", "198.51.100.7"); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

// TestIPv6CountsBySubnet: one subscriber's /64 is one address.
func TestIPv6CountsBySubnet(t *testing.T) {
	s, _ := newService(t, limits.Policy{PerAddress: map[limits.Action]limits.Rule{limits.SignUp: {2, time.Hour}}})
	ctx := t.Context()
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if _, err := s.Take(ctx, limits.SignUp, "", a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Take(ctx, limits.SignUp, "", "2001:db8:1:2:aaaa::5"); !domain.IsCode(err, domain.TooManyRequests) {
		t.Fatalf("third sign-up from one /64: %v", err)
	}
	if _, err := s.Take(ctx, limits.SignUp, "", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
	// An IPv4-mapped IPv6 address is its IPv4 address.
	if _, err := s.Take(ctx, limits.SignUp, "", "::ffff:198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, limits.SignUp, "", "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, limits.SignUp, "", "198.51.100.7"); !domain.IsCode(err, domain.TooManyRequests) {
		t.Fatalf("mapped and plain IPv4 counted apart: %v", err)
	}
}

// TestFailuresSlowTheGuesserNotTheOwner: the guesser's address runs out
// long before the account's ceiling; the owner elsewhere still gets in.
func TestFailuresSlowTheGuesserNotTheOwner(t *testing.T) {
	s, clock := newService(t, limits.Policy{
		FailuresPerAccountAddress: limits.Rule{Max: 10, Window: 15 * time.Minute},
		FailuresPerAddress:        limits.Rule{Max: 100, Window: 15 * time.Minute},
		FailuresPerAccount:        limits.Rule{Max: 200, Window: time.Hour},
	})
	ctx := t.Context()
	const victim, attacker, owner = "ada@example.com", "203.0.113.9", "198.51.100.20"
	tried := 0
	for range 200 {
		if err := s.CheckFailures(ctx, limits.BadPassword, victim, attacker); err != nil {
			if !domain.IsCode(err, domain.TooManyRequests) || domain.RetryAfter(err) != 15*time.Minute {
				t.Fatalf("after %d failures: %v", tried, err)
			}
			continue
		}
		tried++
		if err := s.RecordFailure(ctx, limits.BadPassword, victim, attacker); err != nil {
			t.Fatal(err)
		}
	}
	if tried != 10 {
		t.Fatalf("the guesser tried %d passwords, want 10", tried)
	}
	if err := s.CheckFailures(ctx, limits.BadPassword, victim, owner); err != nil {
		t.Fatalf("the owner elsewhere is locked out: %v", err)
	}
	// Codes are counted apart from passwords.
	if err := s.CheckFailures(ctx, limits.BadCode, victim, attacker); err != nil {
		t.Fatalf("codes: %v", err)
	}
	clock.Advance(15 * time.Minute)
	if err := s.CheckFailures(ctx, limits.BadPassword, victim, attacker); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestAccountCeiling: guesses from many addresses stop at the account's
// ceiling.
func TestAccountCeiling(t *testing.T) {
	s, _ := newService(t, limits.Policy{
		FailuresPerAccountAddress: limits.Rule{Max: 10, Window: 15 * time.Minute},
		FailuresPerAccount:        limits.Rule{Max: 30, Window: time.Hour},
	})
	ctx := t.Context()
	for i := range 30 {
		addr := "203.0.113." + string(rune('0'+i/10)) + string(rune('0'+i%10))
		if err := s.RecordFailure(ctx, limits.BadPassword, "ada@example.com", addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CheckFailures(ctx, limits.BadPassword, "ADA@example.com", "198.51.100.1"); !domain.IsCode(err, domain.TooManyRequests) {
		t.Fatalf("past the account ceiling: %v", err)
	}
}

// BenchmarkTake is the cost of the limit check of one request (two
// counters: per address and per user) over the memory store; on MySQL each
// counter is one statement (adapters/mysqlstore BenchmarkHit).
func BenchmarkTake(b *testing.B) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s := limits.New(memstore.New(clock), clock, limits.DefaultPolicy())
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Take(ctx, limits.Comment, "01900000-0000-7000-8000-000000000001", "198.51.100.7"); err != nil && !domain.IsCode(err, domain.TooManyRequests) {
			b.Fatal(err)
		}
	}
}
