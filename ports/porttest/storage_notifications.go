package porttest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageNotificationCases = []storageCase{
	{name: "ListGet", run: storageNotificationListGet},
	{name: "MarkRead", run: storageNotificationMarkRead},
	{name: "After", run: storageNotificationAfter},
	{name: "Since", run: storageNotificationSince},
	{name: "CountUnread", run: storageNotificationCountUnread},
}

// storageNotificationWorld gives user a n notifications (comments of b on
// a's post) and user c one, and returns them oldest first.
func storageNotificationWorld(f *storageFix, n int) (a, b, c domain.Profile, forA []domain.Notification, forC domain.Notification) {
	f.t.Helper()
	a, b, c = f.profile(), f.profile(), f.profile()
	pa, pc := f.post(a.ID), f.post(c.ID)
	for range n {
		_, note := f.comment(pa, b.ID, true)
		forA = append(forA, *note)
	}
	_, note := f.comment(pc, b.ID, true)
	return a, b, c, forA, *note
}

func storageNotificationListGet(t *testing.T, f *storageFix) {
	a, b, c, forA, forC := storageNotificationWorld(f, 7)
	newest := slices.Clone(forA)
	slices.Reverse(newest)

	var got []domain.Notification
	before := ""
	for range 100 {
		page, more, err := f.s.ListNotifications(f.ctx, a.ID, before, 3)
		if err != nil {
			t.Fatalf("ListNotifications: %v", err)
		}
		if len(page) > 3 {
			t.Fatalf("ListNotifications returned %d for limit 3", len(page))
		}
		got = append(got, page...)
		if wantMore := len(got) < len(newest); more != wantMore {
			t.Errorf("ListNotifications after %d of %d: more = %v", len(got), len(newest), more)
		}
		if !more || len(page) == 0 {
			break
		}
		before = page[len(page)-1].ID
	}
	if g, w := storageIDs(got, storageNotificationID), storageIDs(newest, storageNotificationID); !slices.Equal(g, w) {
		t.Fatalf("ListNotifications: got ids %v, want %v (newest first)", g, w)
	}
	storageSame(t, "ListNotifications", got, newest)

	page, more, err := f.s.ListNotifications(f.ctx, a.ID, forA[3].ID, 100)
	if err != nil || more {
		t.Fatalf("ListNotifications(before): %v, more %v", err, more)
	}
	if g, w := storageIDs(page, storageNotificationID), storageIDs(newest[4:], storageNotificationID); !slices.Equal(g, w) {
		t.Errorf("ListNotifications(before): got ids %v, want %v", g, w)
	}
	page, more, err = f.s.ListNotifications(f.ctx, a.ID, "", 7)
	if err != nil || len(page) != 7 || more {
		t.Errorf("ListNotifications(limit = count) = %d, more %v, err %v; want 7, false", len(page), more, err)
	}
	page, _, err = f.s.ListNotifications(f.ctx, b.ID, "", 10)
	if err != nil || len(page) != 0 {
		t.Errorf("ListNotifications of the commenter = %v, %v; want none", page, err)
	}

	one, err := f.s.GetNotifications(f.ctx, a.ID, []string{forA[1].ID, forC.ID, NewID(), forA[5].ID})
	if err != nil {
		t.Fatalf("GetNotifications: %v", err)
	}
	storageSame(t, "GetNotifications ignores others' ids", one, []domain.Notification{forA[1], forA[5]})
	theirs, err := f.s.GetNotifications(f.ctx, c.ID, []string{forA[1].ID, forC.ID})
	if err != nil {
		t.Fatalf("GetNotifications: %v", err)
	}
	storageSame(t, "GetNotifications of the other user", theirs, []domain.Notification{forC})
}

func storageNotificationMarkRead(t *testing.T, f *storageFix) {
	a, _, c, forA, forC := storageNotificationWorld(f, 4)
	read := func(user string) map[string]*time.Time {
		t.Helper()
		page, _, err := f.s.ListNotifications(f.ctx, user, "", 100)
		if err != nil {
			t.Fatalf("ListNotifications: %v", err)
		}
		out := map[string]*time.Time{}
		for _, n := range page {
			out[n.ID] = n.ReadAt
		}
		return out
	}
	check := func(step string, user string, want map[string]time.Time) {
		t.Helper()
		got := read(user)
		for id := range want {
			if _, ok := got[id]; !ok {
				t.Errorf("%s: notification %s is gone", step, id)
			}
		}
		for id, at := range got {
			w, ok := want[id]
			switch {
			case !ok && at != nil:
				t.Errorf("%s: notification %s read at %v, want unread", step, id, *at)
			case ok && (at == nil || !at.Equal(w)):
				t.Errorf("%s: notification %s ReadAt = %v, want %v", step, id, at, w)
			}
		}
	}

	at1 := storageNow()
	curA, curC := f.cursor(a.ID), f.cursor(c.ID)
	err := f.s.MarkNotificationsRead(f.ctx, a.ID, []string{forA[0].ID, forA[2].ID, forC.ID, NewID()}, false, at1)
	if err != nil {
		t.Fatalf("MarkNotificationsRead(ids): %v", err)
	}
	check("by ids", a.ID, map[string]time.Time{forA[0].ID: at1, forA[2].ID: at1})
	check("by ids, other user", c.ID, nil)
	f.expectFeed(a.ID, curA,
		storageUpsert(domain.EntityNotification, forA[0].ID),
		storageUpsert(domain.EntityNotification, forA[2].ID))
	f.expectFeed(c.ID, curC)

	// Already read ones keep their time and are not reported again.
	at2 := at1.Add(time.Minute)
	curA = f.cursor(a.ID)
	if err := f.s.MarkNotificationsRead(f.ctx, a.ID, []string{forA[0].ID}, false, at2); err != nil {
		t.Fatalf("MarkNotificationsRead(read one): %v", err)
	}
	check("again", a.ID, map[string]time.Time{forA[0].ID: at1, forA[2].ID: at1})
	f.expectFeed(a.ID, curA)

	at3 := at2.Add(time.Minute)
	if err := f.s.MarkNotificationsRead(f.ctx, a.ID, nil, true, at3); err != nil {
		t.Fatalf("MarkNotificationsRead(all): %v", err)
	}
	check("all", a.ID, map[string]time.Time{forA[0].ID: at1, forA[1].ID: at3, forA[2].ID: at1, forA[3].ID: at3})
	check("all, other user", c.ID, nil)
	f.expectFeed(a.ID, curA,
		storageUpsert(domain.EntityNotification, forA[1].ID),
		storageUpsert(domain.EntityNotification, forA[3].ID))
	f.expectFeed(c.ID, curC)
}

// storageUsers returns ids, then n fresh ids of no user.
func storageUsers(n int, ids ...string) []string {
	out := slices.Clone(ids)
	for range n {
		out = append(out, NewID())
	}
	return out
}

func storageNotificationAfter(t *testing.T, f *storageFix) {
	a, b, _, forA, forC := storageNotificationWorld(f, 7)
	walk := func(after string, limit int) []domain.Notification {
		t.Helper()
		var all []domain.Notification
		for range 100 {
			page, more, err := f.s.NotificationsAfter(f.ctx, a.ID, after, limit)
			if err != nil {
				t.Fatalf("NotificationsAfter(%q, %d): %v", after, limit, err)
			}
			if len(page) > limit {
				t.Fatalf("NotificationsAfter returned %d for limit %d", len(page), limit)
			}
			all = append(all, page...)
			if !more {
				return all
			}
			if len(page) == 0 {
				t.Fatal("NotificationsAfter returned an empty page with more = true")
			}
			after = page[len(page)-1].ID
		}
		t.Fatal("NotificationsAfter never reported the end")
		return nil
	}
	for _, c := range []struct {
		name  string
		after string
		limit int
		want  []domain.Notification
	}{
		{"partial last page", "", 3, forA},
		{"exact pages", "", 7, forA},
		{"one page", "", 100, forA},
		{"after an id", forA[2].ID, 2, forA[3:]},
		{"after the newest", forA[6].ID, 5, nil},
	} {
		got := walk(c.after, c.limit)
		if g, w := storageIDs(got, storageNotificationID), storageIDs(c.want, storageNotificationID); !slices.Equal(g, w) {
			t.Errorf("NotificationsAfter %s: got ids %v, want %v (oldest first)", c.name, g, w)
			continue
		}
		storageSame(t, "NotificationsAfter "+c.name, got, c.want)
	}
	page, more, err := f.s.NotificationsAfter(f.ctx, a.ID, "", 6)
	if err != nil || len(page) != 6 || !more {
		t.Errorf("NotificationsAfter(limit 6 of 7) = %d, more %v, err %v; want 6, true", len(page), more, err)
	}
	page, more, err = f.s.NotificationsAfter(f.ctx, a.ID, forA[4].ID, 2)
	if err != nil || len(page) != 2 || more {
		t.Errorf("NotificationsAfter(the last 2, limit 2) = %d, more %v, err %v; want 2, false", len(page), more, err)
	}
	page, _, err = f.s.NotificationsAfter(f.ctx, b.ID, "", 10)
	if err != nil || len(page) != 0 {
		t.Errorf("NotificationsAfter of the commenter = %v, %v; want none", page, err)
	}
	if page, _, err := f.s.NotificationsAfter(f.ctx, a.ID, forC.ID, 100); err != nil || len(page) != 0 {
		t.Errorf("NotificationsAfter(after a newer id of another user) = %d, %v; want none", len(page), err)
	}
	for _, limit := range []int{0, -1, domain.MaxPageLimit + 1} {
		_, _, err := f.s.NotificationsAfter(f.ctx, a.ID, "", limit)
		storageWantCode(t, err, domain.Invalid, fmt.Sprintf("NotificationsAfter(limit %d)", limit))
	}
	_, _, err = f.s.NotificationsAfter(f.ctx, a.ID, "not an id", 10)
	storageWantCode(t, err, domain.Invalid, "NotificationsAfter(after that is not an id)")
}

func storageNotificationSince(t *testing.T, f *storageFix) {
	a, b, c, d := f.profile(), f.profile(), f.profile(), f.profile()
	pa, pb, pc := f.post(a.ID), f.post(b.ID), f.post(c.ID)
	t0 := storageNow()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Created in this order; the last one is older than two before it.
	n0 := f.notifyAt(pa, d.ID, at(0))
	n1 := f.notifyAt(pb, d.ID, at(1000))
	n2 := f.notifyAt(pc, d.ID, at(2000))
	n3 := f.notifyAt(pa, d.ID, at(3000))
	n4 := f.notifyAt(pb, d.ID, at(4000))
	n5 := f.notifyAt(pa, d.ID, at(5000))
	n6 := f.notifyAt(pb, d.ID, at(2500))
	since := func(users []string, from time.Time, limit int) []string {
		t.Helper()
		got, err := f.s.NotificationsSince(f.ctx, users, from, limit)
		if err != nil {
			t.Fatalf("NotificationsSince: %v", err)
		}
		if len(got) > limit {
			t.Fatalf("NotificationsSince returned %d for limit %d", len(got), limit)
		}
		return storageIDs(got, storageNotificationID)
	}
	ids := func(ns ...domain.Notification) []string { return storageIDs(ns, storageNotificationID) }
	for _, c := range []struct {
		name  string
		users []string
		from  time.Time
		limit int
		want  []string
	}{
		{"a and b from the start", []string{a.ID, b.ID}, at(0), 100, ids(n0, n1, n6, n3, n4, n5)},
		{"everyone, at a CreatedAt (inclusive)", []string{a.ID, b.ID, c.ID}, at(2500), 100, ids(n6, n3, n4, n5)},
		{"between two", []string{a.ID, b.ID, c.ID}, at(2001), 100, ids(n6, n3, n4, n5)},
		{"limited to the oldest", []string{c.ID, b.ID, a.ID}, at(0), 3, ids(n0, n1, n2)},
		{"one user", []string{b.ID}, at(1000), 2, ids(n1, n6)},
		{"the commenter", []string{d.ID}, at(0), 100, nil},
		{"after the newest", []string{a.ID, b.ID, c.ID}, at(5001), 100, nil},
		{"1000 users", storageUsers(999, c.ID), at(0), 1000, ids(n2)},
	} {
		if got := since(c.users, c.from, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("NotificationsSince %s: got %v, want %v (oldest first)", c.name, got, c.want)
		}
	}
	got, err := f.s.NotificationsSince(f.ctx, []string{a.ID}, at(5000), 10)
	if err != nil {
		t.Fatalf("NotificationsSince: %v", err)
	}
	storageSame(t, "NotificationsSince", got, []domain.Notification{n5})

	_, err = f.s.NotificationsSince(f.ctx, storageUsers(1001), at(0), 10)
	storageWantCode(t, err, domain.Invalid, "NotificationsSince(1001 users)")
	for _, limit := range []int{0, -1, 1001} {
		_, err := f.s.NotificationsSince(f.ctx, []string{a.ID}, at(0), limit)
		storageWantCode(t, err, domain.Invalid, fmt.Sprintf("NotificationsSince(limit %d)", limit))
	}
}

func storageNotificationCountUnread(t *testing.T, f *storageFix) {
	a, b, c, forA, forC := storageNotificationWorld(f, 4)
	count := func(users []string, want map[string]int, what string) {
		t.Helper()
		got, err := f.s.CountUnread(f.ctx, users)
		if err != nil {
			t.Fatalf("CountUnread(%s): %v", what, err)
		}
		if len(got) != len(want) {
			t.Errorf("CountUnread(%s) = %v, want %v (users with none absent)", what, got, want)
			return
		}
		for u, n := range want {
			if g, ok := got[u]; !ok || g != n {
				t.Errorf("CountUnread(%s) = %v, want %v (users with none absent)", what, got, want)
				return
			}
		}
	}
	count([]string{a.ID, b.ID, c.ID}, map[string]int{a.ID: 4, c.ID: 1}, "all unread")
	if err := f.s.MarkNotificationsRead(f.ctx, a.ID, []string{forA[0].ID, forA[3].ID}, false, storageNow()); err != nil {
		t.Fatalf("MarkNotificationsRead: %v", err)
	}
	if err := f.s.MarkNotificationsRead(f.ctx, c.ID, []string{forC.ID}, false, storageNow()); err != nil {
		t.Fatalf("MarkNotificationsRead: %v", err)
	}
	count([]string{a.ID, b.ID, c.ID}, map[string]int{a.ID: 2}, "some read")
	count([]string{c.ID}, map[string]int{}, "all read")
	count(nil, map[string]int{}, "no users")
	count(storageUsers(999, a.ID), map[string]int{a.ID: 2}, "1000 users")
	_, err := f.s.CountUnread(f.ctx, storageUsers(1001))
	storageWantCode(t, err, domain.Invalid, "CountUnread(1001 users)")
}
