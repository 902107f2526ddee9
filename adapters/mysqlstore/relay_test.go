package mysqlstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// crashingRecords loses a share of the outcomes, as a relay that dies
// between sending a push and recording it.
type crashingRecords struct {
	ports.Storage
	mu   sync.Mutex
	rng  *rand.Rand
	lost int
}

func (c *crashingRecords) RecordDelivery(ctx context.Context, id string, attempt int, o domain.DeliveryOutcome) error {
	c.mu.Lock()
	crash := c.rng.IntN(10) < 3
	if crash {
		c.lost++
	}
	c.mu.Unlock()
	if crash {
		return domain.Wrap(errors.New("process killed"), domain.Unavailable, "relay died")
	}
	return c.Storage.RecordDelivery(ctx, id, attempt, o)
}

// flakyPush fails a share of the sends, as a push service having a bad day.
type flakyPush struct {
	ports.Push
	mu  sync.Mutex
	rng *rand.Rand
}

func (f *flakyPush) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	f.mu.Lock()
	fail := f.rng.IntN(10) < 3
	f.mu.Unlock()
	if fail {
		return domain.Errorf(domain.Unavailable, "push service down")
	}
	return f.Push.Send(ctx, d, m)
}

// TestRelaysDeliverEveryNotificationAtLeastOnce: four relays on one MySQL
// database, each losing 30% of its outcomes (dying between send and
// record) and sending through a push service that fails 30% of the time,
// run round after round (the clock moving past leases and backoffs): every
// notification ends sent, every one reached the device, and every repeat
// carried the same collapse id, so the device shows it once.
func TestRelaysDeliverEveryNotificationAtLeastOnce(t *testing.T) {
	s := isolationStore(t, "REPEATABLE-READ")
	ctx := t.Context()
	clock := fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))
	const n = 40
	author := porttest.NewID()
	if _, err := s.CreateProfile(ctx, domain.Profile{ID: author, Email: author + "@example.com"}); err != nil {
		t.Fatal(err)
	}
	rec := mempush.New(nil)
	phone := domain.Device{ID: "phone", UserID: author, Platform: domain.PlatformFCM, Token: "token-" + author, CreatedAt: clock.Now(), SeenAt: clock.Now()}
	if _, _, err := s.PutDevice(ctx, phone); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for range n {
		// One post each: no coalescing, one push per notification.
		p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: author, Body: "x", CreatedAt: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		c := domain.Comment{ID: porttest.NewID(), PostID: p.ID, AuthorID: porttest.NewID(), Body: "c", CreatedAt: clock.Now()}
		note := domain.Notification{ID: porttest.NewID(), UserID: author, Type: domain.NotificationComment, ActorID: c.AuthorID, PostID: p.ID, CommentID: c.ID, CreatedAt: clock.Now()}
		if _, err := s.CreateComment(ctx, c, author, &note); err != nil {
			t.Fatal(err)
		}
		want[note.ID] = true
	}
	var relays []*delivery.Relay
	var crashes []*crashingRecords
	for i := range 4 {
		cr := &crashingRecords{Storage: s, rng: rand.New(rand.NewPCG(uint64(i), 1))}
		crashes = append(crashes, cr)
		ch := map[domain.Platform]ports.Push{domain.PlatformFCM: &flakyPush{Push: rec, rng: rand.New(rand.NewPCG(uint64(i), 2))}}
		relays = append(relays, delivery.New(cr, ch, clock, nil, delivery.Config{Batch: 7, MaxAttempts: 100, CoalesceWindow: -1, Backoff: time.Second, MaxBackoff: time.Second}))
	}
	for round := 0; ; round++ {
		var wg sync.WaitGroup
		for _, r := range relays {
			wg.Go(func() {
				if _, err := r.RunOnce(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		done := 0
		for id := range want {
			st, _, _, err := s.DeliveryState(ctx, author, id)
			if err != nil {
				t.Fatal(err)
			}
			if st == domain.DeliverySent {
				done++
			} else if st != domain.DeliveryPending {
				t.Fatalf("notification %s ended %s", id, st)
			}
		}
		if done == n {
			t.Logf("all %d sent after %d rounds", n, round+1)
			break
		}
		if round == 100 {
			t.Fatalf("%d of %d sent after 100 rounds", done, n)
		}
		clock.Advance(delivery.DefaultLease + 2*time.Second) // past every lease and backoff
	}
	got := map[string]int{}
	for _, m := range rec.Sent(phone) {
		if len(m.NotificationIDs) != 1 || m.CollapseID != m.NotificationIDs[0] {
			t.Fatalf("push %+v: its collapse id must be its notification's id", m)
		}
		got[m.CollapseID]++
	}
	repeats := 0
	for id := range want {
		if got[id] == 0 {
			t.Errorf("notification %s never reached the device", id)
		}
		repeats += got[id] - 1
	}
	lost := 0
	for _, c := range crashes {
		lost += c.lost
	}
	if lost == 0 {
		t.Fatal("no outcome was lost: the test proves nothing")
	}
	t.Logf("%d outcomes lost to crashes, %d repeated pushes (same collapse id)", lost, repeats)
}
