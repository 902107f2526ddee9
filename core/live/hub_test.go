package live_test

import (
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/live"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

func newHub(t *testing.T, cfg live.Config) *live.Hub {
	t.Helper()
	clock := fakeclock.New(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	return live.New(memstore.New(clock), clock, nil, cfg)
}

func note(id, user string) domain.Notification {
	return domain.Notification{ID: id, UserID: user, Type: domain.NotificationComment, CreatedAt: time.Now()}
}

func TestPublishReachesEverySubscriptionOfTheRecipientOnce(t *testing.T) {
	h := newHub(t, live.Config{})
	a1, _ := h.Subscribe("ann")
	a2, _ := h.Subscribe("ann")
	b, _ := h.Subscribe("bob")
	h.Publish(note("n1", "ann"))
	h.Publish(note("n1", "ann")) // the poller finding it again
	for _, s := range []*live.Subscription{a1, a2} {
		if ev := <-s.C; ev.Notification == nil || ev.Notification.ID != "n1" {
			t.Fatalf("event %+v", ev)
		}
		select {
		case ev := <-s.C:
			t.Fatalf("a second event %+v", ev)
		default:
		}
	}
	select {
	case ev := <-b.C:
		t.Fatalf("bob got ann's notification: %+v", ev)
	default:
	}
}

func TestASlowReaderIsEndedNotSilentlyDropped(t *testing.T) {
	h := newHub(t, live.Config{Buffer: 2})
	s, _ := h.Subscribe("ann")
	for i := range 3 {
		h.Publish(note(string(rune('a'+i)), "ann"))
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("a reader 3 events behind a buffer of 2 is still subscribed")
	}
	if !s.Lagged() || h.Connected() != 0 {
		t.Errorf("lagged %v, connected %d", s.Lagged(), h.Connected())
	}
}

func TestCloseEndsStreamsAndRefusesNewOnes(t *testing.T) {
	h := newHub(t, live.Config{MaxPerUser: 2})
	s1, _ := h.Subscribe("ann")
	if _, err := h.Subscribe("ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe("ann"); !domain.IsCode(err, domain.TooManyRequests) {
		t.Fatalf("a third stream: %v, want TooManyRequests", err)
	}
	h.Close()
	select {
	case <-s1.Done():
	default:
		t.Fatal("Close left a stream open")
	}
	s3, err := h.Subscribe("bob")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s3.Done():
	default:
		t.Fatal("a stream opened after Close is not ended")
	}
}
