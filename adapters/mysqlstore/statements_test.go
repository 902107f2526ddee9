package mysqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// countKinds counts the transactions among recorded statements (each ends
// with COMMIT or ROLLBACK; on the transaction pool none starts with BEGIN)
// and the statements.
func countKinds(sent []string) (begins, commits, total int) {
	for _, s := range sent {
		switch s {
		case "BEGIN":
			begins++
		case "COMMIT":
			commits++
		}
	}
	return begins, commits, len(sent)
}

// checkQuestions fails the test unless the server's Questions counters
// (delta, read around the call by questions: two reads of one statement
// each) agree with the statements the driver recorded.
func checkQuestions(t *testing.T, name string, delta int, sent []string) {
	t.Helper()
	if delta-2 != len(sent) {
		t.Errorf("%s: the server counted %d statements (Questions), the driver sent %d:%s", name, delta-2, len(sent), summarize(sent))
	}
}

// TestStatementsPerAPICall counts the round trips each API call costs
// against the database, at two data sizes: the budgets are fixed numbers
// that do not grow with the data, and the test fails when a change makes
// a call issue more statements. Rate limited calls include their counter
// upserts (one statement each); the revocation check is cached (see
// newAPIEnv).
func TestStatementsPerAPICall(t *testing.T) {
	store, counter := countingStore(t, testDatabase(t, false), Options{})
	en := newAPIEnv(t, store)

	type budget struct {
		name   string
		max    int  // statements, BEGIN/COMMIT included
		oneTx  bool // exactly one transaction
		method string
		path   func() string
		body   func() any
	}
	var postID string
	for _, size := range []int{1, 25} {
		// Data: size posts with media and size comments on the last one.
		for range size {
			var p struct{ ID string }
			en.mustCall("POST", "/v1/posts", map[string]any{"body": "hello", "mediaIds": en.readyMedia(2)}, &p)
			postID = p.ID
		}
		for range size {
			en.mustCall("POST", "/v1/posts/"+postID+"/comments", map[string]any{"body": "nice"}, nil)
		}
		for _, b := range []budget{
			// GetPostWithMedia: the post, then its media.
			{name: "GET /v1/posts/{id}", max: 2, method: "GET", path: func() string { return "/v1/posts/" + postID }},
			// ListPosts + one GetMediaBatch for the page.
			{name: "GET /v1/posts?limit=20", max: 3, method: "GET", path: func() string { return "/v1/posts?limit=20" }},
			// Two rate limit hits (per address, per user), CheckAttachable's
			// GetMediaBatch, Ensure's GetProfile, then one transaction:
			// insert post, attach media + feed head, insert change, COMMIT;
			// then the answer's media.
			{name: "POST /v1/posts with 2 media", max: 9, oneTx: true, method: "POST", path: func() string { return "/v1/posts" },
				body: func() any { return map[string]any{"body": "new", "mediaIds": en.readyMedia(2)} }},
			// Two rate limit hits, the post, Ensure + one transaction (count
			// + feed heads, comment, notification, changes, COMMIT).
			{name: "POST /v1/posts/{id}/comments", max: 9, oneTx: true, method: "POST",
				path: func() string { return "/v1/posts/" + postID + "/comments" }, body: func() any { return map[string]any{"body": "hi"} }},
			{name: "GET /v1/posts/{id}/comments", max: 2, method: "GET", path: func() string { return "/v1/posts/" + postID + "/comments?limit=20" }},
			// Two rate limit hits and the page.
			{name: "GET /v1/notifications", max: 4, method: "GET", path: func() string { return "/v1/notifications?limit=20" }},
			{name: "GET /v1/me", max: 2, method: "GET", path: func() string { return "/v1/me" }},
			// Full sync: horizon-free first call = Ensure + snapshot
			// transaction (BEGIN, 6 reads, ROLLBACK) + media of the posts.
			{name: "GET /v1/sync (snapshot)", max: 10, method: "GET", path: func() string { return "/v1/sync" }},
		} {
			path := b.path()
			var body any
			if b.body != nil {
				body = b.body()
			}
			var err error
			before := questions(t, store)
			sent := counter.count(func() { _, err = en.call(b.method, path, body, nil) })
			if err != nil {
				t.Fatalf("%s: %v", b.name, err)
			}
			checkQuestions(t, b.name, questions(t, store)-before, sent)
			begins, commits, total := countKinds(sent)
			if total > b.max {
				t.Errorf("%s with %d rows: %d statements, budget %d:%s", b.name, size, total, b.max, summarize(sent))
			}
			if b.oneTx && (begins != 0 || commits != 1) {
				t.Errorf("%s: %d transactions (%d commits), want exactly one:%s", b.name, begins, commits, summarize(sent))
			}
			if testing.Verbose() {
				t.Logf("%-30s %2d rows: %d statements (budget %d)", b.name, size, total, b.max)
			}
		}
	}
}

// TestStatementsPerStoreCall pins the exact statement count of the store
// operations, each at two data sizes (the count must not depend on them).
func TestStatementsPerStoreCall(t *testing.T) {
	s, counter := countingStore(t, testDatabase(t, false), Options{})
	ctx := t.Context()
	now := time.Now().UTC()
	profile := func() domain.Profile {
		id := porttest.NewID()
		p, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	media := func(owner string) string {
		m, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: owner, Purpose: domain.PurposePost, Status: domain.MediaReady, CreatedAt: now}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	newItem := func(owner string) domain.Media {
		return domain.Media{ID: porttest.NewID(), OwnerID: owner, Purpose: domain.PurposePost, Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now}
	}
	admitAll := func(int, time.Time) error { return nil }
	errRefused := errors.New("refused")
	refuse := func(int, time.Time) error { return errRefused }
	a, b := profile(), profile()
	for _, size := range []int{1, 30} {
		var p domain.Post
		for range size {
			var err error
			p, err = s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: a.ID, Body: "x", MediaIDs: []string{media(a.ID), media(a.ID)}})
			if err != nil {
				t.Fatal(err)
			}
		}
		var commentIDs []string
		for range size {
			c := domain.Comment{ID: porttest.NewID(), PostID: p.ID, AuthorID: b.ID, Body: "c"}
			if _, err := s.CreateComment(ctx, c, a.ID, &domain.Notification{ID: porttest.NewID(), UserID: a.ID, Type: domain.NotificationComment, ActorID: b.ID, PostID: p.ID, CommentID: c.ID}); err != nil {
				t.Fatal(err)
			}
			commentIDs = append(commentIDs, c.ID)
		}
		newMedia := []string{media(a.ID), media(a.ID)}
		swapIn := media(a.ID)
		claimMedia := []string{media(a.ID), media(a.ID)}
		// claimed returns a context carrying a fresh claim of user (made
		// before the count starts: the claim is its own statement).
		claimed := func(user string) context.Context {
			r := domain.IdempotencyRecord{UserID: user, Key: porttest.NewID(), Fingerprint: "fp", Token: porttest.NewID(), CreatedAt: now, LeaseUntil: now.Add(time.Minute)}
			if _, ok, err := s.ClaimIdempotencyKey(ctx, r); err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			return ports.WithIdempotencyClaim(ctx, ports.IdempotencyClaim{UserID: user, Key: r.Key, Token: r.Token})
		}
		postClaim, commentClaim, mediaClaim := claimed(a.ID), claimed(b.ID), claimed(a.ID)
		release := domain.IdempotencyRecord{UserID: a.ID, Key: porttest.NewID(), Fingerprint: "fp", Token: porttest.NewID(), CreatedAt: now, LeaseUntil: now.Add(time.Minute)}
		if _, ok, err := s.ClaimIdempotencyKey(ctx, release); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		postClaimed, _ := ports.IdempotencyClaimFrom(postClaim)
		// Rate counters (current and ended windows) and revocations.
		for range size {
			for _, at := range []time.Time{now, now.Add(-2 * time.Hour)} {
				if _, _, err := s.Hit(ctx, porttest.NewID(), time.Minute, 1, at); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.RevokeTokens(ctx, porttest.NewID(), now); err != nil {
				t.Fatal(err)
			}
		}
		rateKey := "statements:" + porttest.NewID()
		for _, op := range []struct {
			name string
			want int
			run  func() error
		}{
			{"GetPost", 1, func() error { _, err := s.GetPost(ctx, p.ID); return err }},
			{"GetPostWithMedia", 2, func() error { _, _, err := s.GetPostWithMedia(ctx, p.ID); return err }},
			{"GetPosts", 1, func() error { _, err := s.GetPosts(ctx, []string{p.ID, porttest.NewID()}); return err }},
			{"ListPosts(20)", 1, func() error { _, _, err := s.ListPosts(ctx, ports.PostQuery{Limit: 20}); return err }},
			{"ListPosts(author, 20)", 1, func() error { _, _, err := s.ListPosts(ctx, ports.PostQuery{AuthorID: a.ID, Limit: 20}); return err }},
			{"GetMediaBatch", 1, func() error { _, err := s.GetMediaBatch(ctx, p.MediaIDs); return err }},
			{"ListComments", 1, func() error { _, _, err := s.ListComments(ctx, p.ID, "", 20); return err }},
			{"GetComments", 1, func() error { _, err := s.GetComments(ctx, commentIDs); return err }},
			{"ListNotifications", 1, func() error { _, _, err := s.ListNotifications(ctx, a.ID, "", 20); return err }},
			{"ChangesSince", 1, func() error { _, _, err := s.ChangesSince(ctx, a.ID, 0, 50); return err }},
			{"ListStaleMedia", 1, func() error { _, _, err := s.ListStaleMedia(ctx, now.Add(time.Hour), "", 100); return err }},
			// One INSERT, no transaction.
			{"CreateMedia", 1, func() error { _, err := s.CreateMedia(ctx, newItem(a.ID), nil); return err }},
			// Lock the admission row, INSERT, count, COMMIT.
			{"CreateMedia(admit)", 4, func() error { _, err := s.CreateMedia(ctx, newItem(a.ID), admitAll); return err }},
			// The same, with ROLLBACK.
			{"CreateMedia(admit refuses)", 4, func() error {
				if _, err := s.CreateMedia(ctx, newItem(a.ID), refuse); err != errRefused {
					return fmt.Errorf("admit refused, got %v", err)
				}
				return nil
			}},
			// One upsert (INSERT ... ON DUPLICATE KEY UPDATE, the count
			// read back from the OK packet), new counter or existing.
			{"Hit(new counter)", 1, func() error { _, _, err := s.Hit(ctx, porttest.NewID(), time.Minute, 1, now); return err }},
			{"Hit", 1, func() error { _, _, err := s.Hit(ctx, rateKey, time.Minute, 1, now); return err }},
			// One primary-key SELECT.
			{"Hit(n=0)", 1, func() error { _, _, err := s.Hit(ctx, rateKey, time.Minute, 0, now); return err }},
			// One DELETE ... LIMIT 1000 (fewer than 1000 ended windows).
			{"PruneRateCounters", 1, func() error { _, err := s.PruneRateCounters(ctx, now.Add(-time.Hour)); return err }},
			// One upsert.
			{"RevokeTokens", 1, func() error { return s.RevokeTokens(ctx, b.ID, now) }},
			// One primary-key SELECT on the writer.
			{"TokensRevokedBefore", 1, func() error { _, err := s.TokensRevokedBefore(ctx, b.ID); return err }},
			// BEGIN, feed position (latest changes), horizon, 4 reads, ROLLBACK
			// (a read-only snapshot on the writer pool).
			{"Snapshot", 8, func() error { _, err := s.Snapshot(ctx, a.ID); return err }},
			// The writes below run on the transaction pool (autocommit off:
			// no BEGIN), each at most five round trips (issue 16's budget).
			// Insert post, attach media + feed head, change, COMMIT.
			{"CreatePost(2 media)", 4, func() error {
				_, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: a.ID, Body: "x", MediaIDs: newMedia})
				return err
			}},
			// Count + feed heads, comment, notification, changes, COMMIT.
			{"CreateComment", 5, func() error {
				c := domain.Comment{ID: porttest.NewID(), PostID: p.ID, AuthorID: b.ID, Body: "c"}
				_, err := s.CreateComment(ctx, c, a.ID, &domain.Notification{ID: porttest.NewID(), UserID: a.ID, Type: domain.NotificationComment, CommentID: c.ID})
				return err
			}},
			// With an idempotency claim: the same, the claim's mark folded
			// into the reservation.
			{"CreatePost(2 media, claim)", 4, func() error {
				_, err := s.CreatePost(postClaim, domain.Post{ID: porttest.NewID(), AuthorID: a.ID, Body: "x", MediaIDs: claimMedia})
				return err
			}},
			{"CreateComment(claim)", 5, func() error {
				c := domain.Comment{ID: porttest.NewID(), PostID: p.ID, AuthorID: b.ID, Body: "c"}
				_, err := s.CreateComment(commentClaim, c, a.ID, &domain.Notification{ID: porttest.NewID(), UserID: a.ID, Type: domain.NotificationComment, CommentID: c.ID})
				return err
			}},
			// INSERT, the claim's mark, COMMIT: a claim takes the
			// transactional path.
			{"CreateMedia(claim)", 3, func() error { _, err := s.CreateMedia(mediaClaim, newItem(a.ID), nil); return err }},
			// Idempotency-Key records: one upsert for a new key; the upsert
			// and a primary-key read for a held one; one UPDATE to store
			// the response (of the claim CreatePost committed above); one
			// DELETE to release; one DELETE ... LIMIT to prune.
			{"ClaimIdempotencyKey(new)", 1, func() error {
				_, _, err := s.ClaimIdempotencyKey(ctx, domain.IdempotencyRecord{UserID: b.ID, Key: porttest.NewID(), Fingerprint: "fp", Token: porttest.NewID(), CreatedAt: now, LeaseUntil: now.Add(time.Minute)})
				return err
			}},
			{"ClaimIdempotencyKey(held)", 2, func() error {
				held := release
				held.Token = porttest.NewID()
				if _, ok, err := s.ClaimIdempotencyKey(ctx, held); err != nil || ok {
					return fmt.Errorf("claim of a held key: %v, %v", ok, err)
				}
				return nil
			}},
			{"CompleteIdempotencyKey", 1, func() error {
				return s.CompleteIdempotencyKey(ctx, postClaimed.UserID, postClaimed.Key, postClaimed.Token,
					domain.StoredResponse{Status: 201, Header: map[string]string{"Location": "/v1/posts/x"}, Body: []byte("{}")})
			}},
			{"ReleaseIdempotencyKey", 1, func() error { return s.ReleaseIdempotencyKey(ctx, release.UserID, release.Key, release.Token) }},
			{"PruneIdempotencyKeys", 1, func() error { _, err := s.PruneIdempotencyKeys(ctx, now.Add(-time.Hour)); return err }},
			// Lock post and media, update + feed head, change, COMMIT.
			{"UpdatePost(body)", 4, func() error {
				_, _, err := s.UpdatePost(ctx, p.ID, func(q *domain.Post) error { q.Body = "edited"; return nil })
				return err
			}},
			// Lock post and media, delete the dropped item, update + attach +
			// feed head, change, COMMIT.
			{"UpdatePost(media)", 5, func() error {
				_, _, err := s.UpdatePost(ctx, p.ID, func(q *domain.Post) error {
					q.MediaIDs = []string{q.MediaIDs[len(q.MediaIDs)-1], swapIn}
					return nil
				})
				return err
			}},
			// Lock unread, update, feed head, changes, COMMIT.
			{"MarkNotificationsRead(all)", 5, func() error { return s.MarkNotificationsRead(ctx, a.ID, nil, true, now) }},
			// Lock post, comment and notification, delete both, count + feed
			// heads, changes, COMMIT.
			{"DeleteComment", 5, func() error { _, err := s.DeleteComment(ctx, commentIDs[0], nil); return err }},
			// Lock post, media, comments and notifications, one DELETE, feed
			// heads, changes, COMMIT.
			{"DeletePost", 5, func() error { _, _, err := s.DeletePost(ctx, p.ID, nil); return err }},
		} {
			var err error
			before := questions(t, s)
			sent := counter.count(func() { err = op.run() })
			if err != nil {
				t.Fatalf("%s: %v", op.name, err)
			}
			checkQuestions(t, op.name, questions(t, s)-before, sent)
			if len(sent) != op.want {
				t.Errorf("%s with %d rows: %d statements, want %d:%s", op.name, size, len(sent), op.want, summarize(sent))
			}
		}
	}
}
