package mysqlstore

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
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
// other, with MariaDB reached directly and through a proxy that holds
// every chunk of bytes for 0.25 ms each way: the 0.5 ms round trip of a
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
				mc.Addr = newDelayProxy(b, mc.Addr, rtt/2).addr()
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

// delayProxy forwards TCP connections to a server, holding every chunk of
// bytes for a fixed delay in each direction (a network's latency; chunks
// keep their order and are not slowed by each other).
type delayProxy struct {
	ln    net.Listener
	delay time.Duration
	wg    sync.WaitGroup
}

func newDelayProxy(tb testing.TB, target string, delay time.Duration) *delayProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &delayProxy{ln: ln, delay: delay}
	var mu sync.Mutex
	var conns []net.Conn
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			p.wg.Go(func() { p.pipe(up, c) })
			p.wg.Go(func() { p.pipe(c, up) })
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *delayProxy) addr() string { return p.ln.Addr().String() }

// pipe copies src to dst, each chunk written delay after it was read.
func (p *delayProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		data []byte
		at   time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	defer dst.Close()
	for c := range q {
		// Timers here are about a millisecond coarse (time.Sleep(250µs)
		// takes 1.1 ms): sleep only the part above that, spin the rest.
		if d := time.Until(c.at) - 2*time.Millisecond; d > 0 {
			time.Sleep(d)
		}
		for time.Now().Before(c.at) {
			runtime.Gosched()
		}
		if _, err := dst.Write(c.data); err != nil {
			_, _ = io.Copy(io.Discard, src)
			return
		}
	}
}
