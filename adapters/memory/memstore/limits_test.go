package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// TestLimitsCancelledContext: like every other call, the rate counter and
// revocation calls refuse a cancelled context with Unavailable and change
// nothing.
func TestLimitsCancelledContext(t *testing.T) {
	s, clock, ctx := newFixture()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Hit(cancelled, "k", time.Minute, 1, clock.Now()); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("Hit: %v, want Unavailable", err)
	}
	if _, err := s.PruneRateCounters(cancelled, clock.Now()); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("PruneRateCounters: %v, want Unavailable", err)
	}
	if err := s.RevokeTokens(cancelled, "u", clock.Now()); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("RevokeTokens: %v, want Unavailable", err)
	}
	if _, err := s.TokensRevokedBefore(cancelled, "u"); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("TokensRevokedBefore: %v, want Unavailable", err)
	}
	if n, _, err := s.Hit(ctx, "k", time.Minute, 0, clock.Now()); err != nil || n != 0 {
		t.Errorf("counted despite the cancelled context: %d, %v", n, err)
	}
	if at, err := s.TokensRevokedBefore(ctx, "u"); err != nil || !at.IsZero() {
		t.Errorf("revoked despite the cancelled context: %v, %v", at, err)
	}
}

// BenchmarkHit measures Hit for one caller and for concurrent callers on
// one key (they share the limits mutex).
//
//	go test -run '^$' -bench 'BenchmarkHit|BenchmarkTokensRevokedBefore' -benchmem ./adapters/memory/memstore/
func BenchmarkHit(b *testing.B) {
	s, _, ctx := newFixture()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Hit(ctx, "bench:serial", time.Hour, 1, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-one-key", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := s.Hit(ctx, "bench:parallel", time.Hour, 1, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkTokensRevokedBefore measures the revocation check, serial and
// concurrent.
func BenchmarkTokensRevokedBefore(b *testing.B) {
	s, clock, ctx := newFixture()
	if err := s.RevokeTokens(ctx, "u", clock.Now()); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.TokensRevokedBefore(ctx, "u"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.TokensRevokedBefore(ctx, "u"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
