package porttest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageOutboxCases = []storageCase{
	{name: "DueAtCreatedAt", run: storageOutboxDueAtCreatedAt},
	{name: "LeaseAndAttempts", run: storageOutboxLease},
	{name: "EarliestDueFirst", run: storageOutboxEarliestDueFirst},
	{name: "RetryAndDefer", run: storageOutboxRetryDefer},
	{name: "FinalStates", run: storageOutboxFinal},
	{name: "RecordFence", run: storageOutboxRecordFence},
	{name: "LastPushAt", run: storageOutboxLastPushAt},
	{name: "DeliveryStateNotFound", run: storageOutboxStateNotFound},
	{name: "ClaimSeesReadAndDeleted", run: storageOutboxClaimCurrent},
	{name: "Validation", run: storageOutboxValidation},
	{name: "ConcurrentClaimers", run: storageOutboxConcurrentClaims},
}

// notifyAt creates a comment of actor on p with a notification to p's
// author, both created at at, and returns the notification.
func (f *storageFix) notifyAt(p domain.Post, actor string, at time.Time) domain.Notification {
	f.t.Helper()
	c := storageNewComment(p.ID, actor)
	c.CreatedAt = at
	n := storageNewNotification(p.AuthorID, c)
	n.CreatedAt = at
	if _, err := f.s.CreateComment(f.ctx, c, p.AuthorID, n); err != nil {
		f.t.Fatalf("CreateComment: %v", err)
	}
	return *n
}

// claim calls ClaimDeliveries and checks the page rules: no more than
// limit, attempts from 1 on.
func (f *storageFix) claim(now time.Time, lease time.Duration, limit int) []domain.Delivery {
	f.t.Helper()
	got, err := f.s.ClaimDeliveries(f.ctx, now, lease, limit)
	if err != nil {
		f.t.Fatalf("ClaimDeliveries(%v, %v, %d): %v", now, lease, limit, err)
	}
	if len(got) > limit {
		f.t.Fatalf("ClaimDeliveries returned %d for limit %d", len(got), limit)
	}
	for _, d := range got {
		if d.Attempt < 1 {
			f.t.Errorf("ClaimDeliveries: notification %s claimed with Attempt %d", d.Notification.ID, d.Attempt)
		}
	}
	return got
}

// claimOne claims at now and fails unless exactly the notification id
// came back with the attempt number.
func (f *storageFix) claimOne(now time.Time, lease time.Duration, id string, attempt int) domain.Delivery {
	f.t.Helper()
	got := f.claim(now, lease, 100)
	if len(got) != 1 || got[0].Notification.ID != id || got[0].Attempt != attempt {
		f.t.Fatalf("ClaimDeliveries at %v = %s, want %s attempt %d", now, storageDeliveries(got), id, attempt)
	}
	return got[0]
}

// claimNone fails unless nothing is due at now.
func (f *storageFix) claimNone(now time.Time, what string) {
	f.t.Helper()
	if got := f.claim(now, time.Minute, 1000); len(got) != 0 {
		f.t.Errorf("%s: ClaimDeliveries at %v = %s, want none", what, now, storageDeliveries(got))
	}
}

// record calls RecordDelivery and fails on an error.
func (f *storageFix) record(id string, attempt int, o domain.DeliveryOutcome) {
	f.t.Helper()
	if err := f.s.RecordDelivery(f.ctx, id, attempt, o); err != nil {
		f.t.Fatalf("RecordDelivery(%s, %d, %s): %v", id, attempt, o.State, err)
	}
}

// wantDelivery checks DeliveryState of the user's notification (next is
// compared with Equal; the zero time for final states).
func (f *storageFix) wantDelivery(what, user, id string, state domain.DeliveryState, attempts int, next time.Time) {
	f.t.Helper()
	gotState, gotAttempts, gotNext, err := f.s.DeliveryState(f.ctx, user, id)
	if err != nil {
		f.t.Errorf("%s: DeliveryState(%s): %v", what, id, err)
		return
	}
	if gotState != state || gotAttempts != attempts || !gotNext.Equal(next) {
		f.t.Errorf("%s: DeliveryState(%s) = %s, %d attempts, next %v; want %s, %d, %v",
			what, id, gotState, gotAttempts, gotNext, state, attempts, next)
	}
}

// wantLastPush checks LastPushAt.
func (f *storageFix) wantLastPush(what, user, post string, want time.Time) {
	f.t.Helper()
	got, err := f.s.LastPushAt(f.ctx, user, post)
	if err != nil {
		f.t.Errorf("%s: LastPushAt: %v", what, err)
		return
	}
	if !got.Equal(want) {
		f.t.Errorf("%s: LastPushAt = %v, want %v", what, got, want)
	}
}

// storageDeliveries describes claims for messages.
func storageDeliveries(ds []domain.Delivery) string {
	out := "["
	for i, d := range ds {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s#%d", d.Notification.ID, d.Attempt)
	}
	return out + "]"
}

// storageClaimedIDs returns the sorted ids of the claimed notifications.
func storageClaimedIDs(ds []domain.Delivery) []string {
	out := storageIDs(ds, func(d domain.Delivery) string { return d.Notification.ID })
	slices.Sort(out)
	return out
}

// storageSortedIDs returns the sorted ids of the notifications.
func storageSortedIDs(ns ...domain.Notification) []string {
	out := storageIDs(ns, storageNotificationID)
	slices.Sort(out)
	return out
}

var storageNoTime time.Time

// A comment's notification is written pending and due at its CreatedAt:
// not claimable a moment before, claimable at it; a comment without one
// adds nothing to the outbox.
func storageOutboxDueAtCreatedAt(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow().Add(time.Hour)
	n1 := f.notifyAt(p, b.ID, t0)
	f.comment(p, a.ID, false)
	n2 := f.notifyAt(p, b.ID, t0.Add(time.Minute))
	f.wantDelivery("new", a.ID, n1.ID, domain.DeliveryPending, 0, t0)
	f.wantDelivery("new", a.ID, n2.ID, domain.DeliveryPending, 0, t0.Add(time.Minute))

	f.claimNone(t0.Add(-time.Millisecond), "before CreatedAt")
	got := f.claimOne(t0, time.Hour, n1.ID, 1)
	storageSame(t, "claimed notification", got.Notification, n1)
	f.claimNone(t0.Add(time.Minute-time.Millisecond), "before the second CreatedAt")
	got = f.claimOne(t0.Add(time.Minute), time.Hour, n2.ID, 1)
	storageSame(t, "claimed notification", got.Notification, n2)
}

// A claim counts an attempt and hides the notification until now+lease;
// after the lease another claim takes it with the next number, and the
// outcome of the earlier claim is ignored.
func storageOutboxLease(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow()
	n := f.notifyAt(p, b.ID, t0)
	now, lease := t0.Add(5*time.Second), 30*time.Second

	f.claimOne(now, lease, n.ID, 1)
	f.wantDelivery("claimed", a.ID, n.ID, domain.DeliveryPending, 1, now.Add(lease))
	f.claimNone(now, "second claimer at the same instant")
	f.claimNone(now.Add(lease-time.Second), "during the lease")

	later := now.Add(lease + time.Second)
	f.claimOne(later, lease, n.ID, 2)
	f.wantDelivery("claimed again", a.ID, n.ID, domain.DeliveryPending, 2, later.Add(lease))

	// The first relay comes back late: its claim is not the latest.
	f.record(n.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: later})
	f.wantDelivery("outcome of the old claim", a.ID, n.ID, domain.DeliveryPending, 2, later.Add(lease))
	f.wantLastPush("outcome of the old claim", a.ID, p.ID, storageNoTime)
	f.claimNone(later.Add(lease-time.Second), "old claim's outcome ended the lease")

	sentAt := later.Add(time.Second)
	f.record(n.ID, 2, domain.DeliveryOutcome{State: domain.DeliverySent, At: sentAt})
	f.wantDelivery("sent", a.ID, n.ID, domain.DeliverySent, 2, storageNoTime)
	f.wantLastPush("sent", a.ID, p.ID, sentAt)
}

// Claims take the earliest due first, up to the limit, and a claim moves
// the due time to the end of its lease.
func storageOutboxEarliestDueFirst(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow()
	var ns []domain.Notification
	for i := range 5 {
		ns = append(ns, f.notifyAt(p, b.ID, t0.Add(time.Duration(i)*time.Second)))
	}
	got := f.claim(t0.Add(4*time.Second), time.Minute, 2)
	if g, w := storageClaimedIDs(got), storageSortedIDs(ns[0], ns[1]); !slices.Equal(g, w) {
		t.Fatalf("ClaimDeliveries(limit 2) = %v, want the two created first %v", g, w)
	}
	got = f.claim(t0.Add(4*time.Second), time.Minute, 10)
	if g, w := storageClaimedIDs(got), storageSortedIDs(ns[2:]...); !slices.Equal(g, w) {
		t.Fatalf("ClaimDeliveries(the rest) = %v, want %v", g, w)
	}

	// Reschedule them out of creation order.
	base := t0.Add(10 * time.Minute)
	next := []time.Duration{40 * time.Second, 20 * time.Second, 50 * time.Second, 10 * time.Second, 30 * time.Second}
	for i, n := range ns {
		f.record(n.ID, 1, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: base.Add(next[i]), At: t0.Add(5 * time.Second), Error: "porttest: try later"})
	}
	f.claimNone(base.Add(9*time.Second), "before the first retry")
	// Only ns[3] is due; its lease then ends after every other due time.
	f.claimOne(base.Add(15*time.Second), time.Minute, ns[3].ID, 2)

	order := []int{1, 4, 0, 2, 3}
	attempts := []int{2, 2, 2, 2, 3}
	for i, k := range order {
		got := f.claim(base.Add(10*time.Minute), time.Minute, 1)
		if len(got) != 1 || got[0].Notification.ID != ns[k].ID || got[0].Attempt != attempts[i] {
			t.Fatalf("claim %d: got %s, want %s attempt %d (earliest due first)", i+1, storageDeliveries(got), ns[k].ID, attempts[i])
		}
	}
	f.claimNone(base.Add(10*time.Minute), "all leased")
}

// Pending again keeps the attempt counted; Deferred gives it back; neither
// is due before NextAttemptAt.
func storageOutboxRetryDefer(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow()
	n := f.notifyAt(p, b.ID, t0)

	f.claimOne(t0, time.Minute, n.ID, 1)
	retry := t0.Add(5 * time.Minute)
	f.record(n.ID, 1, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: retry, At: t0.Add(time.Second), Error: "porttest: unavailable"})
	f.wantDelivery("retry", a.ID, n.ID, domain.DeliveryPending, 1, retry)
	f.claimNone(retry.Add(-time.Millisecond), "before the retry")
	f.claimOne(retry, time.Minute, n.ID, 2)

	deferTo := t0.Add(10 * time.Minute)
	f.record(n.ID, 2, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: deferTo, Deferred: true, At: retry})
	f.wantDelivery("deferred", a.ID, n.ID, domain.DeliveryPending, 1, deferTo)
	f.claimNone(deferTo.Add(-time.Millisecond), "before the deferral ends")
	f.claimOne(deferTo, time.Minute, n.ID, 2)

	f.record(n.ID, 2, domain.DeliveryOutcome{State: domain.DeliveryFailed, At: deferTo.Add(time.Second), Error: "porttest: gave up"})
	f.wantDelivery("failed", a.ID, n.ID, domain.DeliveryFailed, 2, storageNoTime)
	f.wantLastPush("failed", a.ID, p.ID, storageNoTime)
}

// Sent, skipped and failed are final: never claimed again, and a later
// outcome for the same claim changes nothing.
func storageOutboxFinal(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow()
	finals := []domain.DeliveryState{domain.DeliverySent, domain.DeliverySkipped, domain.DeliveryFailed}
	var ns []domain.Notification
	for range finals {
		ns = append(ns, f.notifyAt(p, b.ID, t0))
	}
	if got := f.claim(t0, time.Minute, 10); len(got) != 3 {
		t.Fatalf("ClaimDeliveries = %s, want all 3", storageDeliveries(got))
	}
	for i, n := range ns {
		f.record(n.ID, 1, domain.DeliveryOutcome{State: finals[i], At: t0.Add(time.Second)})
		f.wantDelivery("final", a.ID, n.ID, finals[i], 1, storageNoTime)
	}
	f.claimNone(t0.Add(365*24*time.Hour), "final states")
	for i, n := range ns {
		f.record(n.ID, 1, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: t0, At: t0.Add(2 * time.Second)})
		f.record(n.ID, 1, domain.DeliveryOutcome{State: finals[(i+1)%3], At: t0.Add(3 * time.Second)})
		f.wantDelivery("outcome after final", a.ID, n.ID, finals[i], 1, storageNoTime)
	}
	f.claimNone(t0.Add(365*24*time.Hour), "final states after late outcomes")
	f.wantLastPush("sent stays", a.ID, p.ID, t0.Add(time.Second))
}

// Only the latest claim may record; unknown ids are no error; an unknown
// state is Invalid and changes nothing.
func storageOutboxRecordFence(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow()
	n := f.notifyAt(p, b.ID, t0)

	if err := f.s.RecordDelivery(f.ctx, NewID(), 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: t0}); err != nil {
		t.Errorf("RecordDelivery(unknown id): %v, want no error", err)
	}
	f.record(n.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: t0})
	f.wantDelivery("outcome before any claim", a.ID, n.ID, domain.DeliveryPending, 0, t0)

	f.claimOne(t0, time.Minute, n.ID, 1)
	err := f.s.RecordDelivery(f.ctx, n.ID, 1, domain.DeliveryOutcome{State: "delivered-ish", At: t0})
	storageWantCode(t, err, domain.Invalid, "RecordDelivery(unknown state)")
	f.wantDelivery("unknown state", a.ID, n.ID, domain.DeliveryPending, 1, t0.Add(time.Minute))

	f.record(n.ID, 2, domain.DeliveryOutcome{State: domain.DeliverySent, At: t0})
	f.wantDelivery("attempt not yet claimed", a.ID, n.ID, domain.DeliveryPending, 1, t0.Add(time.Minute))

	f.record(n.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySkipped, At: t0.Add(time.Second)})
	f.wantDelivery("latest claim", a.ID, n.ID, domain.DeliverySkipped, 1, storageNoTime)
	f.wantLastPush("skipped", a.ID, p.ID, storageNoTime)
}

// LastPushAt is the latest At of the user's sent notifications on the
// post; other states, posts and users do not count.
func storageOutboxLastPushAt(t *testing.T, f *storageFix) {
	a, b, c := f.profile(), f.profile(), f.profile()
	p1, p2, pc := f.post(a.ID), f.post(a.ID), f.post(c.ID)
	t0 := storageNow()
	f.wantLastPush("nothing yet", a.ID, p1.ID, storageNoTime)
	n1 := f.notifyAt(p1, b.ID, t0)
	n2 := f.notifyAt(p1, b.ID, t0.Add(time.Second))
	n3 := f.notifyAt(p2, b.ID, t0.Add(2*time.Second))
	n4 := f.notifyAt(pc, b.ID, t0.Add(3*time.Second))
	n5 := f.notifyAt(p1, b.ID, t0.Add(4*time.Second))
	if got := f.claim(t0.Add(10*time.Second), time.Minute, 100); len(got) != 5 {
		t.Fatalf("ClaimDeliveries = %s, want 5", storageDeliveries(got))
	}
	f.wantLastPush("claimed only", a.ID, p1.ID, storageNoTime)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	f.record(n1.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: at(20)})
	f.record(n2.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySkipped, At: at(30)})
	f.record(n3.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: at(25)})
	f.record(n4.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: at(40)})
	f.record(n5.ID, 1, domain.DeliveryOutcome{State: domain.DeliveryFailed, At: at(50)})
	f.wantLastPush("a on p1", a.ID, p1.ID, at(20))
	f.wantLastPush("a on p2", a.ID, p2.ID, at(25))
	f.wantLastPush("c on pc", c.ID, pc.ID, at(40))
	f.wantLastPush("c on p1", c.ID, p1.ID, storageNoTime)
	f.wantLastPush("a on pc", a.ID, pc.ID, storageNoTime)
	f.wantLastPush("the actor", b.ID, p1.ID, storageNoTime)

	n6 := f.notifyAt(p1, b.ID, at(60))
	f.claimOne(at(60), time.Minute, n6.ID, 1)
	f.record(n6.ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: at(70)})
	f.wantLastPush("a newer push", a.ID, p1.ID, at(70))

	n7 := f.notifyAt(p1, b.ID, at(80))
	f.claimOne(at(80), time.Minute, n7.ID, 1)
	f.record(n7.ID, 1, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: at(200), Deferred: true, At: at(90)})
	f.wantLastPush("a deferred one", a.ID, p1.ID, at(70))
}

// DeliveryState is the recipient's: another user's id is NotFound.
func storageOutboxStateNotFound(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	n := f.notifyAt(p, b.ID, storageNow())
	f.wantDelivery("own", a.ID, n.ID, domain.DeliveryPending, 0, n.CreatedAt)
	_, _, _, err := f.s.DeliveryState(f.ctx, b.ID, n.ID)
	storageWantCode(t, err, domain.NotFound, "DeliveryState(another user's notification)")
	_, _, _, err = f.s.DeliveryState(f.ctx, a.ID, NewID())
	storageWantCode(t, err, domain.NotFound, "DeliveryState(unknown id)")
}

// A claim returns the notification as it is (read or not); deleted
// notifications leave the outbox.
func storageOutboxClaimCurrent(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	t0 := storageNow()
	var ns []domain.Notification
	var cs []domain.Comment
	for range 3 {
		c := storageNewComment(p.ID, b.ID)
		c.CreatedAt = t0
		n := storageNewNotification(a.ID, c)
		n.CreatedAt = t0
		if _, err := f.s.CreateComment(f.ctx, c, p.AuthorID, n); err != nil {
			t.Fatalf("CreateComment: %v", err)
		}
		cs, ns = append(cs, c), append(ns, *n)
	}
	readAt := t0.Add(time.Second)
	if err := f.s.MarkNotificationsRead(f.ctx, a.ID, []string{ns[0].ID}, false, readAt); err != nil {
		t.Fatalf("MarkNotificationsRead: %v", err)
	}
	if _, err := f.s.DeleteComment(f.ctx, cs[1].ID, nil); err != nil {
		t.Fatalf("DeleteComment: %v", err)
	}
	got := f.claim(t0.Add(2*time.Second), time.Minute, 10)
	if g, w := storageClaimedIDs(got), storageSortedIDs(ns[0], ns[2]); !slices.Equal(g, w) {
		t.Fatalf("ClaimDeliveries = %v, want %v (the deleted comment's notification gone)", g, w)
	}
	read := ns[0]
	read.ReadAt = &readAt
	storageSame(t, "claimed notifications", []domain.Notification{got[0].Notification, got[1].Notification}, []domain.Notification{read, ns[2]})
	if err := f.s.RecordDelivery(f.ctx, ns[1].ID, 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: t0}); err != nil {
		t.Errorf("RecordDelivery(deleted notification): %v", err)
	}

	n4 := f.notifyAt(p, b.ID, t0.Add(3*time.Second))
	if _, _, err := f.s.DeletePost(f.ctx, p.ID, nil); err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	f.claimNone(t0.Add(time.Hour), "after DeletePost")
	_, _, _, err := f.s.DeliveryState(f.ctx, a.ID, n4.ID)
	storageWantCode(t, err, domain.NotFound, "DeliveryState after DeletePost")
}

func storageOutboxValidation(t *testing.T, f *storageFix) {
	now := storageNow()
	for _, c := range []struct {
		lease time.Duration
		limit int
	}{{time.Minute, 0}, {time.Minute, -1}, {time.Minute, 1001}, {0, 10}, {999 * time.Millisecond, 10}, {-time.Minute, 10}} {
		_, err := f.s.ClaimDeliveries(f.ctx, now, c.lease, c.limit)
		storageWantCode(t, err, domain.Invalid, fmt.Sprintf("ClaimDeliveries(lease %v, limit %d)", c.lease, c.limit))
	}
	if _, err := f.s.ClaimDeliveries(f.ctx, now, time.Second, 1000); err != nil {
		t.Errorf("ClaimDeliveries(lease 1s, limit 1000): %v", err)
	}
	if _, err := f.s.ClaimDeliveries(f.ctx, now, time.Minute, 1); err != nil {
		t.Errorf("ClaimDeliveries(limit 1): %v", err)
	}
}

// Claimers running side by side never get the same notification, and
// together they get every one.
func storageOutboxConcurrentClaims(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	const total, claimers, batch = 50, 8, 3
	want := make([]string, 0, total)
	for range total {
		_, n := f.comment(p, b.ID, true)
		want = append(want, n.ID)
	}
	slices.Sort(want)
	now := storageNow().Add(time.Second)

	got := make([][]domain.Delivery, claimers)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range claimers {
		wg.Go(func() {
			start.Wait()
			for range total + 1 {
				ds, err := f.s.ClaimDeliveries(f.ctx, now, time.Hour, batch)
				if err != nil {
					t.Errorf("claimer %d: ClaimDeliveries: %v", i, err)
					return
				}
				if len(ds) > batch {
					t.Errorf("claimer %d: ClaimDeliveries returned %d for limit %d", i, len(ds), batch)
				}
				if len(ds) == 0 {
					return
				}
				got[i] = append(got[i], ds...)
			}
			t.Errorf("claimer %d never ran out of notifications", i)
		})
	}
	start.Done()
	wg.Wait()

	owner := map[string]int{}
	var all []string
	for i, ds := range got {
		for _, d := range ds {
			if prev, ok := owner[d.Notification.ID]; ok {
				t.Errorf("notification %s claimed by claimers %d and %d", d.Notification.ID, prev, i)
			}
			owner[d.Notification.ID] = i
			if d.Attempt != 1 {
				t.Errorf("notification %s claimed with Attempt %d, want 1", d.Notification.ID, d.Attempt)
			}
			all = append(all, d.Notification.ID)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if !slices.Equal(all, want) {
		t.Errorf("claimers got %d distinct notifications, want all %d", len(all), len(want))
	}
	f.claimNone(now, "after the claimers")
}
