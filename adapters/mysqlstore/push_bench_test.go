package mysqlstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// BenchmarkCreateCommentWithPush measures what push delivery adds to
// creating comments: the same concurrent comments on posts of different
// authors, without a relay (as before push existed, apart from the outbox
// columns of the notification row) and with one relay claiming, pushing
// (to a recorder: no network) and recording every notification while the
// comments are written, as a server does. The relay is asynchronous: what
// it costs a comment is the database it shares.
//
//	go test -run '^$' -bench BenchmarkCreateCommentWithPush -count 5 ./adapters/mysqlstore/
func BenchmarkCreateCommentWithPush(b *testing.B) {
	dsn := testDatabase(b, false)
	c := DefaultConfig()
	n := benchParallelism * 4
	c.MaxOpenConns, c.MaxIdleConns = n+2, n+2
	s := NewFromDB(testOpenDB(b, dsn, c), nil, Options{})
	ctx := context.Background()
	ids := system.IDs{}
	push := mempush.New(nil)
	channels := map[domain.Platform]ports.Push{domain.PlatformFCM: push}
	for _, relayOn := range []bool{true, false} {
		name := "relay-off"
		if relayOn {
			name = "relay-on"
		}
		b.Run(name, func(b *testing.B) {
			var stop func()
			var sent atomic.Int64
			if relayOn {
				relay := delivery.New(s, channels, system.Clock{}, nil, delivery.Config{CoalesceWindow: -1})
				rctx, cancel := context.WithCancel(ctx)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for rctx.Err() == nil {
						st, err := relay.RunOnce(rctx)
						if err != nil && rctx.Err() == nil {
							b.Error(err)
							return
						}
						sent.Add(int64(st.Sent))
					}
				}()
				stop = func() { cancel(); wg.Wait() }
			}
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				author := ids.NewID()
				post, err := s.CreatePost(ctx, domain.Post{ID: ids.NewID(), AuthorID: author, Body: "mine"})
				if err != nil {
					b.Error(err)
					return
				}
				if _, _, err := s.PutDevice(ctx, domain.Device{ID: "phone", UserID: author, Platform: domain.PlatformFCM, Token: "t-" + author}); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					cm := domain.Comment{ID: ids.NewID(), PostID: post.ID, AuthorID: ids.NewID(), Body: "c"}
					if _, err := s.CreateComment(ctx, cm, author, &domain.Notification{ID: ids.NewID(), UserID: author,
						Type: domain.NotificationComment, ActorID: cm.AuthorID, PostID: post.ID, CommentID: cm.ID}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if stop != nil {
				b.StopTimer()
				stop()
				// Notifications settled as sent while the comments were
				// written (a batch's notifications on one post go out as
				// one push).
				b.ReportMetric(float64(sent.Load())/float64(b.N), "sent/comment")
			}
		})
	}
}

// BenchmarkRelayThroughput measures one relay draining a backlog of
// notifications to different users (one device each), through a push
// service that answers at once and one that takes 20 ms per push (a
// realistic FCM/APNs/Web Push round trip): ns/op is per notification
// delivered.
//
//	go test -run '^$' -bench BenchmarkRelayThroughput -benchtime 2000x -count 3 ./adapters/mysqlstore/
func BenchmarkRelayThroughput(b *testing.B) {
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("push-%s", latency), func(b *testing.B) {
			dsn := testDatabase(b, false)
			s := NewFromDB(testOpenDB(b, dsn, DefaultConfig()), nil, Options{})
			ctx := context.Background()
			ids := system.IDs{}
			push := mempush.New(nil)
			for i := 0; i < b.N; i++ {
				author := ids.NewID()
				post, err := s.CreatePost(ctx, domain.Post{ID: ids.NewID(), AuthorID: author, Body: "mine"})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.PutDevice(ctx, domain.Device{ID: "phone", UserID: author, Platform: domain.PlatformFCM, Token: "t-" + author}); err != nil {
					b.Fatal(err)
				}
				cm := domain.Comment{ID: ids.NewID(), PostID: post.ID, AuthorID: ids.NewID(), Body: "c"}
				if _, err := s.CreateComment(ctx, cm, author, &domain.Notification{ID: ids.NewID(), UserID: author,
					Type: domain.NotificationComment, ActorID: cm.AuthorID, PostID: post.ID, CommentID: cm.ID}); err != nil {
					b.Fatal(err)
				}
			}
			relay := delivery.New(s, map[domain.Platform]ports.Push{domain.PlatformFCM: slowPush{push, latency}}, system.Clock{}, nil, delivery.Config{})
			b.ResetTimer()
			sent := 0
			for sent < b.N {
				st, err := relay.RunOnce(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if st.Claimed == 0 {
					b.Fatalf("%d of %d sent, nothing more due", sent, b.N)
				}
				sent += st.Sent
			}
			b.StopTimer()
			if push.Total() != b.N {
				b.Fatalf("%d pushes for %d notifications", push.Total(), b.N)
			}
		})
	}
}

// slowPush answers after latency, as a push service across a network.
type slowPush struct {
	ports.Push
	latency time.Duration
}

func (p slowPush) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	time.Sleep(p.latency)
	return p.Push.Send(ctx, d, m)
}
