package porttest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// storageETag and storageChecksum are what the image pipeline records: a
// blob ETag (quotes included, as S3 sends it) and a hex SHA-256.
func storageETag(n int) string { return fmt.Sprintf("\"%032x\"", n) }

func storageChecksum(n int) string { return fmt.Sprintf("%064x", n) }

// storageMediaETagChecksum: ETag and Checksum are stored by CreateMedia and
// UpdateMedia and come back from every read and every write that returns
// removed items.
func storageMediaETagChecksum(t *testing.T, f *storageFix) {
	a := f.profile()
	withChecks := func(m domain.Media, n int) domain.Media {
		m.Status, m.ETag, m.Checksum = domain.MediaReady, storageETag(n), storageChecksum(n)
		return m
	}
	in := withChecks(storageNewMedia(a.ID, domain.PurposePost), 1)
	got := f.createMedia(in)
	storageSame(t, "CreateMedia result", got, in)
	storageSame(t, "GetMedia", f.getMedia(in.ID), in)

	// An item created unprocessed gets its checks from UpdateMedia.
	pending := f.media(a.ID, domain.PurposePost)
	if pending.ETag != "" || pending.Checksum != "" {
		t.Errorf("new item: ETag %q Checksum %q, want empty", pending.ETag, pending.Checksum)
	}
	later := pending.UpdatedAt.Add(time.Second)
	updated, err := f.s.UpdateMedia(f.ctx, pending.ID, func(m *domain.Media) error {
		*m = withChecks(*m, 2)
		m.UpdatedAt = later
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	want := withChecks(pending, 2)
	want.UpdatedAt = later
	storageSame(t, "UpdateMedia result", updated, want)
	storageSame(t, "GetMedia after UpdateMedia", f.getMedia(pending.ID), want)
	batch, err := f.s.GetMediaBatch(f.ctx, []string{in.ID, want.ID})
	if err != nil {
		t.Fatalf("GetMediaBatch: %v", err)
	}
	storageSame(t, "GetMediaBatch", batch, []domain.Media{in, want})

	// Attached to a post: GetPostWithMedia, UpdatePost (dropping one) and
	// DeletePost return them.
	dropped := f.createMedia(withChecks(storageNewMedia(a.ID, domain.PurposePost), 5))
	p := f.post(a.ID, in.ID, want.ID, dropped.ID)
	in.PostID, want.PostID, dropped.PostID = p.ID, p.ID, p.ID
	_, items, err := f.s.GetPostWithMedia(f.ctx, p.ID)
	if err != nil {
		t.Fatalf("GetPostWithMedia: %v", err)
	}
	storageSame(t, "GetPostWithMedia items", items, []domain.Media{in, want, dropped})
	_, removed, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error { q.MediaIDs = []string{in.ID, want.ID}; return nil })
	if err != nil {
		t.Fatalf("UpdatePost: %v", err)
	}
	storageSame(t, "media UpdatePost returned", removed, []domain.Media{dropped})
	_, removed, err = f.s.DeletePost(f.ctx, p.ID, nil)
	if err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	storageSame(t, "media DeletePost returned", removed, []domain.Media{in, want})

	loose := f.createMedia(withChecks(storageNewMedia(a.ID, domain.PurposePost), 3))
	deleted, err := f.s.DeleteMedia(f.ctx, loose.ID, nil)
	if err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	storageSame(t, "media DeleteMedia returned", deleted, loose)

	kept := f.createMedia(withChecks(storageNewMedia(a.ID, domain.PurposeAvatar), 4))
	removed, err = f.s.DeleteUser(f.ctx, a.ID)
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	storageSame(t, "media DeleteUser returned", removed, []domain.Media{kept})
}

// storageAdmitCall is what one call of an admit function saw.
type storageAdmitCall struct {
	n      int
	oldest time.Time
}

// admitCount creates an item of owner through an admit function that
// records what it saw and allows it; it returns what admit saw.
func (f *storageFix) admitCount(owner string) storageAdmitCall {
	f.t.Helper()
	var saw storageAdmitCall
	calls := 0
	_, err := f.s.CreateMedia(f.ctx, storageNewMedia(owner, domain.PurposePost), func(n int, oldest time.Time) error {
		calls++
		saw = storageAdmitCall{n, oldest}
		return nil
	})
	if err != nil {
		f.t.Fatalf("CreateMedia with admit: %v", err)
	}
	if calls == 0 {
		f.t.Fatal("CreateMedia did not call admit")
	}
	return saw
}

// storageWantAdmit fails unless admit saw n items in flight, the oldest
// created at oldest (zero: none).
func storageWantAdmit(t *testing.T, what string, got storageAdmitCall, n int, oldest time.Time) {
	t.Helper()
	if got.n != n || !got.oldest.Equal(oldest) {
		t.Errorf("%s: admit saw %d in flight, oldest %v; want %d, oldest %v", what, got.n, got.oldest, n, oldest)
	}
}

// storageMediaAdmitCounts: admit sees the owner's pending and processing
// items (not ready or failed ones, not other owners') and the creation
// time of the oldest of them; status changes and deletes update the count.
func storageMediaAdmitCounts(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	base := storageNow().Add(-time.Hour)
	item := func(owner string, st domain.MediaStatus, created time.Time) domain.Media {
		m := storageNewMedia(owner, domain.PurposePost)
		m.Status, m.CreatedAt, m.UpdatedAt = st, created, created
		return f.createMedia(m)
	}

	storageWantAdmit(t, "owner with no items", f.admitCount(NewID()), 0, time.Time{})

	// Older items that do not count: ready, failed, and another owner's.
	item(a.ID, domain.MediaReady, base.Add(-4*time.Minute))
	failed := item(a.ID, domain.MediaFailed, base.Add(-3*time.Minute))
	item(b.ID, domain.MediaPending, base.Add(-2*time.Minute))
	item(b.ID, domain.MediaProcessing, base.Add(-2*time.Minute))
	storageWantAdmit(t, "only ready and failed items", f.admitCount(a.ID), 0, time.Time{})

	// The item admitted just now is pending (created at storageNow).
	pending := item(a.ID, domain.MediaPending, base.Add(time.Minute))
	processing := item(a.ID, domain.MediaProcessing, base)
	storageWantAdmit(t, "pending and processing items", f.admitCount(a.ID), 3, base)
	storageWantAdmit(t, "after one more", f.admitCount(a.ID), 4, base)

	// Processing -> ready leaves the count; failed -> pending joins it.
	if _, err := f.s.UpdateMedia(f.ctx, processing.ID, func(m *domain.Media) error { m.Status = domain.MediaReady; return nil }); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	storageWantAdmit(t, "after processing -> ready", f.admitCount(a.ID), 4, pending.CreatedAt)
	if _, err := f.s.UpdateMedia(f.ctx, failed.ID, func(m *domain.Media) error { m.Status = domain.MediaPending; return nil }); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	storageWantAdmit(t, "after failed -> pending", f.admitCount(a.ID), 6, failed.CreatedAt)
	if _, err := f.s.DeleteMedia(f.ctx, failed.ID, nil); err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	storageWantAdmit(t, "after deleting the oldest", f.admitCount(a.ID), 6, pending.CreatedAt)

	// The other owner was counted apart all along.
	storageWantAdmit(t, "other owner", f.admitCount(b.ID), 2, base.Add(-2*time.Minute))
}

// storageMediaAdmitRefuses: admit's error comes back unchanged and nothing
// is inserted; a duplicate id is still Conflict.
func storageMediaAdmitRefuses(t *testing.T, f *storageFix) {
	a := f.profile()
	first := f.media(a.ID, domain.PurposePost)
	refused := storageNewMedia(a.ID, domain.PurposePost)
	_, err := f.s.CreateMedia(f.ctx, refused, func(n int, _ time.Time) error {
		if n != 1 {
			t.Errorf("admit saw %d in flight, want 1", n)
		}
		return storageErrRefused
	})
	// Unchanged: the very value admit returned, not a wrapper.
	if err != storageErrRefused {
		t.Errorf("CreateMedia refused by admit: got error %v, want admit's error unchanged", err)
	}
	_, err = f.s.GetMedia(f.ctx, refused.ID)
	storageWantCode(t, err, domain.NotFound, "GetMedia of the refused item")
	storageWantAdmit(t, "count after the refusal", f.admitCount(a.ID), 1, first.CreatedAt)

	// The refused id is free; an existing id is Conflict with or without
	// admit.
	if _, err := f.s.CreateMedia(f.ctx, refused, func(int, time.Time) error { return nil }); err != nil {
		t.Errorf("CreateMedia of the once refused item: %v", err)
	}
	_, err = f.s.CreateMedia(f.ctx, refused, func(int, time.Time) error { return nil })
	storageWantCode(t, err, domain.Conflict, "CreateMedia with admit and a duplicate id")
	storageSame(t, "item after the duplicate", f.getMedia(refused.ID), refused)
}

// storageMediaAdmitConcurrent: creations for one owner racing against a
// cap that admit enforces; the count is serialised, so exactly the cap
// gets in, each admitted creation saw a different count, and another
// owner (without a profile: the port does not require one) is counted
// apart.
func storageMediaAdmitConcurrent(t *testing.T, f *storageFix) {
	a := f.profile()
	b := NewID()
	const limit, racersA, racersB = 20, 50, 10
	errCap := errors.New("porttest: cap reached")
	admit := func(saw *int) func(int, time.Time) error {
		return func(n int, _ time.Time) error {
			*saw = n // the last call counts (a store may retry)
			if n >= limit {
				return errCap
			}
			return nil
		}
	}
	type result struct {
		id  string
		saw int
		err error
	}
	race := func(owner string, n int) []result {
		out := make([]result, n)
		var ready, wg sync.WaitGroup
		ready.Add(n)
		for i := range n {
			wg.Go(func() {
				m := storageNewMedia(owner, domain.PurposePost)
				out[i].id = m.ID
				ready.Done()
				ready.Wait()
				_, out[i].err = f.s.CreateMedia(f.ctx, m, admit(&out[i].saw))
			})
		}
		wg.Wait()
		return out
	}
	var resA, resB []result
	var wg sync.WaitGroup
	wg.Go(func() { resA = race(a.ID, racersA) })
	wg.Go(func() { resB = race(b, racersB) })
	wg.Wait()

	check := func(owner string, res []result, want int) {
		t.Helper()
		var admitted, saw []int
		var ids []string
		for i, r := range res {
			switch {
			case r.err == nil:
				admitted = append(admitted, i)
				saw = append(saw, r.saw)
				ids = append(ids, r.id)
			case r.err != errCap:
				t.Errorf("owner %s, creation %d: %v", owner, i, r.err)
			}
		}
		if len(admitted) != want {
			t.Errorf("owner %s: %d of %d concurrent creations admitted under a cap of %d, want %d", owner, len(admitted), len(res), limit, want)
		}
		slices.Sort(saw)
		for i, n := range saw {
			if n != i {
				t.Errorf("owner %s: admitted creations saw counts %v, want 0, 1, 2, ... (each once)", owner, saw)
				break
			}
		}
		got, err := f.s.GetMediaBatch(f.ctx, ids)
		if err != nil {
			t.Fatalf("GetMediaBatch: %v", err)
		}
		if len(got) != len(ids) {
			t.Errorf("owner %s: %d of the %d admitted items stored", owner, len(got), len(ids))
		}
		for _, r := range res {
			if r.err != nil {
				if _, err := f.s.GetMedia(f.ctx, r.id); !domain.IsCode(err, domain.NotFound) {
					t.Errorf("owner %s: refused item %s: GetMedia = %v, want NotFound", owner, r.id, err)
				}
			}
		}
	}
	check(a.ID, resA, limit)
	check(b, resB, racersB)
	if n := f.admitSeen(a.ID); n != limit {
		t.Errorf("after the race admit sees %d in flight, want %d", n, limit)
	}
}

// admitSeen returns the in-flight count admit sees for owner, refusing
// the creation.
func (f *storageFix) admitSeen(owner string) int {
	f.t.Helper()
	seen := -1
	_, err := f.s.CreateMedia(f.ctx, storageNewMedia(owner, domain.PurposePost), func(n int, _ time.Time) error {
		seen = n
		return storageErrRefused
	})
	if err != storageErrRefused {
		f.t.Fatalf("CreateMedia refused by admit: %v", err)
	}
	return seen
}

// staleWorld creates items of two owners in every status, some
// last updated before cut and some at or after it, and returns the ids
// ListStaleMedia(cut) must return, ascending.
func (f *storageFix) staleWorld(cut time.Time, perKind int) []string {
	f.t.Helper()
	a, b := f.profile(), f.profile()
	var want []string
	for i := range perKind {
		for _, owner := range []string{a.ID, b.ID} {
			for _, st := range []domain.MediaStatus{domain.MediaPending, domain.MediaProcessing, domain.MediaReady, domain.MediaFailed} {
				for _, updated := range []time.Time{cut.Add(-time.Duration(i+1) * time.Minute), cut, cut.Add(time.Minute)} {
					m := storageNewMedia(owner, domain.PurposePost)
					m.Status, m.CreatedAt, m.UpdatedAt = st, updated.Add(-time.Hour), updated
					f.createMedia(m)
					if (st == domain.MediaPending || st == domain.MediaProcessing) && updated.Before(cut) {
						want = append(want, m.ID)
					}
				}
			}
		}
	}
	slices.Sort(want)
	return want
}

// storageMediaListStale: only pending and processing items updated
// strictly before the bound, ordered by id; status changes and deletes
// take items in and out.
func storageMediaListStale(t *testing.T, f *storageFix) {
	cut := storageNow().Add(-time.Hour)
	want := f.staleWorld(cut, 1)
	list := func(what string, before time.Time) []domain.Media {
		t.Helper()
		items, more, err := f.s.ListStaleMedia(f.ctx, before, "", 100)
		if err != nil {
			t.Fatalf("%s: ListStaleMedia: %v", what, err)
		}
		if more {
			t.Errorf("%s: more = true for %d items under a limit of 100", what, len(items))
		}
		return items
	}
	items := list("all stale", cut)
	if got := storageIDs(items, storageMediaID); !slices.Equal(got, want) {
		t.Errorf("ListStaleMedia ids:\n got  %v\n want %v", got, want)
	}
	for _, m := range items {
		storageSame(t, "listed item", m, f.getMedia(m.ID))
	}
	if got := list("before the zero time", time.Time{}); len(got) != 0 {
		t.Errorf("ListStaleMedia(zero time) returned %d items", len(got))
	}

	// A stale pending item that turns ready leaves; a fresh pending item
	// set to processing with an old UpdatedAt joins.
	gone := want[0]
	if _, err := f.s.UpdateMedia(f.ctx, gone, func(m *domain.Media) error { m.Status = domain.MediaReady; return nil }); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	back := f.media(NewID(), domain.PurposePost)
	if _, err := f.s.UpdateMedia(f.ctx, back.ID, func(m *domain.Media) error {
		m.Status, m.UpdatedAt = domain.MediaProcessing, cut.Add(-time.Second)
		return nil
	}); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	// A deleted stale item leaves too.
	if _, err := f.s.DeleteMedia(f.ctx, want[1], nil); err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	want = append(slices.Clone(want[2:]), back.ID)
	slices.Sort(want)
	if got := storageIDs(list("after status changes and a delete", cut), storageMediaID); !slices.Equal(got, want) {
		t.Errorf("ListStaleMedia ids after status changes and a delete:\n got  %v\n want %v", got, want)
	}

	_, _, err := f.s.ListStaleMedia(f.ctx, cut, "", 0)
	storageWantCode(t, err, domain.Invalid, "ListStaleMedia with limit 0")
}

// storageMediaListStalePaging: pages of every size walk the stale items
// in id order with after = the last id seen, never repeating or skipping
// one, and more is true exactly when items follow.
func storageMediaListStalePaging(t *testing.T, f *storageFix) {
	cut := storageNow().Add(-time.Hour)
	want := f.staleWorld(cut, 3) // 12 stale items
	for _, limit := range []int{1, 2, 5, len(want) - 1, len(want), len(want) + 1} {
		var got []string
		after := ""
		for page := 0; ; page++ {
			items, more, err := f.s.ListStaleMedia(f.ctx, cut, after, limit)
			if err != nil {
				t.Fatalf("limit %d, after %q: %v", limit, after, err)
			}
			if len(items) > limit {
				t.Fatalf("limit %d: page of %d items", limit, len(items))
			}
			ids := storageIDs(items, storageMediaID)
			got = append(got, ids...)
			if wantMore := len(got) < len(want); more != wantMore {
				t.Errorf("limit %d, page %d: more = %v with %d of %d items seen", limit, page, more, len(got), len(want))
			}
			if !more || len(items) == 0 || page > len(want) {
				break
			}
			after = ids[len(ids)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: paged ids\n got  %v\n want %v", limit, got, want)
		}
	}
	// after need not be a listed id: the page starts at the next id above.
	mid := want[len(want)/2]
	items, _, err := f.s.ListStaleMedia(f.ctx, cut, mid[:len(mid)-1], len(want))
	if err != nil {
		t.Fatalf("ListStaleMedia(after a prefix): %v", err)
	}
	wantTail := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return id <= mid[:len(mid)-1] })
	if got := storageIDs(items, storageMediaID); !slices.Equal(got, wantTail) {
		t.Errorf("ListStaleMedia(after %q):\n got  %v\n want %v", mid[:len(mid)-1], got, wantTail)
	}
}
