package porttest

import (
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageFeedCases = []storageCase{
	{name: "ChangesSincePaging", run: storageFeedPaging},
	{name: "Snapshot", run: storageFeedSnapshot},
	{name: "FreshHorizon", run: storageFeedFreshHorizon},
	// Serial: it waits for the store's clock to pass between two sets of
	// writes.
	{name: "Prune", run: storageFeedPrune, serial: true},
}

func storageFeedPaging(t *testing.T, f *storageFix) {
	u, v := f.profile(), f.profile()
	for range 6 {
		f.post(u.ID)
		f.post(v.ID)
	}
	full := f.changes(u.ID, 0)
	if len(full) < 7 {
		t.Fatalf("feed has %d changes after a profile and 6 posts, want at least 7", len(full))
	}
	for _, c := range full {
		if c.At.IsZero() {
			t.Errorf("change %d has no time", c.Seq)
		}
	}

	var paged []domain.Change
	var after int64
	for range 100 {
		page, more, err := f.s.ChangesSince(f.ctx, u.ID, after, 2)
		if err != nil {
			t.Fatalf("ChangesSince: %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("ChangesSince returned %d for limit 2", len(page))
		}
		paged = append(paged, page...)
		if wantMore := len(paged) < len(full); more != wantMore {
			t.Errorf("ChangesSince after %d of %d changes: more = %v", len(paged), len(full), more)
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
	}
	storageSameChanges(t, "paged feed", paged, full)

	tail, more, err := f.s.ChangesSince(f.ctx, u.ID, full[2].Seq, 100)
	if err != nil || more {
		t.Fatalf("ChangesSince(middle): %v, more %v", err, more)
	}
	storageSameChanges(t, "feed after a middle Seq", tail, full[3:])
	page, more, err := f.s.ChangesSince(f.ctx, u.ID, full[len(full)-1].Seq, 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("ChangesSince(last Seq) = %v, more %v, err %v; want nothing", page, more, err)
	}
	page, more, err = f.s.ChangesSince(f.ctx, NewID(), 0, 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("ChangesSince(unknown user) = %v, more %v, err %v; want nothing", page, more, err)
	}
}

// storageSameChanges compares two runs of changes entry by entry.
func storageSameChanges(t *testing.T, what string, got, want []domain.Change) {
	t.Helper()
	eq := func(a, b domain.Change) bool {
		return a.Seq == b.Seq && a.UserID == b.UserID && a.Entity == b.Entity && a.ID == b.ID &&
			a.Deleted == b.Deleted && a.At.Equal(b.At)
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func storageFeedSnapshot(t *testing.T, f *storageFix) {
	u, v, w := f.profile(), f.profile(), f.profile()
	avatar := f.media(u.ID, domain.PurposeAvatar)
	f.setAvatar(avatar)
	m := f.media(u.ID, domain.PurposePost)
	p1, p2 := f.post(u.ID, m.ID), f.post(u.ID)
	pv := f.post(v.ID)
	cV1, nV1 := f.comment(p1, v.ID, true) // on u's post
	cU0, _ := f.comment(p1, u.ID, false)  // by u on own post
	cW2, nW2 := f.comment(p2, w.ID, true) // on u's post
	cU1, _ := f.comment(pv, u.ID, true)   // by u on v's post
	f.comment(pv, w.ID, true)             // neither by nor for u
	f.post(w.ID)
	readAt := storageNow()
	if err := f.s.MarkNotificationsRead(f.ctx, u.ID, []string{nV1.ID}, false, readAt); err != nil {
		t.Fatalf("MarkNotificationsRead: %v", err)
	}
	nV1.ReadAt = &readAt
	cur := f.cursor(u.ID)

	snap, err := f.s.Snapshot(f.ctx, u.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	profile, err := f.s.GetProfile(f.ctx, u.ID)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	storageSame(t, "snapshot profile", snap.Profile, &profile)
	storageSame(t, "snapshot posts", snap.Posts, []domain.Post{f.getPost(p1.ID), f.getPost(p2.ID)})
	storageSame(t, "snapshot comments", snap.Comments, []domain.Comment{cV1, cU0, cW2, cU1})
	storageSame(t, "snapshot notifications", snap.Notifications, []domain.Notification{*nV1, *nW2})
	if snap.Seq < cur {
		t.Errorf("snapshot Seq %d is below the feed's last Seq %d", snap.Seq, cur)
	}

	// Changes after the snapshot have a higher Seq.
	later := f.post(u.ID)
	f.post(v.ID)
	f.expectFeed(u.ID, snap.Seq, storageUpsert(domain.EntityPost, later.ID))

	_, err = f.s.Snapshot(f.ctx, NewID())
	storageWantCode(t, err, domain.NotFound, "Snapshot(unknown user)")
	empty, err := f.s.Snapshot(f.ctx, w.ID)
	if err != nil {
		t.Fatalf("Snapshot(w): %v", err)
	}
	if len(empty.Posts) != 1 || len(empty.Comments) != 2 || len(empty.Notifications) != 0 {
		t.Errorf("snapshot of w: %d posts, %d comments, %d notifications; want 1, 2, 0",
			len(empty.Posts), len(empty.Comments), len(empty.Notifications))
	}
}

func storageFeedFreshHorizon(t *testing.T, f *storageFix) {
	h, err := f.s.FeedHorizon(f.ctx)
	if err != nil {
		t.Fatalf("FeedHorizon: %v", err)
	}
	u := f.profile()
	f.post(u.ID)
	chs := f.changes(u.ID, h)
	if len(chs) < 2 {
		t.Fatalf("a cursor at the horizon of an unpruned store got %d changes, want at least 2", len(chs))
	}
	if h < 0 || chs[0].Seq <= h {
		t.Errorf("unpruned store: horizon %d, first change Seq %d; want 0 <= horizon < Seq", h, chs[0].Seq)
	}
}

func storageFeedPrune(t *testing.T, f *storageFix) {
	u, v := f.profile(), f.profile()
	pu := f.post(u.ID)
	f.comment(pu, v.ID, true)
	oldU, oldV := f.changes(u.ID, 0), f.changes(v.ID, 0)

	storageFeedWaitPast(f, slices.Concat(oldU, oldV))
	pu2 := f.post(u.ID)
	c2, n2 := f.comment(pu2, v.ID, true)
	newU, newV := f.changes(u.ID, oldU[len(oldU)-1].Seq), f.changes(v.ID, oldV[len(oldV)-1].Seq)
	if len(newU) == 0 || len(newV) == 0 {
		t.Fatal("the second writes reported no changes")
	}
	old, recent := slices.Concat(oldU, oldV), slices.Concat(newU, newV)
	maxOld := slices.MaxFunc(old, func(a, b domain.Change) int { return int(a.Seq - b.Seq) })
	minNew := slices.MinFunc(recent, func(a, b domain.Change) int { return int(a.Seq - b.Seq) })
	cutoff := slices.MinFunc(recent, func(a, b domain.Change) int { return a.At.Compare(b.At) }).At
	for _, c := range old {
		if !c.At.Before(cutoff) {
			t.Fatalf("change times did not advance: old change at %v, new change at %v", c.At, cutoff)
		}
	}

	h0, err := f.s.FeedHorizon(f.ctx)
	if err != nil {
		t.Fatalf("FeedHorizon: %v", err)
	}
	if err := f.s.PruneFeed(f.ctx, time.Unix(0, 0).UTC()); err != nil {
		t.Fatalf("PruneFeed(1970): %v", err)
	}
	if h, _ := f.s.FeedHorizon(f.ctx); h != h0 {
		t.Errorf("pruning nothing moved the horizon from %d to %d", h0, h)
	}
	storageSameChanges(t, "feed after pruning nothing", f.changes(u.ID, 0), slices.Concat(oldU, newU))

	if err := f.s.PruneFeed(f.ctx, cutoff); err != nil {
		t.Fatalf("PruneFeed: %v", err)
	}
	h1, err := f.s.FeedHorizon(f.ctx)
	if err != nil {
		t.Fatalf("FeedHorizon: %v", err)
	}
	if h1 < maxOld.Seq || h1 >= minNew.Seq {
		t.Errorf("horizon after pruning = %d, want >= %d (highest pruned) and < %d (lowest kept)", h1, maxOld.Seq, minNew.Seq)
	}
	storageSameChanges(t, "u's feed after pruning", f.changes(u.ID, 0), newU)
	storageSameChanges(t, "v's feed after pruning", f.changes(v.ID, 0), newV)

	// The feed goes on above the horizon; pruning again keeps what is new.
	pu3 := f.post(u.ID)
	f.expectFeed(u.ID, h1,
		storageUpsert(domain.EntityPost, pu2.ID),
		storageUpsert(domain.EntityComment, c2.ID),
		storageUpsert(domain.EntityNotification, n2.ID),
		storageUpsert(domain.EntityPost, pu3.ID))
	f.expectFeed(v.ID, h1, storageUpsert(domain.EntityComment, c2.ID))
	if err := f.s.PruneFeed(f.ctx, cutoff); err != nil {
		t.Fatalf("PruneFeed again: %v", err)
	}
	if h2, _ := f.s.FeedHorizon(f.ctx); h2 < h1 || h2 >= minNew.Seq {
		t.Errorf("horizon after pruning nothing new = %d, want between %d and %d", h2, h1, minNew.Seq-1)
	}
	if got := f.changes(u.ID, 0); len(got) < len(newU) {
		t.Errorf("u's feed after pruning again has %d changes, want at least %d", len(got), len(newU))
	} else {
		storageSameChanges(t, "u's feed after pruning again", got[:len(newU)], newU)
	}
}

// storageFeedWaitPast waits until the store stamps new changes later than
// every change in old (the store's clock may be coarse), writing probe
// changes to a third user's feed to find out.
func storageFeedWaitPast(f *storageFix, old []domain.Change) {
	f.t.Helper()
	last := slices.MaxFunc(old, func(a, b domain.Change) int { return a.At.Compare(b.At) }).At
	probe := f.profile()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if _, err := f.s.UpdateProfile(f.ctx, probe.ID, func(*domain.Profile) error { return nil }); err != nil {
			f.t.Fatalf("UpdateProfile(probe): %v", err)
		}
		chs := f.changes(probe.ID, 0)
		if chs[len(chs)-1].At.After(last) {
			return
		}
	}
	f.t.Fatalf("the store stamped changes no later than %v for 3s", last)
}
