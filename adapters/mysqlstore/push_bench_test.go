package mysqlstore

import (
	"context"
	"sync"
	"testing"

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
	for _, relayOn := range []bool{false, true} {
		name := "relay-off"
		if relayOn {
			name = "relay-on"
		}
		b.Run(name, func(b *testing.B) {
			var stop func()
			if relayOn {
				relay := delivery.New(s, channels, system.Clock{}, nil, delivery.Config{CoalesceWindow: -1})
				rctx, cancel := context.WithCancel(ctx)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for rctx.Err() == nil {
						if _, err := relay.RunOnce(rctx); err != nil && rctx.Err() == nil {
							b.Error(err)
							return
						}
					}
				}()
				stop = func() { cancel(); wg.Wait() }
			}
			before := push.Total()
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
					if _, err := s.CreateComment(ctx, cm, &domain.Notification{ID: ids.NewID(), UserID: author,
						Type: domain.NotificationComment, ActorID: cm.AuthorID, PostID: post.ID, CommentID: cm.ID}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if stop != nil {
				b.StopTimer()
				stop()
				b.ReportMetric(float64(push.Total()-before)/float64(b.N), "pushes/comment")
			}
		})
	}
}
