package delivery_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
	"github.com/cloudpost/cloudpost/ports"
)

// fixture is a memory store with an author (ann) who has one post and one
// phone, commenters, a recording push channel and a relay on a fake clock.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeclock.Clock
	store *memstore.Store
	push  *mempush.Push
	relay *delivery.Relay
	ids   system.IDs
	post  domain.Post
	phone domain.Device
}

const window = time.Minute

func newFixture(t *testing.T, storeWrap func(ports.Storage) ports.Storage) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: fakeclock.New(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC))}
	f.store = memstore.New(f.clock)
	f.push = mempush.New(nil)
	var store ports.Storage = f.store
	if storeWrap != nil {
		store = storeWrap(f.store)
	}
	channels := map[domain.Platform]ports.Push{domain.PlatformFCM: f.push, domain.PlatformAPNs: f.push}
	f.relay = delivery.New(store, channels, f.clock, nil, delivery.Config{CoalesceWindow: window, MaxAttempts: 3, Backoff: time.Second})
	for _, u := range []struct{ id, name string }{{"ann", "Ann"}, {"bob", "Bob"}, {"cat", "Cat"}, {"dan", "Dan"}} {
		if _, err := f.store.CreateProfile(f.ctx, domain.Profile{ID: u.id, Email: u.id + "@example.com", DisplayName: u.name, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	post, err := f.store.CreatePost(f.ctx, domain.Post{ID: f.ids.NewID(), AuthorID: "ann", Body: "hello", CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	f.post = post
	f.phone = f.register("ann", "phone", domain.PlatformFCM, "fcm-token-ann")
	return f
}

func (f *fixture) register(user, id string, p domain.Platform, token string) domain.Device {
	f.t.Helper()
	d := domain.Device{ID: id, UserID: user, Platform: p, Token: token, CreatedAt: f.clock.Now(), SeenAt: f.clock.Now()}
	d, err := f.push.Register(f.ctx, d)
	if err != nil {
		f.t.Fatal(err)
	}
	d, _, err = f.store.PutDevice(f.ctx, d)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// comment stores a comment by actor on ann's post with its notification,
// as the comment service does.
func (f *fixture) comment(actor, body string) domain.Notification {
	f.t.Helper()
	now := f.clock.Now()
	c := domain.Comment{ID: f.ids.NewID(), PostID: f.post.ID, AuthorID: actor, Body: body, CreatedAt: now}
	n := domain.Notification{ID: f.ids.NewID(), UserID: "ann", Type: domain.NotificationComment, ActorID: actor, PostID: f.post.ID, CommentID: c.ID, CreatedAt: now}
	if _, err := f.store.CreateComment(f.ctx, c, "ann", &n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) run() delivery.Stats {
	f.t.Helper()
	st, err := f.relay.RunOnce(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) state(id string) (domain.DeliveryState, int) {
	f.t.Helper()
	s, attempts, _, err := f.store.DeliveryState(f.ctx, "ann", id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s, attempts
}

func TestOneCommentOnePush(t *testing.T) {
	f := newFixture(t, nil)
	n := f.comment("bob", "Lovely photo!")
	if st := f.run(); st.Sent != 1 || st.Pushes != 1 {
		t.Fatalf("stats %+v, want one sent, one push", st)
	}
	got := f.push.Sent(f.phone)
	if len(got) != 1 {
		t.Fatalf("%d pushes, want 1", len(got))
	}
	m := got[0]
	if m.CollapseID != n.ID || m.Title != "Bob commented on your post" || m.Body != "Lovely photo!" || m.Unread != 1 || m.PostID != f.post.ID || len(m.NotificationIDs) != 1 {
		t.Errorf("push %+v", m)
	}
	if s, _ := f.state(n.ID); s != domain.DeliverySent {
		t.Errorf("state %s, want sent", s)
	}
	if st := f.run(); st.Claimed != 0 {
		t.Errorf("a sent notification was claimed again: %+v", st)
	}
}

func TestCommentsWithinTheWindowCoalesce(t *testing.T) {
	f := newFixture(t, nil)
	f.comment("bob", "first")
	f.run()
	// Within the window: held back, then one push for all of them.
	var last domain.Notification
	for i, actor := range []string{"cat", "dan", "bob", "cat", "dan"} {
		f.clock.Advance(5 * time.Second)
		last = f.comment(actor, "more "+string(rune('a'+i)))
		if st := f.run(); st.Deferred != 1 || st.Pushes != 0 {
			t.Fatalf("comment %d: stats %+v, want it deferred", i, st)
		}
	}
	f.clock.Advance(window)
	st := f.run()
	if st.Sent != 5 || st.Pushes != 1 {
		t.Fatalf("stats %+v, want 5 sent in one push", st)
	}
	got := f.push.Sent(f.phone)
	if len(got) != 2 {
		t.Fatalf("%d pushes, want 2", len(got))
	}
	m := got[1]
	if m.Title != "Dan and 2 others commented on your post" || m.CollapseID != last.ID || len(m.NotificationIDs) != 5 || m.Unread != 6 {
		t.Errorf("coalesced push %+v", m)
	}
	list, _, err := f.store.ListNotifications(f.ctx, "ann", "", 100)
	if err != nil || len(list) != 6 {
		t.Errorf("inbox holds %d notifications (%v), want every one of 6", len(list), err)
	}
}

func TestDeferralIsNotAnAttempt(t *testing.T) {
	f := newFixture(t, nil)
	f.comment("bob", "first")
	f.run()
	n := f.comment("cat", "second")
	for range 10 { // ten deferrals, more than MaxAttempts
		f.run()
		f.clock.Advance(time.Second)
	}
	if s, attempts := f.state(n.ID); s != domain.DeliveryPending || attempts != 0 {
		t.Errorf("after deferrals: %s with %d attempts, want pending with 0", s, attempts)
	}
}

func TestPreferencesSkip(t *testing.T) {
	t.Run("type off", func(t *testing.T) {
		f := newFixture(t, nil)
		if _, err := f.store.UpdateNotificationSettings(f.ctx, "ann", func(s *domain.NotificationSettings) error {
			s.PushOff = []domain.NotificationType{domain.NotificationComment}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n := f.comment("bob", "hi")
		if st := f.run(); st.Skipped != 1 || f.push.Total() != 0 {
			t.Fatalf("stats %+v, pushes %d", st, f.push.Total())
		}
		if s, _ := f.state(n.ID); s != domain.DeliverySkipped {
			t.Errorf("state %s", s)
		}
	})
	t.Run("muted post", func(t *testing.T) {
		f := newFixture(t, nil)
		if err := f.store.MutePost(f.ctx, "ann", f.post.ID, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		f.comment("bob", "hi")
		if st := f.run(); st.Skipped != 1 || f.push.Total() != 0 {
			t.Fatalf("stats %+v, pushes %d", st, f.push.Total())
		}
	})
	t.Run("read before the push", func(t *testing.T) {
		f := newFixture(t, nil)
		n := f.comment("bob", "hi")
		if err := f.store.MarkNotificationsRead(f.ctx, "ann", []string{n.ID}, false, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if st := f.run(); st.Skipped != 1 || f.push.Total() != 0 {
			t.Fatalf("stats %+v, pushes %d", st, f.push.Total())
		}
	})
	t.Run("no device", func(t *testing.T) {
		f := newFixture(t, nil)
		if _, err := f.store.DeleteDevice(f.ctx, "ann", f.phone.ID); err != nil {
			t.Fatal(err)
		}
		if st := f.comment("bob", "hi"); st.ID == "" {
			t.Fatal("no notification")
		}
		if st := f.run(); st.Skipped != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestQuietHoursHoldPushesUntilTheyEnd(t *testing.T) {
	f := newFixture(t, nil)
	// Lisbon keeps UTC+0 until the end of March: at 12:00 it is inside
	// quiet hours from 11:30 to 14:00 local time.
	if _, err := f.store.UpdateNotificationSettings(f.ctx, "ann", func(s *domain.NotificationSettings) error {
		s.Quiet = &domain.QuietHours{Start: 11*60 + 30, End: 14 * 60, TimeZone: "Europe/Lisbon"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n := f.comment("bob", "hi")
	if st := f.run(); st.Deferred != 1 || f.push.Total() != 0 {
		t.Fatalf("stats %+v, pushes %d: want the push held", st, f.push.Total())
	}
	_, _, next, err := f.store.DeliveryState(f.ctx, "ann", n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next attempt %s, want the end of the quiet hours %s", next, want)
	}
	f.clock.Set(next)
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("after the quiet hours: %+v", st)
	}
}

func TestDeadDeviceIsDeleted(t *testing.T) {
	f := newFixture(t, nil)
	tablet := f.register("ann", "tablet", domain.PlatformAPNs, strings.Repeat("ab", 32))
	f.push.Kill(f.phone)
	f.comment("bob", "hi")
	st := f.run()
	if st.DevicesGone != 1 || st.Sent != 1 || len(f.push.Sent(tablet)) != 1 {
		t.Fatalf("stats %+v; tablet got %d", st, len(f.push.Sent(tablet)))
	}
	list, err := f.store.ListDevices(f.ctx, "ann")
	if err != nil || len(list) != 1 || list[0].ID != "tablet" {
		t.Errorf("devices %+v (%v), want only the tablet", list, err)
	}
}

func TestFailuresRetryWithBackoffThenGiveUp(t *testing.T) {
	f := newFixture(t, nil)
	n := f.comment("bob", "hi")
	f.push.FailNext(100)
	for attempt := 1; attempt <= 3; attempt++ {
		st := f.run()
		if st.Claimed != 1 {
			t.Fatalf("attempt %d: %+v", attempt, st)
		}
		if st := f.run(); st.Claimed != 0 {
			t.Fatalf("attempt %d: claimed again before its backoff: %+v", attempt, st)
		}
		f.clock.Advance(time.Duration(1<<attempt) * time.Second) // past backoff with jitter
	}
	if s, attempts := f.state(n.ID); s != domain.DeliveryFailed || attempts != 3 {
		t.Errorf("state %s after %d attempts, want failed after 3", s, attempts)
	}
	list, _, _ := f.store.ListNotifications(f.ctx, "ann", "", 10)
	if len(list) != 1 {
		t.Errorf("a failed push must stay in the inbox")
	}
}

func TestRetriedPushCarriesTheSameCollapseID(t *testing.T) {
	f := newFixture(t, nil)
	n := f.comment("bob", "hi")
	f.push.FailNext(1)
	f.run()
	f.clock.Advance(10 * time.Second)
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("retry: %+v", st)
	}
	if got := f.push.Sent(f.phone); len(got) != 1 || got[0].CollapseID != n.ID {
		t.Errorf("pushes %+v", got)
	}
}

// lossyRecords drops the first n outcomes: the relay "dies" after sending
// and before recording.
type lossyRecords struct {
	ports.Storage
	n int
}

func (l *lossyRecords) RecordDelivery(ctx context.Context, id string, attempt int, o domain.DeliveryOutcome) error {
	if l.n > 0 {
		l.n--
		return domain.Wrap(errors.New("connection lost"), domain.Unavailable, "storage unavailable")
	}
	return l.Storage.RecordDelivery(ctx, id, attempt, o)
}

func TestCrashBetweenSendAndRecordDeliversAgainWithTheSameCollapseID(t *testing.T) {
	f := newFixture(t, func(s ports.Storage) ports.Storage { return &lossyRecords{Storage: s, n: 1} })
	n := f.comment("bob", "hi")
	f.run()
	if st := f.run(); st.Claimed != 0 {
		t.Fatalf("claimed again while its lease holds: %+v", st)
	}
	f.clock.Advance(delivery.DefaultLease + time.Second)
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("after the lease: %+v", st)
	}
	got := f.push.Sent(f.phone)
	if len(got) != 2 || got[0].CollapseID != n.ID || got[1].CollapseID != n.ID {
		t.Fatalf("pushes %+v: want the push twice with the notification id as collapse id", got)
	}
	if s, _ := f.state(n.ID); s != domain.DeliverySent {
		t.Errorf("state %s", s)
	}
}

func TestNoCoalescingWindow(t *testing.T) {
	f := newFixture(t, nil)
	f.relay = delivery.New(f.store, map[domain.Platform]ports.Push{domain.PlatformFCM: f.push}, f.clock, nil, delivery.Config{CoalesceWindow: -1})
	f.comment("bob", "one")
	f.run()
	f.clock.Advance(time.Second)
	f.comment("cat", "two")
	if st := f.run(); st.Sent != 1 || st.Deferred != 0 {
		t.Fatalf("with the window off, a second comment is pushed at once: %+v", st)
	}
	if got := len(f.push.Sent(f.phone)); got != 2 {
		t.Errorf("%d pushes, want 2", got)
	}
}
