package porttest

import (
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageMediaCases = []storageCase{
	{name: "CreateGet", run: storageMediaCreateGet},
	{name: "Update", run: storageMediaUpdate},
	{name: "UpdateFeed", run: storageMediaUpdateFeed},
	{name: "Delete", run: storageMediaDelete},
	{name: "ETagChecksumRoundTrip", run: storageMediaETagChecksum},
	{name: "AdmitCounts", run: storageMediaAdmitCounts},
	{name: "AdmitRefuses", run: storageMediaAdmitRefuses},
	{name: "AdmitCapUnderConcurrency", run: storageMediaAdmitConcurrent},
	{name: "ListStale", run: storageMediaListStale},
	{name: "ListStalePaging", run: storageMediaListStalePaging},
}

func storageMediaCreateGet(t *testing.T, f *storageFix) {
	a := f.profile()
	in := storageNewMedia(a.ID, domain.PurposeAvatar)
	in.Variants = []string{domain.VariantThumb}
	in.ClaimedAt = storageNow()
	got, err := f.s.CreateMedia(f.ctx, in, nil)
	if err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	storageSame(t, "CreateMedia result", got, in)
	storageSame(t, "GetMedia", f.getMedia(in.ID), in)

	dup := storageNewMedia(a.ID, domain.PurposePost)
	dup.ID = in.ID
	_, err = f.s.CreateMedia(f.ctx, dup, nil)
	storageWantCode(t, err, domain.Conflict, "CreateMedia with a duplicate id")
	storageSame(t, "media after the duplicate", f.getMedia(in.ID), in)

	other := f.media(a.ID, domain.PurposePost)
	batch, err := f.s.GetMediaBatch(f.ctx, []string{other.ID, NewID(), in.ID})
	if err != nil {
		t.Fatalf("GetMediaBatch: %v", err)
	}
	storageSame(t, "GetMediaBatch", batch, []domain.Media{in, other})
	_, err = f.s.GetMedia(f.ctx, NewID())
	storageWantCode(t, err, domain.NotFound, "GetMedia(unknown)")
}

func storageMediaUpdate(t *testing.T, f *storageFix) {
	a := f.profile()
	m := f.media(a.ID, domain.PurposePost)
	later := m.UpdatedAt.Add(time.Second)

	called := false
	_, err := f.s.UpdateMedia(f.ctx, NewID(), func(*domain.Media) error { called = true; return nil })
	storageWantCode(t, err, domain.NotFound, "UpdateMedia(unknown)")
	if called {
		t.Error("UpdateMedia called fn for an unknown id")
	}

	_, err = f.s.UpdateMedia(f.ctx, m.ID, func(q *domain.Media) error {
		q.Status, q.FailureReason, q.UpdatedAt = domain.MediaFailed, "broken", later
		return storageErrRefused
	})
	storageWantRefused(t, err, "UpdateMedia with failing fn")
	storageSame(t, "media after failed update", f.getMedia(m.ID), m)

	want := m
	want.Status, want.Variants, want.ClaimedAt, want.UpdatedAt = domain.MediaReady, slices.Clone(domain.VariantNames), later, later
	got, err := f.s.UpdateMedia(f.ctx, m.ID, func(q *domain.Media) error {
		storageSame(t, "media given to fn", *q, m)
		q.Status, q.Variants, q.ClaimedAt, q.UpdatedAt = domain.MediaReady, slices.Clone(domain.VariantNames), later, later
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateMedia: %v", err)
	}
	storageSame(t, "UpdateMedia result", got, want)
	storageSame(t, "GetMedia after update", f.getMedia(m.ID), want)
}

func storageMediaUpdateFeed(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	loose := f.media(a.ID, domain.PurposePost)
	attached := f.media(a.ID, domain.PurposePost)
	avatar := f.media(a.ID, domain.PurposeAvatar)
	p := f.post(a.ID, attached.ID)
	f.setAvatar(avatar)
	ready := func(q *domain.Media) error { q.Status = domain.MediaReady; return nil }

	for _, c := range []struct {
		name string
		id   string
		want []storageChange
	}{
		{"unattached item", loose.ID, nil},
		{"item attached to a post", attached.ID, []storageChange{storageUpsert(domain.EntityPost, p.ID)}},
		{"avatar", avatar.ID, []storageChange{storageUpsert(domain.EntityProfile, a.ID)}},
	} {
		curA, curB := f.cursor(a.ID), f.cursor(b.ID)
		if _, err := f.s.UpdateMedia(f.ctx, c.id, ready); err != nil {
			t.Fatalf("UpdateMedia(%s): %v", c.name, err)
		}
		f.expectFeed(a.ID, curA, c.want...)
		f.expectFeed(b.ID, curB)
	}
}

func storageMediaDelete(t *testing.T, f *storageFix) {
	a := f.profile()
	loose := f.media(a.ID, domain.PurposePost)
	attached := f.media(a.ID, domain.PurposePost)
	avatar := f.media(a.ID, domain.PurposeAvatar)
	p := f.post(a.ID, attached.ID)
	f.setAvatar(avatar)
	cur := f.cursor(a.ID)

	_, err := f.s.DeleteMedia(f.ctx, NewID(), nil)
	storageWantCode(t, err, domain.NotFound, "DeleteMedia(unknown)")
	_, err = f.s.DeleteMedia(f.ctx, attached.ID, nil)
	storageWantCode(t, err, domain.Conflict, "DeleteMedia of an attached item")
	_, err = f.s.DeleteMedia(f.ctx, avatar.ID, nil)
	storageWantCode(t, err, domain.Conflict, "DeleteMedia of an avatar")
	_, err = f.s.DeleteMedia(f.ctx, loose.ID, func(got domain.Media) error {
		storageSame(t, "media given to fn", got, loose)
		return storageErrRefused
	})
	storageWantRefused(t, err, "DeleteMedia refused by fn")
	for _, m := range []domain.Media{loose, attached, avatar} {
		if _, err := f.s.GetMedia(f.ctx, m.ID); err != nil {
			t.Errorf("media %s after refused deletes: %v", m.ID, err)
		}
	}

	got, err := f.s.DeleteMedia(f.ctx, loose.ID, func(domain.Media) error { return nil })
	if err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	storageSame(t, "deleted media", got, loose)
	_, err = f.s.GetMedia(f.ctx, loose.ID)
	storageWantCode(t, err, domain.NotFound, "GetMedia after delete")

	// Dropping an item from its post deletes it (UpdatePost); once no
	// longer the avatar, an item can go.
	if _, _, err := f.s.UpdatePost(f.ctx, p.ID, func(q *domain.Post) error { q.MediaIDs = nil; return nil }); err != nil {
		t.Fatalf("UpdatePost(detach): %v", err)
	}
	_, err = f.s.DeleteMedia(f.ctx, attached.ID, nil)
	storageWantCode(t, err, domain.NotFound, "DeleteMedia of an item its post dropped")
	if _, err := f.s.UpdateProfile(f.ctx, a.ID, func(q *domain.Profile) error { q.ImageID = ""; return nil }); err != nil {
		t.Fatalf("UpdateProfile(clear avatar): %v", err)
	}
	if _, err := f.s.DeleteMedia(f.ctx, avatar.ID, nil); err != nil {
		t.Errorf("DeleteMedia after release: %v", err)
	}
	f.expectFeed(a.ID, cur, storageUpsert(domain.EntityPost, p.ID), storageUpsert(domain.EntityProfile, a.ID))
}
