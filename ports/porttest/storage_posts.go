package porttest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var storagePostCases = []storageCase{
	{name: "CreateGet", run: storagePostCreateGet},
	{name: "GetWithMedia", run: storagePostGetWithMedia},
	{name: "CreateDuplicateID", run: storagePostCreateDuplicate},
	{name: "CreateMediaRules", run: storagePostCreateMediaRules},
	{name: "MediaListRules", run: storagePostMediaListRules},
	{name: "Update", run: storagePostUpdate},
	{name: "UpdateDeletesDroppedMedia", run: storagePostUpdateDeletesDropped},
	{name: "UpdateErrors", run: storagePostUpdateErrors},
	{name: "Delete", run: storagePostDelete},
	{name: "ListPaging", run: storagePostListPaging},
	{name: "ListWhileInserting", run: storagePostListWhileInserting},
}

func storagePostQuery(author, before string, limit int) ports.PostQuery {
	return ports.PostQuery{AuthorID: author, Before: before, Limit: limit}
}

func storagePostCreateGet(t *testing.T, f *storageFix) {
	a, z := f.profile(), f.profile()
	m1, m2 := f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost)
	curA, curZ := f.cursor(a.ID), f.cursor(z.ID)

	in := storageNewPost(a.ID, m2.ID, m1.ID) // display order is kept
	in.Version, in.CommentCount = 7, 5       // the store decides both
	got, err := f.s.CreatePost(f.ctx, in)
	if err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	want := in
	want.Version, want.CommentCount = 1, 0
	storageSame(t, "CreatePost result", got, want)
	storageSame(t, "GetPost", f.getPost(in.ID), want)
	for _, m := range []domain.Media{m1, m2} {
		if got := f.getMedia(m.ID); got.PostID != in.ID {
			t.Errorf("media %s PostID = %q, want %q", m.ID, got.PostID, in.ID)
		}
	}
	plain := f.post(a.ID)
	if len(plain.MediaIDs) != 0 {
		t.Errorf("post without media has MediaIDs %v", plain.MediaIDs)
	}

	batch, err := f.s.GetPosts(f.ctx, []string{in.ID, NewID(), plain.ID})
	if err != nil {
		t.Fatalf("GetPosts: %v", err)
	}
	storageSame(t, "GetPosts", batch, []domain.Post{want, plain})
	batch, err = f.s.GetPosts(f.ctx, nil)
	if err != nil || len(batch) != 0 {
		t.Errorf("GetPosts(nil) = %v, %v; want nothing", batch, err)
	}
	_, err = f.s.GetPost(f.ctx, NewID())
	storageWantCode(t, err, domain.NotFound, "GetPost(unknown)")

	f.expectFeed(a.ID, curA, storageUpsert(domain.EntityPost, in.ID), storageUpsert(domain.EntityPost, plain.ID))
	f.expectFeed(z.ID, curZ)
}

// storagePostGetWithMedia: the post comes with its items in display order,
// following edits and deletions; an item dropped from it or on another
// post is not included.
func storagePostGetWithMedia(t *testing.T, f *storageFix) {
	a := f.profile()
	m1, m2, m3 := f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost)
	p := f.post(a.ID, m2.ID, m1.ID)
	other := f.post(a.ID, m3.ID)
	plain := f.post(a.ID)
	check := func(what, id string, wantItems ...string) {
		t.Helper()
		post, items, err := f.s.GetPostWithMedia(f.ctx, id)
		if err != nil {
			t.Fatalf("%s: GetPostWithMedia: %v", what, err)
		}
		storageSame(t, what+": post", post, f.getPost(id))
		if got := storageIDs(items, storageMediaID); !slices.Equal(got, wantItems) {
			t.Errorf("%s: items %v, want %v (in display order)", what, got, wantItems)
		}
		for _, m := range items {
			storageSame(t, what+": item "+m.ID, m, f.getMedia(m.ID))
		}
	}
	check("two items", p.ID, m2.ID, m1.ID)
	check("other post", other.ID, m3.ID)
	check("no items", plain.ID)

	if _, _, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error { q.MediaIDs = []string{m1.ID}; return nil }); err != nil {
		t.Fatalf("UpdatePost: %v", err)
	}
	check("after detaching one", p.ID, m1.ID)
	if _, err := f.s.UpdateMedia(f.ctx, m1.ID, func(m *domain.Media) error {
		m.Status, m.Variants = domain.MediaReady, []string{"thumb", "small"}
		return nil
	}); err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	check("after processing", p.ID, m1.ID)

	_, _, err := f.s.GetPostWithMedia(f.ctx, NewID())
	storageWantCode(t, err, domain.NotFound, "GetPostWithMedia(unknown)")
	if _, _, err := f.s.DeletePost(f.ctx, other.ID, func(domain.Post) error { return nil }); err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	_, _, err = f.s.GetPostWithMedia(f.ctx, other.ID)
	storageWantCode(t, err, domain.NotFound, "GetPostWithMedia(deleted)")
}

func storagePostCreateDuplicate(t *testing.T, f *storageFix) {
	a := f.profile()
	p := f.post(a.ID)
	cur := f.cursor(a.ID)
	dup := storageNewPost(a.ID)
	dup.ID, dup.Body = p.ID, "other body"
	_, err := f.s.CreatePost(f.ctx, dup)
	storageWantCode(t, err, domain.Conflict, "CreatePost with a duplicate id")
	storageSame(t, "post after the duplicate", f.getPost(p.ID), p)
	f.expectFeed(a.ID, cur)
}

func storagePostCreateMediaRules(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	free := f.media(a.ID, domain.PurposePost)
	taken := f.media(a.ID, domain.PurposePost)
	holder := f.post(a.ID, taken.ID)
	foreign := f.media(b.ID, domain.PurposePost)
	cur := f.cursor(a.ID)

	for _, c := range []struct {
		name  string
		media string
		code  domain.Code
	}{
		{"missing media", NewID(), domain.NotFound},
		{"media of another user", foreign.ID, domain.Forbidden},
		{"media attached to another post", taken.ID, domain.Conflict},
	} {
		// The valid item first: it must not stay attached when the post fails.
		in := storageNewPost(a.ID, free.ID, c.media)
		_, err := f.s.CreatePost(f.ctx, in)
		storageWantCode(t, err, c.code, "CreatePost with "+c.name)
		_, err = f.s.GetPost(f.ctx, in.ID)
		storageWantCode(t, err, domain.NotFound, "GetPost of the refused post ("+c.name+")")
		if got := f.getMedia(free.ID); got.PostID != "" {
			t.Errorf("%s: valid media attached to the refused post", c.name)
		}
	}
	if got := f.getMedia(taken.ID); got.PostID != holder.ID {
		t.Errorf("attached media PostID = %q, want %q", got.PostID, holder.ID)
	}
	if got := f.getMedia(foreign.ID); got.PostID != "" {
		t.Errorf("foreign media got attached to %q", got.PostID)
	}
	f.expectFeed(a.ID, cur)
}

// storagePostMediaListRules: a media list domain.CheckMediaIDs refuses (an
// id listed twice, more than domain.MaxMediaPerPost ids) is Invalid for
// CreatePost and UpdatePost, and nothing is written; exactly
// MaxMediaPerPost ids are accepted.
func storagePostMediaListRules(t *testing.T, f *storageFix) {
	a := f.profile()
	ids := make([]string, domain.MaxMediaPerPost+1)
	for i := range ids {
		ids[i] = f.media(a.ID, domain.PurposePost).ID
	}
	p := f.post(a.ID, ids[0])
	cur := f.cursor(a.ID)
	bad := []struct {
		name  string
		media []string
	}{
		{"an id listed twice", []string{ids[1], ids[2], ids[1]}},
		{"an attached id listed twice", []string{ids[0], ids[0]}},
		{"MaxMediaPerPost+1 ids", ids},
	}
	for _, c := range bad {
		in := storageNewPost(a.ID, c.media...)
		_, err := f.s.CreatePost(f.ctx, in)
		storageWantCode(t, err, domain.Invalid, "CreatePost with "+c.name)
		_, err = f.s.GetPost(f.ctx, in.ID)
		storageWantCode(t, err, domain.NotFound, "GetPost of the refused post ("+c.name+")")

		_, removed, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error {
			q.Body, q.MediaIDs = "changed", slices.Clone(c.media)
			return nil
		})
		storageWantCode(t, err, domain.Invalid, "UpdatePost with "+c.name)
		if len(removed) != 0 {
			t.Errorf("UpdatePost with %s returned removed media %v", c.name, storageIDs(removed, storageMediaID))
		}
	}
	storageSame(t, "post after the refused updates", f.getPost(p.ID), p)
	for i, id := range ids {
		want := ""
		if i == 0 {
			want = p.ID
		}
		if got := f.getMedia(id); got.PostID != want {
			t.Errorf("media %d after the refused writes: PostID %q, want %q", i, got.PostID, want)
		}
	}
	f.expectFeed(a.ID, cur)

	full := ids[:domain.MaxMediaPerPost]
	got, removed, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error { q.MediaIDs = slices.Clone(full); return nil })
	if err != nil {
		t.Fatalf("UpdatePost with MaxMediaPerPost ids: %v", err)
	}
	if !slices.Equal(got.MediaIDs, full) || len(removed) != 0 {
		t.Errorf("UpdatePost with MaxMediaPerPost ids: MediaIDs %v, removed %v; want %v and none", got.MediaIDs, storageIDs(removed, storageMediaID), full)
	}
}

func storagePostUpdate(t *testing.T, f *storageFix) {
	a := f.profile()
	m1, m2, m3 := f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost)
	p := f.post(a.ID, m1.ID, m2.ID)
	cur := f.cursor(a.ID)
	later := p.UpdatedAt.Add(time.Second)

	want := p
	want.Body, want.MediaIDs, want.UpdatedAt, want.Version = "edited", []string{m3.ID, m2.ID}, later, 2
	got, _, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error {
		storageSame(t, "post given to fn", *q, p)
		q.Body, q.MediaIDs, q.UpdatedAt = "edited", []string{m3.ID, m2.ID}, later
		return nil
	})
	if err != nil {
		t.Fatalf("UpdatePost: %v", err)
	}
	storageSame(t, "UpdatePost result", got, want)
	storageSame(t, "GetPost after update", f.getPost(p.ID), want)
	for _, m := range []domain.Media{m2, m3} {
		if got := f.getMedia(m.ID); got.PostID != p.ID {
			t.Errorf("media %s PostID = %q, want %q", m.ID, got.PostID, p.ID)
		}
	}

	// A body-only edit keeps the media.
	got, removed, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error { q.Body = "again"; return nil })
	if err != nil {
		t.Fatalf("UpdatePost(body): %v", err)
	}
	if !slices.Equal(got.MediaIDs, want.MediaIDs) || got.Version != 3 || len(removed) != 0 {
		t.Errorf("after a body edit: MediaIDs %v Version %d removed %v; want %v, 3 and none",
			got.MediaIDs, got.Version, storageIDs(removed, storageMediaID), want.MediaIDs)
	}
	f.expectFeed(a.ID, cur, storageUpsert(domain.EntityPost, p.ID))
}

// storagePostUpdateDeletesDropped: the items an update no longer lists are
// deleted with it and returned as they were; the items kept stay attached.
func storagePostUpdateDeletesDropped(t *testing.T, f *storageFix) {
	a := f.profile()
	m1, m2, m3 := f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost)
	p := f.post(a.ID, m1.ID, m2.ID, m3.ID)
	before := map[string]domain.Media{}
	for _, m := range []domain.Media{m1, m2, m3} {
		before[m.ID] = f.getMedia(m.ID)
	}
	cur := f.cursor(a.ID)

	update := func(what string, ids []string, wantRemoved []domain.Media) {
		t.Helper()
		_, removed, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error { q.MediaIDs = ids; return nil })
		if err != nil {
			t.Fatalf("UpdatePost(%s): %v", what, err)
		}
		storageSame(t, what+": removed media", removed, wantRemoved)
		for _, m := range wantRemoved {
			_, err := f.s.GetMedia(f.ctx, m.ID)
			storageWantCode(t, err, domain.NotFound, what+": GetMedia of a dropped item")
		}
		for _, id := range ids {
			if got := f.getMedia(id); got.PostID != p.ID {
				t.Errorf("%s: kept media %s PostID = %q, want %q", what, id, got.PostID, p.ID)
			}
		}
		if got := f.getPost(p.ID); !slices.Equal(got.MediaIDs, ids) {
			t.Errorf("%s: post MediaIDs %v, want %v", what, got.MediaIDs, ids)
		}
	}
	update("drop one", []string{m3.ID, m1.ID}, []domain.Media{before[m2.ID]})
	update("drop all", nil, []domain.Media{before[m1.ID], before[m3.ID]})

	// A dropped item cannot come back.
	_, err := f.s.CreatePost(f.ctx, storageNewPost(a.ID, m1.ID))
	storageWantCode(t, err, domain.NotFound, "CreatePost with a dropped item")
	f.expectFeed(a.ID, cur, storageUpsert(domain.EntityPost, p.ID))
}

func storagePostUpdateErrors(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	own := f.media(a.ID, domain.PurposePost)
	free := f.media(a.ID, domain.PurposePost)
	foreign := f.media(b.ID, domain.PurposePost)
	elsewhere := f.media(a.ID, domain.PurposePost)
	f.post(a.ID, elsewhere.ID)
	p := f.post(a.ID, own.ID)
	cur := f.cursor(a.ID)

	called := false
	_, _, err := f.s.UpdatePost(f.ctx, NewID(), func(*domain.Post) error { called = true; return nil })
	storageWantCode(t, err, domain.NotFound, "UpdatePost(unknown)")
	if called {
		t.Error("UpdatePost called fn for an unknown id")
	}

	_, _, err = f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error {
		q.Body, q.MediaIDs = "changed", []string{free.ID}
		return storageErrRefused
	})
	storageWantRefused(t, err, "UpdatePost with failing fn")

	for _, c := range []struct {
		name  string
		media string
		code  domain.Code
	}{
		{"missing media", NewID(), domain.NotFound},
		{"media of another user", foreign.ID, domain.Forbidden},
		{"media attached to another post", elsewhere.ID, domain.Conflict},
	} {
		_, _, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error {
			q.Body, q.MediaIDs = "changed", []string{free.ID, c.media}
			return nil
		})
		storageWantCode(t, err, c.code, "UpdatePost with "+c.name)
	}
	storageSame(t, "post after failed updates", f.getPost(p.ID), p)
	// The failed updates dropped own: it must still exist, attached.
	if got, err := f.s.GetMedia(f.ctx, own.ID); err != nil || got.PostID != p.ID {
		t.Errorf("original media after failed updates: PostID %q, err %v; want still attached to %q", got.PostID, err, p.ID)
	}
	if got := f.getMedia(free.ID); got.PostID != "" {
		t.Errorf("media attached by a failed update (PostID %q)", got.PostID)
	}
	f.expectFeed(a.ID, cur)
}

func storagePostDelete(t *testing.T, f *storageFix) {
	a, b, c := f.profile(), f.profile(), f.profile()
	m1, m2 := f.media(a.ID, domain.PurposePost), f.media(a.ID, domain.PurposePost)
	p := f.post(a.ID, m1.ID, m2.ID)
	keep := f.post(a.ID)
	cb, nb := f.comment(p, b.ID, true)
	cc, nc := f.comment(p, c.ID, true)
	ca, _ := f.comment(p, a.ID, false)
	ckeep, nkeep := f.comment(keep, b.ID, true)
	p = f.getPost(p.ID)
	curA, curB, curC := f.cursor(a.ID), f.cursor(b.ID), f.cursor(c.ID)

	_, _, err := f.s.DeletePost(f.ctx, NewID(), func(domain.Post) error { return nil })
	storageWantCode(t, err, domain.NotFound, "DeletePost(unknown)")

	_, _, err = f.s.DeletePost(f.ctx, p.ID, func(got domain.Post) error {
		storageSame(t, "post given to the authorising fn", got, p)
		return storageErrRefused
	})
	storageWantRefused(t, err, "DeletePost refused by fn")
	storageSame(t, "post after refused delete", f.getPost(p.ID), p)
	for _, id := range []string{cb.ID, cc.ID, ca.ID} {
		if _, err := f.s.GetComment(f.ctx, id); err != nil {
			t.Errorf("comment gone after refused delete: %v", err)
		}
	}
	if got, _ := f.s.GetNotifications(f.ctx, a.ID, []string{nb.ID, nc.ID}); len(got) != 2 {
		t.Errorf("refused delete removed notifications: %d left of 2", len(got))
	}
	for _, m := range []domain.Media{m1, m2} {
		if got := f.getMedia(m.ID); got.PostID != p.ID {
			t.Errorf("media %s after refused delete: PostID %q", m.ID, got.PostID)
		}
	}
	f.expectFeed(a.ID, curA)

	deleted, removed, err := f.s.DeletePost(f.ctx, p.ID, func(domain.Post) error { return nil })
	if err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	storageSame(t, "deleted post", deleted, p)
	storageSame(t, "ids of removed media", storageIDs(removed, storageMediaID), []string{m1.ID, m2.ID})
	_, err = f.s.GetPost(f.ctx, p.ID)
	storageWantCode(t, err, domain.NotFound, "GetPost after delete")
	for _, id := range []string{cb.ID, cc.ID, ca.ID} {
		_, err := f.s.GetComment(f.ctx, id)
		storageWantCode(t, err, domain.NotFound, "GetComment of the deleted post's comment")
	}
	for _, m := range []domain.Media{m1, m2} {
		_, err := f.s.GetMedia(f.ctx, m.ID)
		storageWantCode(t, err, domain.NotFound, "GetMedia of the deleted post's media")
	}
	notes, _, err := f.s.ListNotifications(f.ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	storageSame(t, "notifications left", notes, []domain.Notification{*nkeep})
	if _, err := f.s.GetComment(f.ctx, ckeep.ID); err != nil {
		t.Errorf("comment of another post: %v", err)
	}
	_, _, err = f.s.DeletePost(f.ctx, p.ID, nil)
	storageWantCode(t, err, domain.NotFound, "DeletePost twice")

	f.expectFeed(a.ID, curA,
		storageTomb(domain.EntityPost, p.ID),
		storageTomb(domain.EntityComment, cb.ID),
		storageTomb(domain.EntityComment, cc.ID),
		storageTomb(domain.EntityComment, ca.ID),
		storageTomb(domain.EntityNotification, nb.ID),
		storageTomb(domain.EntityNotification, nc.ID),
	)
	f.expectFeed(b.ID, curB, storageTomb(domain.EntityComment, cb.ID))
	f.expectFeed(c.ID, curC, storageTomb(domain.EntityComment, cc.ID))
}

// storagePostWalk pages through ListPosts from q until the end, checking
// the page rules, and returns the posts in the order received.
func storagePostWalk(t *testing.T, f *storageFix, q ports.PostQuery, between func()) []domain.Post {
	t.Helper()
	var all []domain.Post
	for range 1000 {
		page, more, err := f.s.ListPosts(f.ctx, q)
		if err != nil {
			t.Fatalf("ListPosts(%+v): %v", q, err)
		}
		if len(page) > q.Limit {
			t.Fatalf("ListPosts returned %d posts for limit %d", len(page), q.Limit)
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			t.Fatal("ListPosts returned an empty page with more = true")
		}
		q.Before = page[len(page)-1].ID
		if between != nil {
			between()
		}
	}
	t.Fatal("ListPosts never reported the end")
	return nil
}

func storagePostListPaging(t *testing.T, f *storageFix) {
	x, y, idle := f.profile(), f.profile(), f.profile()
	var all, byX, byY []domain.Post // creation order = id order
	for i := range 14 {
		author := x.ID
		if i%3 == 0 {
			author = y.ID
		}
		p := f.post(author)
		all = append(all, p)
		if author == x.ID {
			byX = append(byX, p)
		} else {
			byY = append(byY, p)
		}
	}
	newest := func(ps []domain.Post) []domain.Post {
		out := slices.Clone(ps)
		slices.Reverse(out)
		return out
	}
	for _, c := range []struct {
		name string
		q    ports.PostQuery
		want []domain.Post
	}{
		{"all, partial last page", storagePostQuery("", "", 4), newest(all)},
		{"all, exact pages", storagePostQuery("", "", 7), newest(all)},
		{"all, one page", storagePostQuery("", "", 100), newest(all)},
		{"author, exact pages", storagePostQuery(x.ID, "", 3), newest(byX)},
		{"author, partial last page", storagePostQuery(y.ID, "", 2), newest(byY)},
		{"before an existing id", storagePostQuery("", all[9].ID, 4), newest(all[:9])},
		{"author before an id of another author", storagePostQuery(x.ID, all[9].ID, 2), newest(byX[:6])},
		{"author without posts", storagePostQuery(idle.ID, "", 5), nil},
		{"before the oldest", storagePostQuery("", all[0].ID, 5), nil},
	} {
		got := storagePostWalk(t, f, c.q, nil)
		if gotIDs, wantIDs := storageIDs(got, storagePostID), storageIDs(c.want, storagePostID); !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%s: got ids %v, want %v", c.name, gotIDs, wantIDs)
			continue
		}
		storageSame(t, c.name+": posts", got, c.want)
	}

	// hasMore is exact: a full last page says no more.
	page, more, err := f.s.ListPosts(f.ctx, storagePostQuery(y.ID, "", len(byY)))
	if err != nil || len(page) != len(byY) || more {
		t.Errorf("ListPosts(limit = count) = %d posts, more %v, err %v; want %d, false", len(page), more, err, len(byY))
	}
	page, more, err = f.s.ListPosts(f.ctx, storagePostQuery(y.ID, "", len(byY)-1))
	if err != nil || len(page) != len(byY)-1 || !more {
		t.Errorf("ListPosts(limit = count-1) = %d posts, more %v, err %v; want %d, true", len(page), more, err, len(byY)-1)
	}
}

func storagePostListWhileInserting(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	var initial, byA []string
	for i := range 12 {
		author := a.ID
		if i%2 == 1 {
			author = b.ID
		}
		p := f.post(author)
		initial = append(initial, p.ID)
		if author == a.ID {
			byA = append(byA, p.ID)
		}
	}
	slices.Reverse(initial)
	slices.Reverse(byA)

	// New posts between pages never show up and never shift the pages.
	insert := func() { f.post(a.ID); f.post(b.ID) }
	got := storageIDs(storagePostWalk(t, f, storagePostQuery("", "", 5), insert), storagePostID)
	if !slices.Equal(got, initial) {
		t.Errorf("paging all while inserting: got %v, want %v", got, initial)
	}
	snapshot, more, err := f.s.ListPosts(f.ctx, storagePostQuery(a.ID, "", 100))
	if err != nil || more {
		t.Fatalf("ListPosts: %v (more %v)", err, more)
	}
	got = storageIDs(storagePostWalk(t, f, storagePostQuery(a.ID, "", 2), insert), storagePostID)
	if want := storageIDs(snapshot, storagePostID); !slices.Equal(got, want) {
		t.Errorf("paging one author while inserting: got %v, want %v", got, want)
	}

	// Concurrent inserts: pages may start with posts newer than the start,
	// but ids strictly decrease and every post that existed is there.
	before, _, err := f.s.ListPosts(f.ctx, storagePostQuery("", "", 100))
	if err != nil {
		t.Fatalf("ListPosts: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt() // also when the walk fails the test
	wg.Go(func() {
		for range 200 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.s.CreatePost(f.ctx, storageNewPost(b.ID)); err != nil {
				t.Errorf("concurrent CreatePost: %v", err)
				return
			}
		}
	})
	walked := storageIDs(storagePostWalk(t, f, storagePostQuery("", "", 3), nil), storagePostID)
	halt()
	for i := 1; i < len(walked); i++ {
		if walked[i] >= walked[i-1] {
			t.Fatalf("paging during concurrent inserts: id %s after %s (repeat or wrong order)", walked[i], walked[i-1])
		}
	}
	for _, p := range before {
		if _, found := slices.BinarySearchFunc(walked, p.ID, func(e, target string) int {
			// walked is descending
			switch {
			case e > target:
				return -1
			case e < target:
				return 1
			}
			return 0
		}); !found {
			t.Errorf("paging during concurrent inserts skipped post %s", p.ID)
		}
	}
}
