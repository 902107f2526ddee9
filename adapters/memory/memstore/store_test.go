package memstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestStorageContract runs the shared storage contract with a real clock
// (the suite's pruning test lets time pass).
func TestStorageContract(t *testing.T) {
	porttest.RunStorage(t, func(t *testing.T) ports.Storage { return memstore.New(system.Clock{}) })
	porttest.RunRateCounters(t, func(t *testing.T) ports.RateCounters { return memstore.New(system.Clock{}) })
	porttest.RunRevocations(t, func(t *testing.T) ports.Storage { return memstore.New(system.Clock{}) })
}

// newFixture returns an empty store on a fake clock.
func newFixture() (*memstore.Store, *fakeclock.Clock, context.Context) {
	clock := fakeclock.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	return memstore.New(clock), clock, context.Background()
}

func mustProfile(t testing.TB, s *memstore.Store, id string) domain.Profile {
	t.Helper()
	p, err := s.CreateProfile(context.Background(), domain.Profile{ID: id, Email: id + "@example.com"})
	if err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	return p
}

// Callers must never reach the stored slices and pointers: not through
// arguments, results, or the values handed to update callbacks.
func TestNoAliasing(t *testing.T) {
	s, _, ctx := newFixture()
	mustProfile(t, s, "u")
	var mediaIDs []string
	for _, id := range []string{"m1", "m2"} {
		variants := []string{domain.VariantThumb}
		if _, err := s.CreateMedia(ctx, domain.Media{ID: id, OwnerID: "u", Variants: variants}, nil); err != nil {
			t.Fatalf("CreateMedia: %v", err)
		}
		variants[0] = "changed"
		mediaIDs = append(mediaIDs, id)
	}
	in := domain.Post{ID: "p", AuthorID: "u", MediaIDs: mediaIDs}
	if _, err := s.CreatePost(ctx, in); err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	in.MediaIDs[0] = "changed"
	got, _ := s.GetPost(ctx, "p")
	got.MediaIDs[1] = "changed"
	var kept *domain.Post
	if _, _, err := s.UpdatePost(ctx, "p", func(p *domain.Post) error { kept = p; return nil }); err != nil {
		t.Fatalf("UpdatePost: %v", err)
	}
	kept.MediaIDs[0] = "changed after the callback"
	if got, _ := s.GetPost(ctx, "p"); !slices.Equal(got.MediaIDs, []string{"m1", "m2"}) {
		t.Errorf("stored MediaIDs = %v, want [m1 m2]", got.MediaIDs)
	}

	var keptMedia *domain.Media
	if _, err := s.UpdateMedia(ctx, "m1", func(m *domain.Media) error { keptMedia = m; return nil }); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	keptMedia.Variants[0] = "changed after the callback"
	m, _ := s.GetMedia(ctx, "m1")
	m.Variants[0] = "changed"
	batch, _ := s.GetMediaBatch(ctx, []string{"m1"})
	batch[0].Variants[0] = "changed"
	if m, _ := s.GetMedia(ctx, "m1"); !slices.Equal(m.Variants, []string{domain.VariantThumb}) {
		t.Errorf("stored Variants = %v", m.Variants)
	}

	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	n := &domain.Notification{ID: "n", UserID: "u", CommentID: "c"}
	if _, err := s.CreateComment(ctx, domain.Comment{ID: "c", PostID: "p", AuthorID: "u"}, "u", n); err != nil {
		t.Fatalf("CreateComment: %v", err)
	}
	if err := s.MarkNotificationsRead(ctx, "u", []string{"n"}, false, at); err != nil {
		t.Fatalf("MarkNotificationsRead: %v", err)
	}
	list, _, _ := s.ListNotifications(ctx, "u", "", 10)
	*list[0].ReadAt = at.Add(time.Hour)
	snap, _ := s.Snapshot(ctx, "u")
	*snap.Notifications[0].ReadAt = at.Add(time.Hour)
	snap.Posts[0].MediaIDs[0] = "changed"
	snap.Profile.DisplayName = "changed"
	if got, _ := s.GetNotifications(ctx, "u", []string{"n"}); !got[0].ReadAt.Equal(at) {
		t.Errorf("stored ReadAt = %v, want %v", got[0].ReadAt, at)
	}
	if p, _ := s.GetProfile(ctx, "u"); p.DisplayName != "" {
		t.Errorf("profile changed through the snapshot: %q", p.DisplayName)
	}
	if got, _ := s.GetPost(ctx, "p"); got.MediaIDs[0] != "m1" {
		t.Errorf("post changed through the snapshot: %v", got.MediaIDs)
	}
}

// The horizon is exactly the highest pruned Seq, and changes are stamped
// with the store's clock.
func TestPruneFeedUsesClock(t *testing.T) {
	s, clock, ctx := newFixture()
	mustProfile(t, s, "a") // Seq 1 at t0
	clock.Advance(time.Minute)
	mustProfile(t, s, "b") // Seq 2 at t0+1m
	clock.Advance(time.Minute)
	mustProfile(t, s, "c") // Seq 3 at t0+2m

	chs, _, _ := s.ChangesSince(ctx, "b", 0, 10)
	if len(chs) != 1 || chs[0].Seq != 2 || !chs[0].At.Equal(clock.Now().Add(-time.Minute)) {
		t.Fatalf("b's feed = %+v, want Seq 2 at the clock's time", chs)
	}
	if h, _ := s.FeedHorizon(ctx); h != 0 {
		t.Fatalf("fresh horizon = %d, want 0", h)
	}
	// Strictly older than before: b's change (exactly at before) stays.
	if err := s.PruneFeed(ctx, clock.Now().Add(-time.Minute)); err != nil {
		t.Fatalf("PruneFeed: %v", err)
	}
	if h, _ := s.FeedHorizon(ctx); h != 1 {
		t.Errorf("horizon = %d, want 1", h)
	}
	if chs, _, _ := s.ChangesSince(ctx, "b", 0, 10); len(chs) != 1 {
		t.Errorf("b's change at the cutoff was pruned")
	}
	if err := s.PruneFeed(ctx, clock.Now().Add(time.Second)); err != nil {
		t.Fatalf("PruneFeed: %v", err)
	}
	if h, _ := s.FeedHorizon(ctx); h != 3 {
		t.Errorf("horizon = %d, want 3", h)
	}
	// Pruning an older time later never lowers the horizon.
	if err := s.PruneFeed(ctx, clock.Now().Add(-time.Hour)); err != nil {
		t.Fatalf("PruneFeed: %v", err)
	}
	if h, _ := s.FeedHorizon(ctx); h != 3 {
		t.Errorf("horizon after an older prune = %d, want 3", h)
	}
}

func TestLimitsAndContext(t *testing.T) {
	s, _, ctx := newFixture()
	mustProfile(t, s, "u")
	if _, err := s.CreatePost(ctx, domain.Post{ID: "p", AuthorID: "u"}); err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	for _, limit := range []int{0, -1, domain.MaxPageLimit + 1} {
		_, _, err := s.ListPosts(ctx, ports.PostQuery{Limit: limit})
		if domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("ListPosts(limit %d): %v, want Invalid", limit, err)
		}
		_, _, err = s.ListComments(ctx, "p", "", limit)
		if domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("ListComments(limit %d): %v, want Invalid", limit, err)
		}
		_, _, err = s.ListNotifications(ctx, "u", "", limit)
		if domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("ListNotifications(limit %d): %v, want Invalid", limit, err)
		}
	}
	if _, _, err := s.ChangesSince(ctx, "u", 0, 0); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("ChangesSince(limit 0): %v, want Invalid", err)
	}
	if _, err := s.CreateMedia(ctx, domain.Media{ID: "m", OwnerID: "u", PostID: "p"}, nil); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("CreateMedia attached to a post: %v, want Invalid", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CreateProfile(cancelled, domain.Profile{ID: "x", Email: "x@example.com"}); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("CreateProfile with a cancelled context: %v, want Unavailable", err)
	}
	if _, err := s.GetProfile(ctx, "x"); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("profile written despite the cancelled context: %v", err)
	}
}

func BenchmarkCreateGetPost(b *testing.B) {
	s, _, ctx := newFixture()
	mustProfile(b, s, "u")
	ids := system.IDs{}
	for b.Loop() {
		p, err := s.CreatePost(ctx, domain.Post{ID: ids.NewID(), AuthorID: "u", Body: "hello"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.GetPost(ctx, p.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// Devices and push settings are copied in and out too: a caller's
// subscription or PushOff slice, or one kept from a callback, never
// reaches the stored value.
func TestPushNoAliasing(t *testing.T) {
	s, clock, ctx := newFixture()
	sub := &domain.WebPushSubscription{Endpoint: "https://push.example.net/1", P256dh: "k", Auth: "a"}
	in := domain.Device{ID: "d", UserID: "u", Platform: domain.PlatformWebPush, Subscription: sub, SeenAt: clock.Now()}
	got, _, err := s.PutDevice(ctx, in)
	if err != nil {
		t.Fatalf("PutDevice: %v", err)
	}
	sub.Endpoint = "https://push.example.net/changed"
	got.Subscription.Auth = "changed"
	list, _ := s.ListDevices(ctx, "u")
	list[0].Subscription.P256dh = "changed"
	if list, _ := s.ListDevices(ctx, "u"); *list[0].Subscription != (domain.WebPushSubscription{Endpoint: "https://push.example.net/1", P256dh: "k", Auth: "a"}) {
		t.Errorf("stored subscription = %+v", *list[0].Subscription)
	}

	var kept *domain.NotificationSettings
	res, err := s.UpdateNotificationSettings(ctx, "u", func(st *domain.NotificationSettings) error {
		st.PushOff = []domain.NotificationType{domain.NotificationComment}
		st.Quiet = &domain.QuietHours{Start: 1, End: 2, TimeZone: "UTC"}
		kept = st
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateNotificationSettings: %v", err)
	}
	kept.PushOff[0], kept.Quiet.Start = "changed", 99
	res.PushOff[0], res.Quiet.End = "changed", 99
	read, _ := s.GetNotificationSettings(ctx, "u")
	read.PushOff[0] = "changed"
	if st, _ := s.GetNotificationSettings(ctx, "u"); st.PushOff[0] != domain.NotificationComment || st.Quiet.Start != 1 || st.Quiet.End != 2 {
		t.Errorf("stored settings = %+v %+v", st.PushOff, *st.Quiet)
	}
}

// A notification without a CreatedAt is due at the store's clock.
func TestOutboxDueWithoutCreatedAt(t *testing.T) {
	s, clock, ctx := newFixture()
	mustProfile(t, s, "u")
	if _, err := s.CreatePost(ctx, domain.Post{ID: "p", AuthorID: "u"}); err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	n := &domain.Notification{ID: "n", UserID: "u", PostID: "p", CommentID: "c"}
	if _, err := s.CreateComment(ctx, domain.Comment{ID: "c", PostID: "p", AuthorID: "v"}, "u", n); err != nil {
		t.Fatalf("CreateComment: %v", err)
	}
	state, attempts, next, err := s.DeliveryState(ctx, "u", "n")
	if err != nil || state != domain.DeliveryPending || attempts != 0 || !next.Equal(clock.Now()) {
		t.Errorf("DeliveryState = %s, %d, %v, %v; want pending, 0, %v", state, attempts, next, err, clock.Now())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ClaimDeliveries(cancelled, clock.Now(), time.Minute, 10); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("ClaimDeliveries with a cancelled context: %v, want Unavailable", err)
	}
	if got, err := s.ClaimDeliveries(ctx, clock.Now(), time.Minute, 10); err != nil || len(got) != 1 {
		t.Errorf("ClaimDeliveries = %v, %v; want the notification (the cancelled claim took nothing)", got, err)
	}
}
