package porttest

import (
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageProfileCases = []storageCase{
	{name: "CreateGet", run: storageProfileCreateGet},
	{name: "CreateConflict", run: storageProfileCreateConflict},
	{name: "NotFound", run: storageProfileNotFound},
	{name: "Update", run: storageProfileUpdate},
	{name: "UpdateRollback", run: storageProfileUpdateRollback},
	{name: "UpdateImage", run: storageProfileUpdateImage},
	{name: "DeleteUser", run: storageProfileDeleteUser},
	{name: "DeleteUnknownUser", run: storageProfileDeleteUnknownUser},
}

func storageProfileCreateGet(t *testing.T, f *storageFix) {
	in := storageNewProfile()
	in.Version = 42 // the store decides the version
	got, err := f.s.CreateProfile(f.ctx, in)
	if err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	want := in
	want.Version = 1
	storageSame(t, "CreateProfile result", got, want)
	read, err := f.s.GetProfile(f.ctx, in.ID)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	storageSame(t, "GetProfile", read, want)
	f.expectFeed(in.ID, 0, storageUpsert(domain.EntityProfile, in.ID))
}

func storageProfileCreateConflict(t *testing.T, f *storageFix) {
	a := f.profile()
	cur := f.cursor(a.ID)
	cases := []struct {
		name string
		p    domain.Profile
	}{
		{"same id", func() domain.Profile { p := storageNewProfile(); p.ID = a.ID; return p }()},
		{"same email", func() domain.Profile { p := storageNewProfile(); p.Email = a.Email; return p }()},
	}
	for _, c := range cases {
		_, err := f.s.CreateProfile(f.ctx, c.p)
		storageWantCode(t, err, domain.Conflict, "CreateProfile with "+c.name)
		f.expectFeed(c.p.ID, cur) // nothing new for either id
	}
	got, err := f.s.GetProfile(f.ctx, a.ID)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	storageSame(t, "profile after conflicts", got, a)
	_, err = f.s.GetProfile(f.ctx, cases[1].p.ID)
	storageWantCode(t, err, domain.NotFound, "GetProfile of the refused profile")
}

func storageProfileNotFound(t *testing.T, f *storageFix) {
	_, err := f.s.GetProfile(f.ctx, NewID())
	storageWantCode(t, err, domain.NotFound, "GetProfile(unknown)")
	called := false
	_, err = f.s.UpdateProfile(f.ctx, NewID(), func(*domain.Profile) error { called = true; return nil })
	storageWantCode(t, err, domain.NotFound, "UpdateProfile(unknown)")
	if called {
		t.Error("UpdateProfile called fn for an unknown id")
	}
}

func storageProfileUpdate(t *testing.T, f *storageFix) {
	p := f.profile()
	cur := f.cursor(p.ID)
	later := p.UpdatedAt.Add(time.Second)
	want := p
	want.DisplayName, want.Bio, want.UpdatedAt, want.Version = "New Name", "new bio", later, 2
	got, err := f.s.UpdateProfile(f.ctx, p.ID, func(q *domain.Profile) error {
		storageSame(t, "profile given to fn", *q, p)
		q.DisplayName, q.Bio, q.UpdatedAt = "New Name", "new bio", later
		// Not changeable: the store keeps the stored values.
		q.ID, q.Email, q.CreatedAt, q.Version = NewID(), "changed-"+p.Email, later, 99
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateProfile: %v", err)
	}
	storageSame(t, "UpdateProfile result", got, want)
	read, err := f.s.GetProfile(f.ctx, p.ID)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	storageSame(t, "GetProfile after update", read, want)

	// The next update sees the saved version and increments it again.
	got, err = f.s.UpdateProfile(f.ctx, p.ID, func(q *domain.Profile) error {
		storageSame(t, "profile given to second fn", *q, want)
		q.Bio = "third"
		return nil
	})
	if err != nil {
		t.Fatalf("second UpdateProfile: %v", err)
	}
	if got.Version != 3 || got.Bio != "third" {
		t.Errorf("second update: got Version %d Bio %q, want 3 and %q", got.Version, got.Bio, "third")
	}
	f.expectFeed(p.ID, cur, storageUpsert(domain.EntityProfile, p.ID))
}

func storageProfileUpdateRollback(t *testing.T, f *storageFix) {
	p := f.profile()
	img := f.media(p.ID, domain.PurposeAvatar)
	cur := f.cursor(p.ID)
	_, err := f.s.UpdateProfile(f.ctx, p.ID, func(q *domain.Profile) error {
		q.DisplayName, q.ImageID, q.UpdatedAt = "Changed", img.ID, q.UpdatedAt.Add(time.Hour)
		return storageErrRefused
	})
	storageWantRefused(t, err, "UpdateProfile with failing fn")
	read, err := f.s.GetProfile(f.ctx, p.ID)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	storageSame(t, "profile after failed update", read, p)
	f.expectFeed(p.ID, cur)
}

func storageProfileUpdateImage(t *testing.T, f *storageFix) {
	p, other := f.profile(), f.profile()
	own := f.media(p.ID, domain.PurposeAvatar)
	foreign := f.media(other.ID, domain.PurposeAvatar)
	cur := f.cursor(p.ID)
	for _, c := range []struct{ name, imageID string }{
		{"missing media", NewID()},
		{"media of another user", foreign.ID},
	} {
		_, err := f.s.UpdateProfile(f.ctx, p.ID, func(q *domain.Profile) error { q.ImageID = c.imageID; return nil })
		storageWantCode(t, err, domain.NotFound, "UpdateProfile with "+c.name)
		read, err := f.s.GetProfile(f.ctx, p.ID)
		if err != nil {
			t.Fatalf("GetProfile: %v", err)
		}
		storageSame(t, "profile after refused image ("+c.name+")", read, p)
	}
	f.expectFeed(p.ID, cur)

	got := f.setAvatar(own)
	if got.ImageID != own.ID || got.Version != 2 {
		t.Errorf("set avatar: got ImageID %q Version %d, want %q and 2", got.ImageID, got.Version, own.ID)
	}
	got, err := f.s.UpdateProfile(f.ctx, p.ID, func(q *domain.Profile) error { q.ImageID = ""; return nil })
	if err != nil {
		t.Fatalf("clear avatar: %v", err)
	}
	if got.ImageID != "" || got.Version != 3 {
		t.Errorf("clear avatar: got ImageID %q Version %d, want empty and 3", got.ImageID, got.Version)
	}
	f.expectFeed(p.ID, cur, storageUpsert(domain.EntityProfile, p.ID))
}

// storageProfileDeleteUser builds a small world around user a and checks
// that DeleteUser removes exactly what a owns, fixes the others' counts and
// tells every feed.
func storageProfileDeleteUser(t *testing.T, f *storageFix) {
	a, b, c := f.profile(), f.profile(), f.profile()
	avatar := f.media(a.ID, domain.PurposeAvatar)
	f.setAvatar(avatar)
	aPostMedia := f.media(a.ID, domain.PurposePost)
	aLoose := f.media(a.ID, domain.PurposePost)
	bPostMedia := f.media(b.ID, domain.PurposePost)
	pa := f.post(a.ID, aPostMedia.ID)
	pb := f.post(b.ID, bPostMedia.ID)

	cBonA, nBonA := f.comment(pa, b.ID, true) // b on a's post, notifies a
	cAonA, _ := f.comment(pa, a.ID, false)    // a on own post
	cConA, nConA := f.comment(pa, c.ID, true) // c on a's post, notifies a
	cAonB, nAonB := f.comment(pb, a.ID, true) // a on b's post, notifies b
	cConB, nConB := f.comment(pb, c.ID, true) // c on b's post, notifies b: survives
	cBonB, _ := f.comment(pb, b.ID, false)    // b on own post: survives
	curA, curB, curC := f.cursor(a.ID), f.cursor(b.ID), f.cursor(c.ID)

	removed, err := f.s.DeleteUser(f.ctx, a.ID)
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	storageSame(t, "ids of the media DeleteUser returned",
		storageIDs(removed, storageMediaID), []string{avatar.ID, aPostMedia.ID, aLoose.ID})

	_, err = f.s.GetProfile(f.ctx, a.ID)
	storageWantCode(t, err, domain.NotFound, "GetProfile of the deleted user")
	_, err = f.s.GetPost(f.ctx, pa.ID)
	storageWantCode(t, err, domain.NotFound, "GetPost of the deleted user's post")
	for _, id := range []string{cBonA.ID, cAonA.ID, cConA.ID, cAonB.ID} {
		_, err = f.s.GetComment(f.ctx, id)
		storageWantCode(t, err, domain.NotFound, "GetComment of a removed comment")
	}
	for _, id := range []string{avatar.ID, aPostMedia.ID, aLoose.ID} {
		_, err = f.s.GetMedia(f.ctx, id)
		storageWantCode(t, err, domain.NotFound, "GetMedia of the deleted user's media")
	}

	if got := f.getPost(pb.ID); got.CommentCount != 2 {
		t.Errorf("other post's CommentCount = %d, want 2", got.CommentCount)
	}
	if got := f.getMedia(bPostMedia.ID); got.PostID != pb.ID {
		t.Errorf("other user's media PostID = %q, want %q", got.PostID, pb.ID)
	}
	comments, _, err := f.s.ListComments(f.ctx, pb.ID, "", 10)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	storageSame(t, "comments left on the other post", comments, []domain.Comment{cConB, cBonB})
	posts, _, err := f.s.ListPosts(f.ctx, storagePostQuery("", "", 10))
	if err != nil {
		t.Fatalf("ListPosts: %v", err)
	}
	if ids := storageIDs(posts, storagePostID); !slices.Equal(ids, []string{pb.ID}) {
		t.Errorf("posts left = %v, want [%s]", ids, pb.ID)
	}
	notesB, _, err := f.s.ListNotifications(f.ctx, b.ID, "", 10)
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	storageSame(t, "b's notifications", notesB, []domain.Notification{*nConB})
	notesA, _, err := f.s.ListNotifications(f.ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	if len(notesA) != 0 {
		t.Errorf("deleted user still has %d notifications", len(notesA))
	}

	f.expectFeed(a.ID, curA,
		storageTomb(domain.EntityProfile, a.ID),
		storageTomb(domain.EntityPost, pa.ID),
		storageTomb(domain.EntityComment, cBonA.ID),
		storageTomb(domain.EntityComment, cAonA.ID),
		storageTomb(domain.EntityComment, cConA.ID),
		storageTomb(domain.EntityComment, cAonB.ID),
		storageTomb(domain.EntityNotification, nBonA.ID),
		storageTomb(domain.EntityNotification, nConA.ID),
	)
	f.expectFeed(b.ID, curB,
		storageTomb(domain.EntityComment, cBonA.ID),
		storageTomb(domain.EntityComment, cAonB.ID),
		storageTomb(domain.EntityNotification, nAonB.ID),
		storageUpsert(domain.EntityPost, pb.ID), // its CommentCount dropped
	)
	f.expectFeed(c.ID, curC, storageTomb(domain.EntityComment, cConA.ID))

	// The email is free again.
	again := storageNewProfile()
	again.Email = a.Email
	if _, err := f.s.CreateProfile(f.ctx, again); err != nil {
		t.Errorf("CreateProfile with the deleted user's email: %v", err)
	}
}

func storageProfileDeleteUnknownUser(t *testing.T, f *storageFix) {
	a := f.profile()
	cur := f.cursor(a.ID)
	removed, err := f.s.DeleteUser(f.ctx, NewID())
	if err != nil || len(removed) != 0 {
		t.Errorf("DeleteUser(unknown) = %v, %v; want no media and no error", removed, err)
	}
	f.expectFeed(a.ID, cur)
}
