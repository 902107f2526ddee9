package porttest

import (
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageNotificationCases = []storageCase{
	{name: "ListGet", run: storageNotificationListGet},
	{name: "MarkRead", run: storageNotificationMarkRead},
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
