// Package sessions makes sign-out, password reset and account deletion hold
// for access tokens that have not expired yet: it records per user, in
// storage shared by every instance, "sessions begun before T are over", and
// checks every authenticated request against it.
//
// A token's session began at its auth_time (kept through refreshes; iat
// when absent), which has whole-second precision. A token whose auth_time
// is in the second of a revocation cannot be told apart from one issued
// just before it, so it is refused too, and Revoke waits for that second
// to end before it returns: a client that signs in again once its sign-out
// answered gets a token that is accepted.
package sessions

import (
	"context"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// DefaultCacheTTL is how long a user's revocation instant read from
// storage is reused by one process when Config.CacheTTL is zero: a
// revocation made on another instance holds here at most this much later.
const DefaultCacheTTL = 2 * time.Second

// cacheLimit bounds the users cached; beyond it the cache starts over.
const cacheLimit = 100_000

// Service checks and records revocations.
type Service struct {
	store ports.Revocations
	clock ports.Clock
	ttl   time.Duration
	sleep func(context.Context, time.Duration) error

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	before  time.Time // sessions begun before this are over
	fetched time.Time
}

// Config tunes the service.
type Config struct {
	// CacheTTL is how long a revocation instant read from storage is
	// reused (0: DefaultCacheTTL; negative: every check reads storage).
	CacheTTL time.Duration
	// Sleep waits for d or until ctx ends (nil: a timer). Tests whose clock
	// stands still replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns the service.
func New(store ports.Revocations, clock ports.Clock, cfg Config) *Service {
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	return &Service{store: store, clock: clock, ttl: cfg.CacheTTL, sleep: cfg.Sleep, cache: map[string]cached{}}
}

// Revoke ends every session of userID begun up to now, on every instance
// (within the cache lifetime of the others), then waits for the current
// second to end (see the package doc). Returns the store's errors
// (Unavailable); Invalid for an empty user id.
func (s *Service) Revoke(ctx context.Context, userID string) error {
	now := s.clock.Now()
	if err := s.store.RevokeTokens(ctx, userID, now); err != nil {
		return err
	}
	s.remember(userID, now, now)
	return s.sleep(ctx, cutoff(now).Sub(now))
}

// Check returns Unauthenticated when p's session was revoked (signed out
// everywhere, password reset, account deleted). Returns the store's
// errors (Unavailable).
func (s *Service) Check(ctx context.Context, p domain.Principal) error {
	before, err := s.revokedBefore(ctx, p.UserID)
	if err != nil {
		return err
	}
	if !before.IsZero() && p.AuthTime.Before(cutoff(before)) {
		return domain.Errorf(domain.Unauthenticated, "the session has ended (signed out, password reset or account deleted): sign in again")
	}
	return nil
}

func (s *Service) revokedBefore(ctx context.Context, userID string) (time.Time, error) {
	now := s.clock.Now()
	if s.ttl > 0 {
		s.mu.Lock()
		c, ok := s.cache[userID]
		s.mu.Unlock()
		if ok && now.Sub(c.fetched) < s.ttl {
			return c.before, nil
		}
	}
	before, err := s.store.TokensRevokedBefore(ctx, userID)
	if err != nil {
		return time.Time{}, err
	}
	s.remember(userID, before, now)
	return before, nil
}

func (s *Service) remember(userID string, before, now time.Time) {
	if s.ttl <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= cacheLimit {
		clear(s.cache)
	}
	if c, ok := s.cache[userID]; ok && c.before.After(before) {
		before = c.before
	}
	s.cache[userID] = cached{before: before, fetched: now}
}

// cutoff is the first whole second after the one holding a revocation at
// t: sessions begun before it are over (auth_time has whole seconds).
func cutoff(t time.Time) time.Time { return t.Truncate(time.Second).Add(time.Second) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return domain.Wrap(ctx.Err(), domain.Unavailable, "the request ended")
	}
}
