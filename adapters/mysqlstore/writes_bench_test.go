package mysqlstore

import (
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// BenchmarkCreateWrites measures creating posts and comments through the
// whole HTTP stack on MariaDB with 16 users on 16 connections (the
// issue's load), against a bare database/sql loop inserting rows of the
// same shape into a plain table on the same pool size, in one run:
//
//	go test -run '^$' -bench BenchmarkCreateWrites -benchtime 3s ./adapters/mysqlstore/
//
// ops/s = 1e9 / ns/op; the ratio bare/API is what the write path costs
// above one INSERT. The HTTP client runs in this process and costs the
// machine about as much as the server.
func BenchmarkCreateWrites(b *testing.B) {
	const users = 16
	dsn := testDatabase(b, false)
	c := DefaultConfig()
	c.MaxOpenConns, c.MaxIdleConns = users, users
	s := testStoreOn(b, dsn, c, Options{})
	en := newAPIEnvPolicy(b, s, limits.Policy{})
	en.client = &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * users, MaxIdleConnsPerHost: 4 * users}, Timeout: 10 * time.Second}
	tokens := make([]string, users)
	posts := make([]string, users)
	for i := range users {
		tokens[i], _ = en.signUp()
		var p struct{ ID string }
		if _, err := en.callWith("POST", "/v1/posts", auth(tokens[i]), map[string]any{"body": "commented on"}, &p); err != nil {
			b.Fatal(err)
		}
		posts[i] = p.ID
	}
	run := func(b *testing.B, op func(user int) error) {
		var next atomic.Int64
		b.SetParallelism(max(1, users/runtime.GOMAXPROCS(0))) // 16 goroutines
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			user := int(next.Add(1)-1) % users
			for pb.Next() {
				if err := op(user); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("api-create-post", func(b *testing.B) {
		run(b, func(u int) error {
			_, err := en.callWith("POST", "/v1/posts", auth(tokens[u]), map[string]any{"body": "hello"}, nil)
			return err
		})
	})
	b.Run("api-create-comment", func(b *testing.B) {
		run(b, func(u int) error {
			// Each user comments on the next user's post: 16 post rows, 32 feeds.
			_, err := en.callWith("POST", "/v1/posts/"+posts[(u+1)%users]+"/comments", auth(tokens[u]), map[string]any{"body": "nice"}, nil)
			return err
		})
	})
	db := testOpenDB(b, dsn, c)
	if _, err := db.ExecContext(b.Context(), "CREATE TABLE bare_posts (id VARCHAR(64) PRIMARY KEY, author_id VARCHAR(64) NOT NULL, body TEXT NOT NULL, created_at DATETIME(3) NOT NULL, KEY (author_id, id))"); err != nil {
		b.Fatal(err)
	}
	b.Run("bare-insert", func(b *testing.B) {
		run(b, func(u int) error {
			_, err := db.ExecContext(b.Context(), "INSERT INTO bare_posts (id, author_id, body, created_at) VALUES (?, ?, ?, ?)",
				porttest.NewID(), tokens[u][:16], "hello", time.Now().UTC())
			return err
		})
	})
}

func auth(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// BenchmarkWriteLatency measures one client creating posts and comments
// (through the store, then through the whole HTTP stack), one after the
// other, with MariaDB reached directly and through a fault proxy that
// holds every chunk of bytes for 0.25 ms each way: the 0.5 ms round trip of a
// database in the same AWS availability zone, where round trips, not
// the server's work, make a write's latency.
//
//	go test -run '^$' -bench BenchmarkWriteLatency -benchtime 2s ./adapters/mysqlstore/
func BenchmarkWriteLatency(b *testing.B) {
	for _, rtt := range []time.Duration{0, 500 * time.Microsecond} {
		b.Run(fmt.Sprintf("rtt=%v", rtt), func(b *testing.B) {
			dsn := testDatabase(b, false)
			mc, err := mysql.ParseDSN(dsn)
			if err != nil {
				b.Fatal(err)
			}
			if rtt > 0 {
				mc.Addr = newFaultProxy(b, mc.Addr, rtt/2).addr()
			}
			c := DefaultConfig()
			c.DSN = mc.FormatDSN()
			s, err := Open(c, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			en := newAPIEnvPolicy(b, s, limits.Policy{})
			var p struct{ ID string }
			en.mustCall("POST", "/v1/posts", map[string]any{"body": "commented on"}, &p)
			b.Run("api-create-post", func(b *testing.B) {
				for b.Loop() {
					en.mustCall("POST", "/v1/posts", map[string]any{"body": "hello"}, nil)
				}
			})
			b.Run("api-create-comment", func(b *testing.B) {
				for b.Loop() {
					en.mustCall("POST", "/v1/posts/"+p.ID+"/comments", map[string]any{"body": "nice"}, nil)
				}
			})
		})
	}
}
