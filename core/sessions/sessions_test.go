package sessions_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

func TestRevokeEndsOlderSessionsOnEveryInstance(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 400_000_000, time.UTC))
	store := memstore.New(clock)
	var slept time.Duration
	cfg := sessions.Config{CacheTTL: 2 * time.Second, Sleep: func(_ context.Context, d time.Duration) error {
		slept = d
		clock.Advance(d)
		return nil
	}}
	a, b := sessions.New(store, clock, cfg), sessions.New(store, clock, cfg)
	ctx := t.Context()
	old := domain.Principal{UserID: "ann", AuthTime: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	sameSecond := domain.Principal{UserID: "ann", AuthTime: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	if err := b.Check(ctx, old); err != nil { // cached by b: no revocation yet
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if slept != 600*time.Millisecond {
		t.Errorf("Revoke waited %v, want the rest of the second (600ms)", slept)
	}
	for _, p := range []domain.Principal{old, sameSecond} {
		if err := a.Check(ctx, p); !domain.IsCode(err, domain.Unauthenticated) {
			t.Errorf("revoking instance, session of %v: %v", p.AuthTime, err)
		}
	}
	// The other instance holds at most its cache lifetime later.
	clock.Advance(2 * time.Second)
	if err := b.Check(ctx, old); !domain.IsCode(err, domain.Unauthenticated) {
		t.Errorf("other instance after its cache lifetime: %v", err)
	}
	// A session begun after the sign-out answered is fine; so are others'.
	fresh := domain.Principal{UserID: "ann", AuthTime: clock.Now().Truncate(time.Second)}
	if err := a.Check(ctx, fresh); err != nil {
		t.Errorf("new session: %v", err)
	}
	if err := a.Check(ctx, domain.Principal{UserID: "bob", AuthTime: old.AuthTime}); err != nil {
		t.Errorf("another user: %v", err)
	}
	// It outlives the account.
	if _, err := store.DeleteUser(ctx, "ann"); err != nil && !domain.IsCode(err, domain.NotFound) {
		t.Fatal(err)
	}
	c := sessions.New(store, clock, sessions.Config{CacheTTL: -1})
	if err := c.Check(ctx, old); !domain.IsCode(err, domain.Unauthenticated) {
		t.Errorf("after account deletion: %v", err)
	}
}

// BenchmarkCheck is the revocation check of one request: a cache hit (the
// common case; a miss costs one storage read, adapters/mysqlstore
// BenchmarkTokensRevokedBefore).
func BenchmarkCheck(b *testing.B) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s := sessions.New(memstore.New(clock), clock, sessions.Config{})
	p := domain.Principal{UserID: "01900000-0000-7000-8000-000000000001", AuthTime: clock.Now()}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Check(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}
