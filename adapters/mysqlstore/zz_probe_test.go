package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
)

func probeCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func probeRun(b *testing.B, body func(ctx context.Context) error) {
	b.SetParallelism(benchParallelism)
	c0 := probeCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := body(context.Background()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(probeCPU()-c0)/float64(b.N), "cpu-ns/op")
}

const probeQ = "SELECT id, author_id, body, comment_count, created_at, updated_at, version FROM posts WHERE id = ?"

func BenchmarkProbe(b *testing.B) {
	dsn := testDatabase(b, false)
	c := DefaultConfig()
	n := benchParallelism * 4
	c.MaxOpenConns, c.MaxIdleConns = n, n
	db := testOpenDB(b, dsn, c)
	s := NewFromDB(db, nil, Options{})
	p, err := s.CreatePost(context.Background(), domain.Post{ID: system.IDs{}.NewID(), AuthorID: system.IDs{}.NewID(), Body: "probe"})
	if err != nil {
		b.Fatal(err)
	}
	id := p.ID
	c2 := c
	c2.QueryTimeout = 0
	scan := func(r interface{ Scan(...any) error }) error {
		var id, author, body string
		var count, version int64
		var created, updated sql.NullTime
		return r.Scan(&id, &author, &body, &count, &created, &updated, &version)
	}
	b.Run("bare-bg", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error { return scan(db.QueryRowContext(ctx, probeQ, id)) })
	})
	b.Run("bare-timeout", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return scan(db.QueryRowContext(ctx, probeQ, id))
		})
	})
	b.Run("bare-cancel", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			return scan(db.QueryRowContext(ctx, probeQ, id))
		})
	})
	b.Run("store-GetPost", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error { _, err := s.GetPost(ctx, id); return err })
	})
	b.Run("raw-timeout", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			return conn.Raw(func(dc any) error {
				rows, err := dc.(driver.QueryerContext).QueryContext(ctx, probeQ, []driver.NamedValue{{Ordinal: 1, Value: id}})
				if err != nil {
					return err
				}
				defer rows.Close()
				dest := make([]driver.Value, 7)
				if err := rows.Next(dest); err != nil {
					return err
				}
				if err := rows.Next(dest); err != io.EOF {
					return err
				}
				return nil
			})
		})
	})
}
