package mysqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/ports/porttest"
)

// BenchmarkHit measures Hit on MariaDB: one caller counting one key,
// concurrent callers on one key (they queue on its row lock) and on keys of
// their own, and n = 0 (a primary-key read).
//
//	go test -run '^$' -bench 'BenchmarkHit|BenchmarkTokensRevokedBefore' -benchmem ./adapters/mysqlstore/
func BenchmarkHit(b *testing.B) {
	s := newBenchStore(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		key := porttest.NewID()
		for b.Loop() {
			if _, _, err := s.Hit(ctx, key, time.Hour, 1, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("serial-read", func(b *testing.B) {
		key := porttest.NewID()
		if _, _, err := s.Hit(ctx, key, time.Hour, 1, time.Now()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, _, err := s.Hit(ctx, key, time.Hour, 0, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-one-key", func(b *testing.B) {
		key := porttest.NewID()
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := s.Hit(ctx, key, time.Hour, 1, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("parallel-own-keys", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			key := porttest.NewID()
			for pb.Next() {
				if _, _, err := s.Hit(ctx, key, time.Hour, 1, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkTokensRevokedBefore measures the revocation check every
// authenticated request makes (a primary-key read on the writer), for a
// user with a record and one without.
func BenchmarkTokensRevokedBefore(b *testing.B) {
	s := newBenchStore(b)
	ctx := context.Background()
	revoked := porttest.NewID()
	if err := s.RevokeTokens(ctx, revoked, time.Now()); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, user string }{{"revoked", revoked}, {"none", porttest.NewID()}} {
		b.Run("serial-"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.TokensRevokedBefore(ctx, c.user); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel-"+c.name, func(b *testing.B) {
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.TokensRevokedBefore(ctx, c.user); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// newBenchStore returns a store over a fresh database whose pool serves
// benchParallelism*GOMAXPROCS goroutines (as BenchmarkGetPost's).
func newBenchStore(b *testing.B) *Store {
	c := DefaultConfig()
	n := benchParallelism * 4
	c.MaxOpenConns, c.MaxIdleConns = n, n
	return NewFromDB(testOpenDB(b, testDatabase(b, false), c), nil, Options{})
}
