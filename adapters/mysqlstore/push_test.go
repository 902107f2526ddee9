package mysqlstore

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// pushFixture makes a post of author with n comments by commenter, each
// with a notification to author created at base plus i milliseconds, and
// returns the post and the notification ids in creation order.
func pushFixture(t *testing.T, s *Store, n int, base time.Time) (domain.Post, []string) {
	t.Helper()
	ctx := t.Context()
	author, commenter := porttest.NewID(), porttest.NewID()
	for _, id := range []string{author, commenter} {
		if _, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: author, Body: "x", CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		c := domain.Comment{ID: porttest.NewID(), PostID: p.ID, AuthorID: commenter, Body: "c", CreatedAt: base}
		ids[i] = porttest.NewID()
		note := &domain.Notification{ID: ids[i], UserID: author, Type: domain.NotificationComment, ActorID: commenter,
			PostID: p.ID, CommentID: c.ID, CreatedAt: base.Add(time.Duration(i) * time.Millisecond)}
		if _, err := s.CreateComment(ctx, c, author, note); err != nil {
			t.Fatal(err)
		}
	}
	return p, ids
}

// noRetryStore is isolationStore without transaction retries: a deadlock
// or lock wait timeout fails the call.
func noRetryStore(t *testing.T, level string) *Store {
	t.Helper()
	s := isolationStore(t, level)
	return NewFromDB(s.writer, nil, Options{Retries: -1})
}

// TestClaimDeliveriesConcurrentClaimers: several claimers (goroutines on
// their own connections, under both isolation levels, without
// transaction retries) claim small batches until nothing is due; every
// notification is claimed exactly once, with attempt 1, and no claim
// fails (none deadlocks).
func TestClaimDeliveriesConcurrentClaimers(t *testing.T) {
	for _, level := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(level, func(t *testing.T) {
			s := noRetryStore(t, level)
			base := time.Now().UTC().Add(-time.Hour)
			const total, claimers, batch = 300, 8, 7
			_, ids := pushFixture(t, s, total, base)
			now := time.Now().UTC()
			var mu sync.Mutex
			seen := map[string]int{}
			var errs []error
			var wg sync.WaitGroup
			for range claimers {
				wg.Go(func() {
					for {
						got, err := s.ClaimDeliveries(t.Context(), now, time.Minute, batch)
						if err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, d := range got {
							seen[d.Notification.ID]++
							if d.Attempt != 1 {
								errs = append(errs, fmt.Errorf("%s claimed with attempt %d, want 1", d.Notification.ID, d.Attempt))
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				t.Error(err)
			}
			for _, id := range ids {
				if seen[id] != 1 {
					t.Errorf("notification %s claimed %d times, want once", id, seen[id])
				}
			}
			if len(seen) != total {
				t.Errorf("%d notifications claimed, want %d", len(seen), total)
			}
			// Everything is leased: nothing is due until the lease ends.
			if got, err := s.ClaimDeliveries(t.Context(), now.Add(30*time.Second), time.Minute, 1000); err != nil || len(got) != 0 {
				t.Errorf("claim within the lease: %d claimed, %v; want none", len(got), err)
			}
		})
	}
}

// TestClaimDeliveriesLeaseAndFence: the claim order is due time, then id;
// a lease that ends makes the notification claimable again with attempt
// 2, and the first claim's outcome is then ignored; deferring gives the
// attempt back; a final outcome stops further claims.
func TestClaimDeliveriesLeaseAndFence(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p, ids := pushFixture(t, s, 3, base)
	user := p.AuthorID

	// Not due before its CreatedAt.
	if got, err := s.ClaimDeliveries(ctx, base.Add(-time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim before due: %d, %v", len(got), err)
	}
	now := base.Add(time.Second)
	first, err := s.ClaimDeliveries(ctx, now, 10*time.Second, 2)
	if err != nil || len(first) != 2 || first[0].Notification.ID != ids[0] || first[1].Notification.ID != ids[1] {
		t.Fatalf("first claim: %+v, %v; want %v in order", first, err, ids[:2])
	}
	if n := first[0].Notification; n.UserID != user || n.PostID != p.ID || n.Type != domain.NotificationComment || !n.CreatedAt.Equal(base) || first[0].Attempt != 1 {
		t.Errorf("claimed row %+v attempt %d", n, first[0].Attempt)
	}
	state, attempts, next, err := s.DeliveryState(ctx, user, ids[0])
	if err != nil || state != domain.DeliveryPending || attempts != 1 || !next.Equal(now.Add(10*time.Second)) {
		t.Errorf("after claim: %s %d %v %v", state, attempts, next, err)
	}
	// Within the lease only the third is due.
	if got, err := s.ClaimDeliveries(ctx, now.Add(5*time.Second), time.Minute, 10); err != nil || len(got) != 1 || got[0].Notification.ID != ids[2] {
		t.Fatalf("claim within the lease: %+v, %v", got, err)
	}
	// The lease of the first two ends: claimed again, attempt 2.
	later := now.Add(11 * time.Second)
	second, err := s.ClaimDeliveries(ctx, later, 10*time.Second, 10)
	if err != nil || len(second) != 2 || second[0].Attempt != 2 || second[1].Attempt != 2 {
		t.Fatalf("claim after the lease: %+v, %v", second, err)
	}
	// The stale claim (attempt 1) records nothing.
	if err := s.RecordDelivery(ctx, ids[0], 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: later}); err != nil {
		t.Fatal(err)
	}
	if state, attempts, _, _ := s.DeliveryState(ctx, user, ids[0]); state != domain.DeliveryPending || attempts != 2 {
		t.Errorf("a stale claim settled it: %s %d", state, attempts)
	}
	if at, err := s.LastPushAt(ctx, user, p.ID); err != nil || !at.IsZero() {
		t.Errorf("LastPushAt before any send: %v %v", at, err)
	}
	// The latest claim does.
	sentAt := later.Add(time.Second)
	if err := s.RecordDelivery(ctx, ids[0], 2, domain.DeliveryOutcome{State: domain.DeliverySent, At: sentAt}); err != nil {
		t.Fatal(err)
	}
	if state, attempts, next, _ := s.DeliveryState(ctx, user, ids[0]); state != domain.DeliverySent || attempts != 2 || !next.IsZero() {
		t.Errorf("after sent: %s %d %v", state, attempts, next)
	}
	if at, err := s.LastPushAt(ctx, user, p.ID); err != nil || !at.Equal(sentAt) {
		t.Errorf("LastPushAt = %v, %v; want %v", at, err, sentAt)
	}
	// Final: recording again is ignored.
	if err := s.RecordDelivery(ctx, ids[0], 2, domain.DeliveryOutcome{State: domain.DeliveryFailed, At: sentAt}); err != nil {
		t.Fatal(err)
	}
	if state, _, _, _ := s.DeliveryState(ctx, user, ids[0]); state != domain.DeliverySent {
		t.Errorf("a final state changed to %s", state)
	}
	// Deferred gives the attempt back; a retry keeps it and the error.
	until := later.Add(time.Hour)
	if err := s.RecordDelivery(ctx, ids[1], 2, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: until, Deferred: true, At: later}); err != nil {
		t.Fatal(err)
	}
	if state, attempts, next, _ := s.DeliveryState(ctx, user, ids[1]); state != domain.DeliveryPending || attempts != 1 || !next.Equal(until) {
		t.Errorf("after deferral: %s %d %v; want pending 1 %v", state, attempts, next, until)
	}
	got, err := s.ClaimDeliveries(ctx, until, time.Minute, 10)
	if err != nil || len(got) != 2 || got[0].Notification.ID != ids[2] || got[1].Notification.ID != ids[1] || got[1].Attempt != 2 {
		t.Fatalf("claim after the deferral: %+v, %v", got, err)
	}
	long := strings.Repeat("é", 300)
	if err := s.RecordDelivery(ctx, ids[1], 2, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: until.Add(time.Minute), At: until, Error: long}); err != nil {
		t.Fatalf("a retry with a long error: %v", err)
	}
	if state, attempts, _, _ := s.DeliveryState(ctx, user, ids[1]); state != domain.DeliveryPending || attempts != 2 {
		t.Errorf("after a retry: %s %d", state, attempts)
	}
	// Errors.
	if err := s.RecordDelivery(ctx, ids[1], 2, domain.DeliveryOutcome{State: "lost"}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("unknown state: %v", err)
	}
	if _, err := s.ClaimDeliveries(ctx, now, time.Second-1, 1); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("short lease: %v", err)
	}
	for _, n := range []int{0, 1001} {
		if _, err := s.ClaimDeliveries(ctx, now, time.Minute, n); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("limit %d: %v", n, err)
		}
	}
	if _, _, _, err := s.DeliveryState(ctx, porttest.NewID(), ids[0]); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("another user's notification: %v", err)
	}
}

// TestMigratePushMarksOldNotificationsSkipped: notifications written
// before 00005 are skipped (never pushed), new ones pending; 00005 goes
// down and up again with data in place.
func TestMigratePushMarksOldNotificationsSkipped(t *testing.T) {
	dsn := testDatabase(t, true)
	db := testOpenDB(t, dsn, DefaultConfig())
	ctx := t.Context()
	p, err := newProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	old := porttest.NewID()
	if _, err := db.ExecContext(ctx, "INSERT INTO notifications (id, user_id, type, created_at) VALUES (?, 'u1', 'comment', ?)", old, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	s := NewFromDB(db, nil, Options{})
	if state, _, _, err := s.DeliveryState(ctx, "u1", old); err != nil || state != domain.DeliverySkipped {
		t.Errorf("a notification from before the migration: %s, %v; want skipped", state, err)
	}
	_, ids := pushFixture(t, s, 1, time.Now().UTC().Add(-time.Minute))
	got, err := s.ClaimDeliveries(ctx, time.Now().UTC(), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Notification.ID != ids[0] {
		t.Errorf("claim after the migration: %+v, %v; want only the new notification", got, err)
	}
	for _, step := range []func() error{
		func() error { _, err := p.Down(ctx); return err },
		func() error { _, err := p.UpTo(ctx, 5); return err }, // 00005 only: later migrations stay pending
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 5 {
		t.Errorf("version %d, %v; want 5", v, err)
	}
	// Down again drops the rows' delivery state: up marks them all skipped.
	if state, _, _, err := s.DeliveryState(ctx, "u1", old); err != nil || state != domain.DeliverySkipped {
		t.Errorf("after down and up: %s, %v", state, err)
	}
}

func webDevice(user, id, endpoint string) domain.Device {
	return domain.Device{UserID: user, ID: id, Platform: domain.PlatformWebPush,
		Subscription: &domain.WebPushSubscription{Endpoint: endpoint, P256dh: "key", Auth: "auth"}}
}

// TestPutDeviceMovesAddress: an address registered by another device (of
// another user or the same one) moves to the newest registration;
// replacing a device keeps CreatedAt; the per-user cap holds.
func TestPutDeviceMovesAddress(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	a, b := porttest.NewID(), porttest.NewID()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := domain.Device{UserID: a, ID: "phone", Platform: domain.PlatformFCM, Token: "tok-1", Locale: "pt-PT", CreatedAt: t0, SeenAt: t0}
	got, created, err := s.PutDevice(ctx, d)
	if err != nil || !created || !got.CreatedAt.Equal(t0) {
		t.Fatalf("first put: %+v %v %v", got, created, err)
	}
	// Again, later: replaced, CreatedAt kept.
	d.SeenAt, d.CreatedAt, d.ChannelRef = t0.Add(time.Hour), t0.Add(time.Hour), "arn:1"
	got, created, err = s.PutDevice(ctx, d)
	if err != nil || created || !got.CreatedAt.Equal(t0) || !got.SeenAt.Equal(t0.Add(time.Hour)) || got.ChannelRef != "arn:1" {
		t.Fatalf("second put: %+v %v %v", got, created, err)
	}
	// b registers the same token: a loses it.
	if _, created, err := s.PutDevice(ctx, domain.Device{UserID: b, ID: "tablet", Platform: domain.PlatformFCM, Token: "tok-1", SeenAt: t0}); err != nil || !created {
		t.Fatalf("b's put: %v %v", created, err)
	}
	if list, err := s.ListDevices(ctx, a); err != nil || len(list) != 0 {
		t.Errorf("a's devices after the move: %+v, %v", list, err)
	}
	// The same token on another platform is another address.
	if _, _, err := s.PutDevice(ctx, domain.Device{UserID: a, ID: "ipad", Platform: domain.PlatformAPNs, Token: "tok-1", SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	// b's second device takes the address of b's first.
	if _, _, err := s.PutDevice(ctx, domain.Device{UserID: b, ID: "tablet-2", Platform: domain.PlatformFCM, Token: "tok-1", SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDevices(ctx, b)
	if err != nil || len(list) != 1 || list[0].ID != "tablet-2" {
		t.Errorf("b's devices: %+v, %v", list, err)
	}
	// Web Push round-trips its subscription; a dead device goes only while
	// it keeps its address.
	w := webDevice(a, "browser", "https://push.example/1")
	if _, _, err := s.PutDevice(ctx, w); err != nil {
		t.Fatal(err)
	}
	list, _ = s.ListDevices(ctx, a)
	if len(list) != 2 || list[0].ID != "browser" || list[0].Subscription == nil || *list[0].Subscription != *w.Subscription || list[0].Token != "" {
		t.Errorf("a's devices: %+v", list)
	}
	if list[1].Subscription != nil {
		t.Errorf("a token device came back with a subscription")
	}
	if _, _, err := s.PutDevice(ctx, webDevice(a, "browser", "https://push.example/2")); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.DeleteDeadDevice(ctx, w); err != nil || gone {
		t.Errorf("a device with a new address was deleted as dead: %v %v", gone, err)
	}
	if gone, err := s.DeleteDeadDevice(ctx, webDevice(a, "browser", "https://push.example/2")); err != nil || !gone {
		t.Errorf("dead device not deleted: %v %v", gone, err)
	}
	// The cap.
	c := porttest.NewID()
	for i := range domain.MaxDevicesPerUser {
		if _, _, err := s.PutDevice(ctx, domain.Device{UserID: c, ID: fmt.Sprint("d", i), Platform: domain.PlatformFCM, Token: fmt.Sprint(c, i), SeenAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.PutDevice(ctx, domain.Device{UserID: c, ID: "one-more", Platform: domain.PlatformFCM, Token: c + "x", SeenAt: t0}); domain.ErrorCode(err) != domain.Conflict {
		t.Errorf("device over the cap: %v, want Conflict", err)
	}
	// Replacing one at the cap is fine, and so is taking over the address
	// of one of the user's own devices under a new id.
	if _, created, err := s.PutDevice(ctx, domain.Device{UserID: c, ID: "d0", Platform: domain.PlatformFCM, Token: c + "y", SeenAt: t0}); err != nil || created {
		t.Errorf("replace at the cap: %v %v", created, err)
	}
	if _, created, err := s.PutDevice(ctx, domain.Device{UserID: c, ID: "d-new", Platform: domain.PlatformFCM, Token: c + "y", SeenAt: t0}); err != nil || !created {
		t.Errorf("move an own address at the cap: %v %v", created, err)
	}
	if _, _, err := s.PutDevice(ctx, domain.Device{UserID: "", ID: "x"}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("empty user: %v", err)
	}
	// Prune: the oldest first.
	pruned, err := s.PruneDevices(ctx, t0.Add(time.Minute), 5)
	if err != nil || len(pruned) != 5 {
		t.Errorf("prune: %d, %v", len(pruned), err)
	}
	if _, err := s.DeleteDevice(ctx, a, "nope"); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("delete unknown device: %v", err)
	}
}

// TestPutDeviceConcurrentAddress: many users register the same address at
// once (under both isolation levels); every call succeeds and exactly one
// device holds the address afterwards.
func TestPutDeviceConcurrentAddress(t *testing.T) {
	for _, level := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(level, func(t *testing.T) {
			s := isolationStore(t, level)
			const n = 8
			users := make([]string, n)
			for i := range users {
				users[i] = porttest.NewID()
			}
			for round := range 5 {
				token := fmt.Sprint("shared-", round)
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i, u := range users {
					wg.Go(func() {
						_, _, errs[i] = s.PutDevice(t.Context(), domain.Device{UserID: u, ID: "dev", Platform: domain.PlatformFCM, Token: token, SeenAt: time.Now()})
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d user %d: %v", round, i, err)
					}
				}
				holders := 0
				for _, u := range users {
					list, err := s.ListDevices(t.Context(), u)
					if err != nil {
						t.Fatal(err)
					}
					for _, d := range list {
						if d.Token == token {
							holders++
						}
					}
				}
				if holders != 1 {
					t.Errorf("round %d: %d devices hold the address, want 1", round, holders)
				}
			}
		})
	}
}

// TestPutDeviceConcurrentNewUsers: new users (adjacent ids at the end of
// the index) register their first devices at once, under both isolation
// levels and without transaction retries: none deadlocks.
func TestPutDeviceConcurrentNewUsers(t *testing.T) {
	for _, level := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(level, func(t *testing.T) {
			s := noRetryStore(t, level)
			for round := range 5 {
				var wg sync.WaitGroup
				errs := make([]error, 16)
				for i := range errs {
					wg.Go(func() {
						u := porttest.NewID()
						_, _, errs[i] = s.PutDevice(t.Context(), domain.Device{UserID: u, ID: "d", Platform: domain.PlatformFCM, Token: fmt.Sprint(u, "-", round), SeenAt: time.Now()})
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, registration %d: %v", round, i, err)
					}
				}
			}
		})
	}
}

// TestPutDeviceCapUnderConcurrency: one user registers more devices than
// the cap at once; exactly the cap is stored and the rest get Conflict.
func TestPutDeviceCapUnderConcurrency(t *testing.T) {
	for _, level := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(level, func(t *testing.T) {
			s := isolationStore(t, level)
			user := porttest.NewID()
			const n = domain.MaxDevicesPerUser + 10
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					_, _, errs[i] = s.PutDevice(t.Context(), domain.Device{UserID: user, ID: fmt.Sprint("d", i), Platform: domain.PlatformFCM, Token: fmt.Sprint(user, i), SeenAt: time.Now()})
				})
			}
			wg.Wait()
			ok, conflicts := 0, 0
			for _, err := range errs {
				switch domain.ErrorCode(err) {
				case "":
					ok++
				case domain.Conflict:
					conflicts++
				default:
					t.Error(err)
				}
			}
			list, err := s.ListDevices(t.Context(), user)
			if err != nil || ok != domain.MaxDevicesPerUser || conflicts != n-ok || len(list) != domain.MaxDevicesPerUser {
				t.Errorf("%d stored, %d conflicts, %d listed (%v); want %d stored, the rest conflicts", ok, conflicts, len(list), err, domain.MaxDevicesPerUser)
			}
		})
	}
}

// TestTakeOneTimeTokenOnce: of many concurrent takers one gets the token;
// expired and other-purpose tokens are not taken.
func TestTakeOneTimeTokenOnce(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	now := time.Now().UTC()
	user := porttest.NewID()
	for round := range 5 {
		hash := fmt.Sprint("hash-", round, "-", porttest.NewID())
		if err := s.PutOneTimeToken(ctx, domain.OneTimeToken{Hash: hash, Purpose: "stream", UserID: user, AuthTime: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		const takers = 12
		var wg sync.WaitGroup
		errs := make([]error, takers)
		toks := make([]domain.OneTimeToken, takers)
		for i := range takers {
			wg.Go(func() { toks[i], errs[i] = s.TakeOneTimeToken(ctx, hash, "stream", now) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if toks[i].UserID != user || toks[i].Hash != hash || !toks[i].AuthTime.Equal(dbTime(now)) {
					t.Errorf("taken token %+v", toks[i])
				}
			case domain.ErrorCode(err) != domain.NotFound:
				t.Errorf("taker %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d takers got the token, want 1", round, won)
		}
	}
	if err := s.PutOneTimeToken(ctx, domain.OneTimeToken{Hash: "h", Purpose: "stream", UserID: user, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOneTimeToken(ctx, domain.OneTimeToken{Hash: "h", Purpose: "stream", UserID: user, ExpiresAt: now.Add(time.Minute)}); domain.ErrorCode(err) != domain.Conflict {
		t.Errorf("duplicate hash: %v", err)
	}
	if _, err := s.TakeOneTimeToken(ctx, "h", "other", now); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("other purpose: %v", err)
	}
	if _, err := s.TakeOneTimeToken(ctx, "h", "stream", now.Add(time.Minute)); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("expired: %v", err)
	}
	if n, err := s.PruneOneTimeTokens(ctx, now.Add(2*time.Minute)); err != nil || n != 1 {
		t.Errorf("prune: %d, %v", n, err)
	}
}

// TestPushStatements pins the statement count of the push operations.
func TestPushStatements(t *testing.T) {
	dsn := testDatabase(t, false)
	db, counter := countingDB(t, dsn, DefaultConfig())
	s := NewFromDB(db, nil, Options{})
	ctx := t.Context()
	base := time.Now().UTC().Add(-time.Hour)
	p, ids := pushFixture(t, s, 40, base)
	user := p.AuthorID
	now := time.Now().UTC()
	var claimed []string
	for _, op := range []struct {
		name string
		want int
		run  func() error
	}{
		// BEGIN, SELECT ... FOR UPDATE SKIP LOCKED, UPDATE, COMMIT.
		{"ClaimDeliveries", 4, func() error {
			got, err := s.ClaimDeliveries(ctx, now, time.Minute, 20)
			for _, d := range got {
				claimed = append(claimed, d.Notification.ID)
			}
			return err
		}},
		// BEGIN, SELECT, COMMIT.
		{"ClaimDeliveries(none due)", 3, func() error { _, err := s.ClaimDeliveries(ctx, base.Add(-time.Hour), time.Minute, 20); return err }},
		{"RecordDelivery", 1, func() error {
			return s.RecordDelivery(ctx, claimed[0], 1, domain.DeliveryOutcome{State: domain.DeliverySent, At: now})
		}},
		{"LastPushAt", 1, func() error { _, err := s.LastPushAt(ctx, user, p.ID); return err }},
		{"DeliveryState", 1, func() error { _, _, _, err := s.DeliveryState(ctx, user, ids[0]); return err }},
		{"NotificationsAfter", 1, func() error { _, _, err := s.NotificationsAfter(ctx, user, "", 20); return err }},
		{"NotificationsSince", 1, func() error {
			_, err := s.NotificationsSince(ctx, []string{user, porttest.NewID()}, base, 100)
			return err
		}},
		{"CountUnread", 1, func() error { _, err := s.CountUnread(ctx, []string{user}); return err }},
		// BEGIN, lock settings row, read device and address holder,
		// INSERT, locking read of the user's devices, COMMIT.
		{"PutDevice", 6, func() error {
			_, _, err := s.PutDevice(ctx, domain.Device{UserID: user, ID: "d1", Platform: domain.PlatformFCM, Token: "t1", SeenAt: now})
			return err
		}},
		// The same with UPDATE.
		{"PutDevice(again)", 6, func() error {
			_, _, err := s.PutDevice(ctx, domain.Device{UserID: user, ID: "d1", Platform: domain.PlatformFCM, Token: "t2", SeenAt: now})
			return err
		}},
		// Plus the DELETE of the device that held the address.
		{"PutDevice(address moves)", 7, func() error {
			_, _, err := s.PutDevice(ctx, domain.Device{UserID: user, ID: "d2", Platform: domain.PlatformFCM, Token: "t2", SeenAt: now})
			return err
		}},
		{"ListDevices", 1, func() error { _, err := s.ListDevices(ctx, user); return err }},
		// BEGIN, upsert, SELECT ... FOR UPDATE, UPDATE, COMMIT.
		{"UpdateNotificationSettings", 5, func() error {
			_, err := s.UpdateNotificationSettings(ctx, user, func(st *domain.NotificationSettings) error {
				st.Quiet = &domain.QuietHours{Start: 60, End: 120, TimeZone: "Europe/Lisbon"}
				return nil
			})
			return err
		}},
		{"GetNotificationSettings", 1, func() error { _, err := s.GetNotificationSettings(ctx, user); return err }},
		// BEGIN, share-lock the post, upsert, COMMIT.
		{"MutePost", 4, func() error { return s.MutePost(ctx, user, p.ID, now) }},
		{"IsPostMuted", 1, func() error { _, err := s.IsPostMuted(ctx, user, p.ID); return err }},
		{"PutOneTimeToken", 1, func() error {
			return s.PutOneTimeToken(ctx, domain.OneTimeToken{Hash: "h1", Purpose: "stream", UserID: user, ExpiresAt: now.Add(time.Minute)})
		}},
		// BEGIN, SELECT ... FOR UPDATE, DELETE, COMMIT.
		{"TakeOneTimeToken", 4, func() error { _, err := s.TakeOneTimeToken(ctx, "h1", "stream", now); return err }},
	} {
		var err error
		sent := counter.count(func() { err = op.run() })
		if err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if len(sent) != op.want {
			t.Errorf("%s: %d statements, want %d:%s", op.name, len(sent), op.want, summarize(sent))
		}
		if testing.Verbose() {
			t.Logf("%-28s %d statements", op.name, len(sent))
		}
	}
}

// TestDeleteUserAndPostRemovePushState: DeletePost removes the post's
// mutes; DeleteUser the user's devices, settings and mutes and everyone's
// mutes of the user's posts.
func TestDeleteUserAndPostRemovePushState(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	now := time.Now().UTC()
	p, _ := pushFixture(t, s, 1, now)
	other, _ := pushFixture(t, s, 1, now)
	a, b := p.AuthorID, other.AuthorID
	for _, m := range [][2]string{{a, other.ID}, {b, p.ID}, {b, other.ID}} {
		if err := s.MutePost(ctx, m[0], m[1], now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MutePost(ctx, a, porttest.NewID(), now); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("mute an unknown post: %v", err)
	}
	if _, _, err := s.PutDevice(ctx, domain.Device{UserID: a, ID: "d", Platform: domain.PlatformFCM, Token: "t", SeenAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateNotificationSettings(ctx, a, func(st *domain.NotificationSettings) error {
		st.PushOff = []domain.NotificationType{domain.NotificationComment}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DeletePost(ctx, other.ID, nil); err != nil {
		t.Fatal(err)
	}
	if ids, _, err := s.ListMutedPosts(ctx, b, "", 10); err != nil || !slices.Equal(ids, []string{p.ID}) {
		t.Errorf("b's mutes after DeletePost: %v, %v", ids, err)
	}
	if _, err := s.DeleteUser(ctx, a); err != nil {
		t.Fatal(err)
	}
	for table, n := range map[string]int{
		"devices":               testCount(t, s.writer, "SELECT COUNT(*) FROM devices"),
		"notification_settings": testCount(t, s.writer, "SELECT COUNT(*) FROM notification_settings"),
		"post_mutes":            testCount(t, s.writer, "SELECT COUNT(*) FROM post_mutes"),
	} {
		if n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
}
