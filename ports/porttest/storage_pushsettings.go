package porttest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storagePushSettingsCases = []storageCase{
	{name: "DefaultZero", run: storagePushSettingsDefault},
	{name: "UpdateRoundTrip", run: storagePushSettingsRoundTrip},
	{name: "UpdateRefused", run: storagePushSettingsRefused},
	{name: "ConcurrentUpdates", run: storagePushSettingsConcurrent},
	{name: "Mute", run: storagePushSettingsMute},
	{name: "MuteList", run: storagePushSettingsMuteList},
	{name: "MuteGoneWithPost", run: storagePushSettingsMuteGoneWithPost},
}

// settings returns the user's settings, failing on an error.
func (f *storageFix) settings(user string) domain.NotificationSettings {
	f.t.Helper()
	st, err := f.s.GetNotificationSettings(f.ctx, user)
	if err != nil {
		f.t.Fatalf("GetNotificationSettings: %v", err)
	}
	return st
}

// wantMuted checks that the user's muted posts are exactly want (walking
// ListMutedPosts).
func (f *storageFix) wantMuted(what, user string, want ...string) {
	f.t.Helper()
	got, err := f.mutedPosts(user, "", 100)
	if err != nil {
		f.t.Fatalf("%s: ListMutedPosts: %v", what, err)
	}
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		f.t.Errorf("%s: muted posts %v, want %v", what, got, want)
	}
}

// mutedPosts walks ListMutedPosts from after with pages of limit, checking
// the page rules and the ascending order.
func (f *storageFix) mutedPosts(user, after string, limit int) ([]string, error) {
	f.t.Helper()
	var all []string
	for range 100 {
		page, more, err := f.s.ListMutedPosts(f.ctx, user, after, limit)
		if err != nil {
			return nil, err
		}
		if len(page) > limit {
			f.t.Fatalf("ListMutedPosts returned %d for limit %d", len(page), limit)
		}
		for _, id := range page {
			if id <= after {
				f.t.Fatalf("ListMutedPosts(after %q) returned %q out of order", after, id)
			}
			after = id
		}
		all = append(all, page...)
		if !more {
			return all, nil
		}
		if len(page) == 0 {
			f.t.Fatal("ListMutedPosts returned an empty page with more = true")
		}
	}
	f.t.Fatal("ListMutedPosts never reported the end")
	return nil, nil
}

func storagePushSettingsDefault(t *testing.T, f *storageFix) {
	a := f.profile()
	storageSame(t, "settings of a new user", f.settings(a.ID), domain.NotificationSettings{})
	storageSame(t, "settings of an unknown user", f.settings(NewID()), domain.NotificationSettings{})
}

func storagePushSettingsRoundTrip(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	want := domain.NotificationSettings{
		PushOff: []domain.NotificationType{domain.NotificationComment},
		Quiet:   &domain.QuietHours{Start: 22 * 60, End: 7*60 + 30, TimeZone: "Europe/Lisbon"},
	}
	called := 0
	got, err := f.s.UpdateNotificationSettings(f.ctx, a.ID, func(s *domain.NotificationSettings) error {
		called++
		storageSame(t, "settings given to the first update", *s, domain.NotificationSettings{})
		s.PushOff = slices.Clone(want.PushOff)
		q := *want.Quiet
		s.Quiet = &q
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateNotificationSettings: %v", err)
	}
	if called == 0 {
		t.Error("UpdateNotificationSettings never called fn")
	}
	storageSame(t, "UpdateNotificationSettings result", got, want)
	storageSame(t, "GetNotificationSettings after update", f.settings(a.ID), want)
	storageSame(t, "another user's settings", f.settings(b.ID), domain.NotificationSettings{})

	want2 := domain.NotificationSettings{Quiet: &domain.QuietHours{Start: 0, End: 60, TimeZone: "America/New_York"}}
	got, err = f.s.UpdateNotificationSettings(f.ctx, a.ID, func(s *domain.NotificationSettings) error {
		storageSame(t, "settings given to the second update", *s, want)
		s.PushOff = nil
		s.Quiet.Start, s.Quiet.End, s.Quiet.TimeZone = want2.Quiet.Start, want2.Quiet.End, want2.Quiet.TimeZone
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateNotificationSettings: %v", err)
	}
	storageSame(t, "second update result", got, want2)
	storageSame(t, "GetNotificationSettings after the second update", f.settings(a.ID), want2)

	got, err = f.s.UpdateNotificationSettings(f.ctx, a.ID, func(s *domain.NotificationSettings) error {
		*s = domain.NotificationSettings{}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateNotificationSettings(defaults): %v", err)
	}
	storageSame(t, "back to the defaults", got, domain.NotificationSettings{})
	storageSame(t, "GetNotificationSettings after reset", f.settings(a.ID), domain.NotificationSettings{})

	_, err = f.s.UpdateNotificationSettings(f.ctx, "", func(*domain.NotificationSettings) error { return nil })
	storageWantCode(t, err, domain.Invalid, "UpdateNotificationSettings(empty user id)")
}

func storagePushSettingsRefused(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	want := domain.NotificationSettings{PushOff: []domain.NotificationType{domain.NotificationComment}}
	if _, err := f.s.UpdateNotificationSettings(f.ctx, a.ID, func(s *domain.NotificationSettings) error {
		s.PushOff = slices.Clone(want.PushOff)
		return nil
	}); err != nil {
		t.Fatalf("UpdateNotificationSettings: %v", err)
	}
	refuse := func(s *domain.NotificationSettings) error {
		s.PushOff = nil
		s.Quiet = &domain.QuietHours{Start: 60, End: 120, TimeZone: "UTC"}
		return storageErrRefused
	}
	_, err := f.s.UpdateNotificationSettings(f.ctx, a.ID, refuse)
	storageWantRefused(t, err, "UpdateNotificationSettings refused by fn")
	storageSame(t, "settings after the refused update", f.settings(a.ID), want)
	_, err = f.s.UpdateNotificationSettings(f.ctx, b.ID, refuse)
	storageWantRefused(t, err, "UpdateNotificationSettings refused by fn (no settings yet)")
	storageSame(t, "defaults after the refused update", f.settings(b.ID), domain.NotificationSettings{})
}

// Each writer adds its own type to PushOff from what fn was given: a store
// that does not serialise updates lets a writer start from a stale list
// and lose another's type.
func storagePushSettingsConcurrent(t *testing.T, f *storageFix) {
	a := f.profile()
	const writers = 16
	var want []string
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range writers {
		typ := domain.NotificationType(fmt.Sprintf("porttest-%02d", i))
		want = append(want, string(typ))
		wg.Go(func() {
			start.Wait()
			_, err := f.s.UpdateNotificationSettings(f.ctx, a.ID, func(s *domain.NotificationSettings) error {
				// Work inside the transaction widens the window for a lost update.
				time.Sleep(time.Millisecond)
				s.PushOff = append(s.PushOff, typ)
				return nil
			})
			if err != nil {
				t.Errorf("writer %d: UpdateNotificationSettings: %v", i, err)
			}
		})
	}
	start.Done()
	wg.Wait()
	var got []string
	for _, typ := range f.settings(a.ID).PushOff {
		got = append(got, string(typ))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("PushOff after %d concurrent updates = %v, want every writer's type once %v", writers, got, want)
	}
}

func storagePushSettingsMute(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	pa, pb := f.post(a.ID), f.post(b.ID)
	t0 := storageNow()
	isMuted := func(user, post string, want bool, what string) {
		t.Helper()
		got, err := f.s.IsPostMuted(f.ctx, user, post)
		if err != nil {
			t.Fatalf("%s: IsPostMuted: %v", what, err)
		}
		if got != want {
			t.Errorf("%s: IsPostMuted = %v, want %v", what, got, want)
		}
	}
	isMuted(a.ID, pb.ID, false, "before muting")
	if err := f.s.MutePost(f.ctx, a.ID, pb.ID, t0); err != nil {
		t.Fatalf("MutePost: %v", err)
	}
	if err := f.s.MutePost(f.ctx, a.ID, pb.ID, t0.Add(time.Minute)); err != nil {
		t.Errorf("MutePost again: %v", err)
	}
	isMuted(a.ID, pb.ID, true, "muted")
	isMuted(b.ID, pb.ID, false, "another user")
	isMuted(a.ID, pa.ID, false, "another post")
	f.wantMuted("muted twice, listed once", a.ID, pb.ID)

	missing := NewID()
	storageWantCode(t, f.s.MutePost(f.ctx, a.ID, missing, t0), domain.NotFound, "MutePost(unknown post)")
	isMuted(a.ID, missing, false, "unknown post")
	f.wantMuted("after muting an unknown post", a.ID, pb.ID)

	if err := f.s.MutePost(f.ctx, a.ID, pa.ID, t0); err != nil {
		t.Fatalf("MutePost(own post): %v", err)
	}
	if err := f.s.UnmutePost(f.ctx, a.ID, pb.ID); err != nil {
		t.Fatalf("UnmutePost: %v", err)
	}
	isMuted(a.ID, pb.ID, false, "unmuted")
	isMuted(a.ID, pa.ID, true, "the other mute")
	if err := f.s.UnmutePost(f.ctx, a.ID, pb.ID); err != nil {
		t.Errorf("UnmutePost again: %v", err)
	}
	if err := f.s.UnmutePost(f.ctx, b.ID, missing); err != nil {
		t.Errorf("UnmutePost(never muted, unknown post): %v", err)
	}
	f.wantMuted("after unmute", a.ID, pa.ID)
	f.wantMuted("b muted nothing", b.ID)
}

func storagePushSettingsMuteList(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	var posts []string
	for range 7 {
		posts = append(posts, f.post(b.ID).ID)
	}
	// Muted newest first: the list is by id all the same.
	for i := len(posts) - 1; i >= 0; i-- {
		if err := f.s.MutePost(f.ctx, a.ID, posts[i], t0); err != nil {
			t.Fatalf("MutePost: %v", err)
		}
	}
	if err := f.s.MutePost(f.ctx, b.ID, posts[3], t0); err != nil {
		t.Fatalf("MutePost: %v", err)
	}
	for _, c := range []struct {
		name  string
		after string
		limit int
		want  []string
	}{
		{"partial last page", "", 3, posts},
		{"exact pages", "", 7, posts},
		{"after an id", posts[2], 2, posts[3:]},
		{"after the last", posts[6], 5, nil},
	} {
		got, err := f.mutedPosts(a.ID, c.after, c.limit)
		if err != nil {
			t.Fatalf("%s: ListMutedPosts: %v", c.name, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ListMutedPosts %s: got %v, want %v", c.name, got, c.want)
		}
	}
	page, more, err := f.s.ListMutedPosts(f.ctx, a.ID, "", 6)
	if err != nil || len(page) != 6 || !more {
		t.Errorf("ListMutedPosts(limit 6 of 7) = %d, more %v, err %v; want 6, true", len(page), more, err)
	}
	page, more, err = f.s.ListMutedPosts(f.ctx, a.ID, posts[4], 2)
	if err != nil || !slices.Equal(page, posts[5:]) || more {
		t.Errorf("ListMutedPosts(the last 2, limit 2) = %v, more %v, err %v; want %v, false", page, more, err, posts[5:])
	}
	f.wantMuted("b", b.ID, posts[3])
	page, more, err = f.s.ListMutedPosts(f.ctx, NewID(), "", 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("ListMutedPosts(unknown user) = %v, more %v, err %v; want none", page, more, err)
	}
}

func storagePushSettingsMuteGoneWithPost(t *testing.T, f *storageFix) {
	a, b, c := f.profile(), f.profile(), f.profile()
	p1, p2 := f.post(b.ID), f.post(b.ID)
	t0 := storageNow()
	for _, m := range [][2]string{{a.ID, p1.ID}, {a.ID, p2.ID}, {c.ID, p1.ID}} {
		if err := f.s.MutePost(f.ctx, m[0], m[1], t0); err != nil {
			t.Fatalf("MutePost: %v", err)
		}
	}
	_, _, err := f.s.DeletePost(f.ctx, p1.ID, func(domain.Post) error { return storageErrRefused })
	storageWantRefused(t, err, "DeletePost refused by fn")
	f.wantMuted("a after the refused delete", a.ID, p1.ID, p2.ID)

	if _, _, err := f.s.DeletePost(f.ctx, p1.ID, nil); err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	f.wantMuted("a after DeletePost", a.ID, p2.ID)
	f.wantMuted("c after DeletePost", c.ID)
	for _, u := range []string{a.ID, c.ID} {
		if muted, err := f.s.IsPostMuted(f.ctx, u, p1.ID); err != nil || muted {
			t.Errorf("IsPostMuted(%s, deleted post) = %v, %v; want false", u, muted, err)
		}
	}
}
