package mysqlstore

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
)

// benchParallelism: RunParallel runs benchParallelism*GOMAXPROCS
// goroutines in every sub-benchmark, and every pool may open as many
// connections, so all targets run at the same concurrency.
const benchParallelism = 8

// BenchmarkGetPost compares, in one run and at equal concurrency, a bare
// database/sql primary-key select loop with GET /v1/posts/{id} through the
// whole HTTP stack (loopback HTTP, JWT verification, Echo, core, store) on
// MariaDB, for a post without media (one statement) and with two media
// items (two statements), and the store's GetPost alone. Each API target
// runs with client-side interpolation (interpolateParams=true, the default)
// and with server-side prepared statements (interpolateParams=false).
//
//	go test -run '^$' -bench BenchmarkGetPost -benchtime 3s ./adapters/mysqlstore/
//
// Compare ns/op: ops/s = 1e9 / ns/op. The HTTP client here is Go's, in
// this process, and costs the machine about as much as the server; issue
// 3's ratio is measured by `make load-mysql` with wrk as the client.
func BenchmarkGetPost(b *testing.B) {
	dsn := testDatabase(b, false)
	c := DefaultConfig()
	n := benchParallelism * 4 // > benchParallelism*GOMAXPROCS on small machines
	c.MaxOpenConns, c.MaxIdleConns = n, n

	type target struct {
		name  string
		store *Store
		env   *apiEnv
	}
	var targets []target
	var plainID, mediaID string
	for _, mode := range []string{"interpolate", "prepared"} {
		d := dsn
		if mode == "prepared" {
			d += "?interpolateParams=false"
		}
		db := testOpenDB(b, d, c)
		s := NewFromDB(db, nil, Options{})
		en := newAPIEnv(b, s)
		en.client = &http.Client{Transport: &http.Transport{MaxIdleConns: n * 4, MaxIdleConnsPerHost: n * 4}, Timeout: 10 * time.Second}
		if plainID == "" {
			var p struct{ ID string }
			en.mustCall("POST", "/v1/posts", map[string]any{"body": "benchmark post", "mediaIds": []string{}}, &p)
			plainID = p.ID
			en.mustCall("POST", "/v1/posts", map[string]any{"body": "benchmark post with media", "mediaIds": en.readyMedia(2)}, &p)
			mediaID = p.ID
		}
		targets = append(targets, target{mode, s, en})
	}

	bare := testOpenDB(b, dsn, c)
	b.Run("bare-select", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				var id, author, body string
				var count, version int64
				var created, updated sql.NullTime
				if err := bare.QueryRowContext(ctx, "SELECT id, author_id, body, comment_count, created_at, updated_at, version FROM posts WHERE id = ?", plainID).
					Scan(&id, &author, &body, &count, &created, &updated, &version); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// The same loop with a cancellable context, as every request has:
	// database/sql then watches it with a goroutine per query and the
	// driver hands it to its watcher, which the loop above never pays.
	b.Run("bare-select-request-ctx", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for pb.Next() {
				var id, author, body string
				var count, version int64
				var created, updated sql.NullTime
				if err := bare.QueryRowContext(ctx, "SELECT id, author_id, body, comment_count, created_at, updated_at, version FROM posts WHERE id = ?", plainID).
					Scan(&id, &author, &body, &count, &created, &updated, &version); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, tg := range targets {
		for _, post := range []struct{ name, id string }{{"no-media", plainID}, {"2-media", mediaID}} {
			b.Run("http-"+post.name+"-"+tg.name, func(b *testing.B) {
				url := tg.env.srv.URL + "/v1/posts/" + post.id
				b.SetParallelism(benchParallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest("GET", url, nil)
						req.Header.Set("Authorization", "Bearer "+tg.env.token)
						res, err := tg.env.client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != 200 {
							b.Errorf("status %d", res.StatusCode)
							return
						}
					}
				})
			})
		}
		b.Run("store-GetPost-"+tg.name, func(b *testing.B) {
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := tg.store.GetPost(ctx, mediaID); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCreateComment measures the write path of the feed: concurrent
// comments on posts of different authors (independent feeds) and on one
// post (one feed, serialised by its lock), with each parameter mode.
func BenchmarkCreateComment(b *testing.B) {
	dsn := testDatabase(b, false)
	c := DefaultConfig()
	n := benchParallelism * 4
	c.MaxOpenConns, c.MaxIdleConns = n, n
	for _, mode := range []string{"interpolate", "prepared"} {
		d := dsn
		if mode == "prepared" {
			d += "?interpolateParams=false"
		}
		s := NewFromDB(testOpenDB(b, d, c), nil, Options{})
		ctx := context.Background()
		ids := system.IDs{}
		hot, err := s.CreatePost(ctx, domain.Post{ID: ids.NewID(), AuthorID: ids.NewID(), Body: "hot"})
		if err != nil {
			b.Fatal(err)
		}
		for _, shape := range []string{"own-feeds", "one-feed"} {
			b.Run(shape+"-"+mode, func(b *testing.B) {
				b.SetParallelism(benchParallelism)
				b.RunParallel(func(pb *testing.PB) {
					post := hot
					if shape == "own-feeds" {
						var err error
						if post, err = s.CreatePost(ctx, domain.Post{ID: ids.NewID(), AuthorID: ids.NewID(), Body: "mine"}); err != nil {
							b.Error(err)
							return
						}
					}
					for pb.Next() {
						cm := domain.Comment{ID: ids.NewID(), PostID: post.ID, AuthorID: ids.NewID(), Body: "c"}
						if _, err := s.CreateComment(ctx, cm, post.AuthorID, &domain.Notification{ID: ids.NewID(), UserID: post.AuthorID,
							Type: domain.NotificationComment, ActorID: cm.AuthorID, PostID: post.ID, CommentID: cm.ID}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
