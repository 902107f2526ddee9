package feed_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
)

type env struct {
	store *memstore.Store
	clock *fakeclock.Clock
	feed  *feed.Service
	ada   domain.Principal
}

func newEnv(t *testing.T) env {
	clock := fakeclock.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	store := memstore.New(clock)
	profileSvc := profiles.New(store, localauth.New(localauth.Config{Clock: clock, IDs: system.IDs{}}), nil, clock, nil)
	ctx := context.Background()
	if _, err := profileSvc.CreateFromIdentity(ctx, domain.Identity{UserID: "ada", Email: "ada@example.com", DisplayName: "Ada"}); err != nil {
		t.Fatal(err)
	}
	return env{store: store, clock: clock, feed: feed.New(store, profileSvc, clock, feed.Config{Retention: 24 * time.Hour}), ada: domain.Principal{UserID: "ada"}}
}

func (e env) post(t *testing.T, id string) {
	now := e.clock.Now()
	if _, err := e.store.CreatePost(context.Background(), domain.Post{ID: id, AuthorID: "ada", Body: id, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotThenDelta(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.post(t, "p1")
	e.post(t, "p2")
	full, err := e.feed.Sync(ctx, e.ada, "")
	if err != nil || !full.Full || len(full.Posts) != 2 || full.Profile == nil {
		t.Fatalf("full sync: %+v %v", full, err)
	}
	e.post(t, "p3")
	if _, _, err := e.store.DeletePost(ctx, "p1", nil); err != nil {
		t.Fatal(err)
	}
	delta, err := e.feed.Sync(ctx, e.ada, full.Cursor)
	if err != nil || delta.Full {
		t.Fatalf("delta: %+v %v", delta, err)
	}
	if len(delta.Posts) != 1 || delta.Posts[0].ID != "p3" || len(delta.Deleted) != 1 || delta.Deleted[0] != (feed.Tombstone{Type: domain.EntityPost, ID: "p1"}) {
		t.Fatalf("delta: %+v", delta)
	}
	again, err := e.feed.Sync(ctx, e.ada, delta.Cursor)
	if err != nil || len(again.Posts)+len(again.Deleted) != 0 || again.Cursor != delta.Cursor {
		t.Fatalf("nothing changed, got %+v %v", again, err)
	}
}

func TestCursorsAreCheckedAndExpire(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.feed.Sync(ctx, e.ada, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"garbage", "c1.!!!", "c1.YWRhOng"} {
		if _, err := e.feed.Sync(ctx, e.ada, bad); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	if _, err := e.feed.Sync(ctx, domain.Principal{UserID: "bob"}, first.Cursor); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("foreign cursor: %v", err)
	}
	// Past the retention, pruned changes force a full snapshot.
	e.post(t, "p1")
	e.clock.Advance(48 * time.Hour)
	e.post(t, "p2")
	if err := e.feed.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := e.feed.Sync(ctx, e.ada, first.Cursor)
	if err != nil || !res.Full || len(res.Posts) != 2 {
		t.Fatalf("stale cursor: %+v %v", res, err)
	}
}

// pruneDuringRead prunes right after ChangesSince has read, as a concurrent
// janitor could.
type pruneDuringRead struct {
	*memstore.Store
	prune func()
}

func (p pruneDuringRead) ChangesSince(ctx context.Context, userID string, after int64, limit int) ([]domain.Change, bool, error) {
	changes, more, err := p.Store.ChangesSince(ctx, userID, after, limit)
	p.prune()
	return changes, more, err
}

func TestPruneBetweenChecksGivesSnapshot(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.feed.Sync(ctx, e.ada, "")
	if err != nil {
		t.Fatal(err)
	}
	e.post(t, "p1")
	e.clock.Advance(48 * time.Hour)
	e.post(t, "p2")
	store := pruneDuringRead{Store: e.store, prune: func() {
		if err := e.store.PruneFeed(ctx, e.clock.Now().Add(-time.Hour)); err != nil {
			t.Error(err)
		}
	}}
	profileSvc := profiles.New(store, localauth.New(localauth.Config{Clock: e.clock, IDs: system.IDs{}}), nil, e.clock, nil)
	svc := feed.New(store, profileSvc, e.clock, feed.Config{Retention: time.Hour})
	res, err := svc.Sync(ctx, e.ada, first.Cursor)
	if err != nil || !res.Full || len(res.Posts) != 2 {
		t.Fatalf("a prune during the read must turn the answer into a snapshot: %+v %v", res, err)
	}
}
