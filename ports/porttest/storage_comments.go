package porttest

import (
	"slices"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageCommentCases = []storageCase{
	{name: "CreateGet", run: storageCommentCreateGet},
	{name: "CreateWithoutNotification", run: storageCommentCreateWithoutNotification},
	{name: "CreateOnMissingPost", run: storageCommentCreateOnMissingPost},
	{name: "CreateWithWrongPostAuthor", run: storageCommentCreateWithWrongPostAuthor},
	{name: "CreateDuplicateID", run: storageCommentCreateDuplicate},
	{name: "Delete", run: storageCommentDelete},
	{name: "List", run: storageCommentList},
}

func storageCommentCreateGet(t *testing.T, f *storageFix) {
	a, b, z := f.profile(), f.profile(), f.profile()
	p := f.post(a.ID)
	curA, curB, curZ := f.cursor(a.ID), f.cursor(b.ID), f.cursor(z.ID)

	in := storageNewComment(p.ID, b.ID)
	n := storageNewNotification(a.ID, in)
	got, err := f.s.CreateComment(f.ctx, in, a.ID, n)
	if err != nil {
		t.Fatalf("CreateComment: %v", err)
	}
	storageSame(t, "CreateComment result", got, in)
	read, err := f.s.GetComment(f.ctx, in.ID)
	if err != nil {
		t.Fatalf("GetComment: %v", err)
	}
	storageSame(t, "GetComment", read, in)
	if got := f.getPost(p.ID); got.CommentCount != 1 {
		t.Errorf("CommentCount = %d, want 1", got.CommentCount)
	}
	notes, err := f.s.GetNotifications(f.ctx, a.ID, []string{n.ID})
	if err != nil {
		t.Fatalf("GetNotifications: %v", err)
	}
	storageSame(t, "notification written with the comment", notes, []domain.Notification{*n})

	batch, err := f.s.GetComments(f.ctx, []string{NewID(), in.ID})
	if err != nil {
		t.Fatalf("GetComments: %v", err)
	}
	storageSame(t, "GetComments", batch, []domain.Comment{in})
	_, err = f.s.GetComment(f.ctx, NewID())
	storageWantCode(t, err, domain.NotFound, "GetComment(unknown)")

	f.expectFeed(a.ID, curA,
		storageUpsert(domain.EntityComment, in.ID),
		storageUpsert(domain.EntityPost, p.ID),
		storageUpsert(domain.EntityNotification, n.ID),
	)
	f.expectFeed(b.ID, curB, storageUpsert(domain.EntityComment, in.ID))
	f.expectFeed(z.ID, curZ)
}

func storageCommentCreateWithoutNotification(t *testing.T, f *storageFix) {
	a := f.profile()
	p := f.post(a.ID)
	cur := f.cursor(a.ID)
	c, _ := f.comment(p, a.ID, false)
	if got := f.getPost(p.ID); got.CommentCount != 1 {
		t.Errorf("CommentCount = %d, want 1", got.CommentCount)
	}
	notes, _, err := f.s.ListNotifications(f.ctx, a.ID, "", 10)
	if err != nil || len(notes) != 0 {
		t.Errorf("ListNotifications = %v, %v; want none", notes, err)
	}
	f.expectFeed(a.ID, cur, storageUpsert(domain.EntityComment, c.ID), storageUpsert(domain.EntityPost, p.ID))
}

func storageCommentCreateOnMissingPost(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	curA, curB := f.cursor(a.ID), f.cursor(b.ID)
	c := storageNewComment(NewID(), b.ID)
	n := storageNewNotification(a.ID, c)
	_, err := f.s.CreateComment(f.ctx, c, a.ID, n)
	storageWantCode(t, err, domain.NotFound, "CreateComment on a missing post")
	_, err = f.s.GetComment(f.ctx, c.ID)
	storageWantCode(t, err, domain.NotFound, "GetComment of the refused comment")
	notes, _, err := f.s.ListNotifications(f.ctx, a.ID, "", 10)
	if err != nil || len(notes) != 0 {
		t.Errorf("ListNotifications after the refused comment = %v, %v; want none", notes, err)
	}
	f.expectFeed(a.ID, curA)
	f.expectFeed(b.ID, curB)
}

// storageCommentCreateWithWrongPostAuthor: the post author the caller
// gives must be the post's; otherwise Invalid and nothing is written.
func storageCommentCreateWithWrongPostAuthor(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	curA, curB := f.cursor(a.ID), f.cursor(b.ID)
	c := storageNewComment(p.ID, b.ID)
	_, err := f.s.CreateComment(f.ctx, c, b.ID, storageNewNotification(b.ID, c))
	storageWantCode(t, err, domain.Invalid, "CreateComment with someone else as the post author")
	_, err = f.s.GetComment(f.ctx, c.ID)
	storageWantCode(t, err, domain.NotFound, "GetComment of the refused comment")
	if got, err := f.s.GetPost(f.ctx, p.ID); err != nil || got.CommentCount != 0 {
		t.Errorf("post after the refused comment: CommentCount %d, %v; want 0", got.CommentCount, err)
	}
	f.expectFeed(a.ID, curA)
	f.expectFeed(b.ID, curB)
}

func storageCommentCreateDuplicate(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	c, _ := f.comment(p, b.ID, true)
	curA, curB := f.cursor(a.ID), f.cursor(b.ID)

	dup := storageNewComment(p.ID, b.ID)
	dup.ID, dup.Body = c.ID, "other body"
	n := storageNewNotification(a.ID, dup)
	_, err := f.s.CreateComment(f.ctx, dup, p.AuthorID, n)
	storageWantCode(t, err, domain.Conflict, "CreateComment with a duplicate id")
	read, err := f.s.GetComment(f.ctx, c.ID)
	if err != nil {
		t.Fatalf("GetComment: %v", err)
	}
	storageSame(t, "comment after the duplicate", read, c)
	if got := f.getPost(p.ID); got.CommentCount != 1 {
		t.Errorf("CommentCount = %d, want 1", got.CommentCount)
	}
	if notes, _ := f.s.GetNotifications(f.ctx, a.ID, []string{n.ID}); len(notes) != 0 {
		t.Error("the duplicate's notification was written")
	}
	f.expectFeed(a.ID, curA)
	f.expectFeed(b.ID, curB)
}

func storageCommentDelete(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	c, n := f.comment(p, b.ID, true)
	other, otherN := f.comment(p, b.ID, true)
	p = f.getPost(p.ID)
	curA, curB := f.cursor(a.ID), f.cursor(b.ID)

	called := false
	_, err := f.s.DeleteComment(f.ctx, NewID(), func(domain.Comment, domain.Post) error { called = true; return nil })
	storageWantCode(t, err, domain.NotFound, "DeleteComment(unknown)")
	if called {
		t.Error("DeleteComment called fn for an unknown id")
	}

	_, err = f.s.DeleteComment(f.ctx, c.ID, func(gc domain.Comment, gp domain.Post) error {
		storageSame(t, "comment given to fn", gc, c)
		storageSame(t, "post given to fn", gp, p)
		return storageErrRefused
	})
	storageWantRefused(t, err, "DeleteComment refused by fn")
	if _, err := f.s.GetComment(f.ctx, c.ID); err != nil {
		t.Errorf("comment gone after refused delete: %v", err)
	}
	if got := f.getPost(p.ID); got.CommentCount != 2 {
		t.Errorf("CommentCount after refused delete = %d, want 2", got.CommentCount)
	}
	f.expectFeed(a.ID, curA)

	got, err := f.s.DeleteComment(f.ctx, c.ID, func(domain.Comment, domain.Post) error { return nil })
	if err != nil {
		t.Fatalf("DeleteComment: %v", err)
	}
	storageSame(t, "deleted comment", got, c)
	_, err = f.s.GetComment(f.ctx, c.ID)
	storageWantCode(t, err, domain.NotFound, "GetComment after delete")
	if got := f.getPost(p.ID); got.CommentCount != 1 {
		t.Errorf("CommentCount after delete = %d, want 1", got.CommentCount)
	}
	notes, _, err := f.s.ListNotifications(f.ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	storageSame(t, "notifications after delete", notes, []domain.Notification{*otherN})
	if _, err := f.s.GetComment(f.ctx, other.ID); err != nil {
		t.Errorf("other comment: %v", err)
	}
	_, err = f.s.DeleteComment(f.ctx, c.ID, nil)
	storageWantCode(t, err, domain.NotFound, "DeleteComment twice")

	f.expectFeed(a.ID, curA,
		storageTomb(domain.EntityComment, c.ID),
		storageTomb(domain.EntityNotification, n.ID),
		storageUpsert(domain.EntityPost, p.ID),
	)
	f.expectFeed(b.ID, curB, storageTomb(domain.EntityComment, c.ID))
}

func storageCommentList(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p, noise, empty := f.post(a.ID), f.post(a.ID), f.post(a.ID)
	var want []domain.Comment
	for i := range 7 {
		author := a.ID
		if i%2 == 0 {
			author = b.ID
		}
		c, _ := f.comment(p, author, false)
		want = append(want, c)
		f.comment(noise, b.ID, false)
	}
	walk := func(postID, after string, limit int) []domain.Comment {
		t.Helper()
		var all []domain.Comment
		for range 100 {
			page, more, err := f.s.ListComments(f.ctx, postID, after, limit)
			if err != nil {
				t.Fatalf("ListComments: %v", err)
			}
			if len(page) > limit {
				t.Fatalf("ListComments returned %d for limit %d", len(page), limit)
			}
			all = append(all, page...)
			if !more {
				return all
			}
			if len(page) == 0 {
				t.Fatal("ListComments returned an empty page with more = true")
			}
			after = page[len(page)-1].ID
		}
		t.Fatal("ListComments never reported the end")
		return nil
	}
	for _, c := range []struct {
		name  string
		after string
		limit int
		want  []domain.Comment
	}{
		{"partial last page", "", 3, want},
		{"exact pages", "", 7, want},
		{"one page", "", 100, want},
		{"after an id", want[2].ID, 2, want[3:]},
		{"after the newest", want[6].ID, 5, nil},
	} {
		got := walk(p.ID, c.after, c.limit)
		if g, w := storageIDs(got, storageCommentID), storageIDs(c.want, storageCommentID); !slices.Equal(g, w) {
			t.Errorf("%s: got ids %v, want %v (oldest first)", c.name, g, w)
			continue
		}
		storageSame(t, c.name, got, c.want)
	}
	page, more, err := f.s.ListComments(f.ctx, p.ID, "", 6)
	if err != nil || len(page) != 6 || !more {
		t.Errorf("ListComments(limit 6 of 7) = %d, more %v, err %v; want 6, true", len(page), more, err)
	}
	page, more, err = f.s.ListComments(f.ctx, empty.ID, "", 5)
	if err != nil || len(page) != 0 || more {
		t.Errorf("ListComments(post without comments) = %d, more %v, err %v; want none", len(page), more, err)
	}
	_, _, err = f.s.ListComments(f.ctx, NewID(), "", 5)
	storageWantCode(t, err, domain.NotFound, "ListComments(missing post)")
}
