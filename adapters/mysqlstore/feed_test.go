package mysqlstore

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// feedLoadResult is what readers of one feed missed under concurrent writes.
type feedLoadResult struct {
	missed   []string // committed entities a reader never saw
	disorder string   // a Seq that did not increase, if any
	writes   int
	pages    []string // what the readers read, for a failure's log
}

// runFeedLoad has writers commit posts, comments and notifications to one
// owner's feed while readers follow it from their cursor with small pages,
// every write transaction pausing 0-2ms between taking its sequence numbers
// and committing (the window in which a reader could pass a lower Seq that
// commits later). After the writers stop, each reader drains the feed; it
// must have seen every committed entity.
func runFeedLoad(t *testing.T, s *Store, writers, perWriter, readers int) feedLoadResult {
	t.Helper()
	ctx := t.Context()
	s.setBeforeCommit(func() { time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) })
	defer s.setBeforeCommit(nil)
	newProfile := func() domain.Profile {
		id := porttest.NewID()
		p, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com", DisplayName: "load"})
		if err != nil {
			t.Fatalf("CreateProfile: %v", err)
		}
		return p
	}
	owner := newProfile()
	commenters := make([]domain.Profile, writers)
	for i := range commenters {
		commenters[i] = newProfile()
	}

	written := make([][]string, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var post domain.Post
			for i := range perWriter {
				if i%5 == 0 {
					p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: owner.ID, Body: "load"})
					if err != nil {
						t.Errorf("writer %d: CreatePost: %v", w, err)
						return
					}
					post = p
					written[w] = append(written[w], p.ID)
					continue
				}
				c := domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: commenters[w].ID, Body: "c"}
				n := &domain.Notification{ID: porttest.NewID(), UserID: owner.ID, Type: domain.NotificationComment,
					ActorID: c.AuthorID, PostID: c.PostID, CommentID: c.ID}
				if _, err := s.CreateComment(ctx, c, owner.ID, n); err != nil {
					t.Errorf("writer %d: CreateComment: %v", w, err)
					return
				}
				written[w] = append(written[w], c.ID, n.ID)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var pagesMu sync.Mutex
	var pages []string
	seen := make([]map[string]bool, readers)
	disorder := make([]string, readers)
	var rg sync.WaitGroup
	for r := range readers {
		seen[r] = map[string]bool{}
		rg.Go(func() {
			var last int64
			read := func() (bool, bool) {
				page, more, err := s.ChangesSince(ctx, owner.ID, last, 5)
				if err != nil {
					t.Errorf("reader %d: ChangesSince: %v", r, err)
					return false, false
				}
				if len(page) > 0 {
					pagesMu.Lock()
					pages = append(pages, fmt.Sprintf("r%d:%d..%d", r, page[0].Seq, page[len(page)-1].Seq))
					pagesMu.Unlock()
				}
				for _, c := range page {
					if c.Seq <= last && disorder[r] == "" {
						disorder[r] = "Seq went from " + strconv.FormatInt(last, 10) + " to " + strconv.FormatInt(c.Seq, 10)
					}
					last = c.Seq
					seen[r][c.ID] = true
				}
				return more, true
			}
			for {
				select {
				case <-done:
					for {
						more, ok := read()
						if !more || !ok {
							return
						}
					}
				default:
					if _, ok := read(); !ok {
						return
					}
				}
			}
		})
	}
	rg.Wait()
	<-done

	res := feedLoadResult{pages: pages}
	for r := range readers {
		if disorder[r] != "" {
			res.disorder = disorder[r]
		}
		for _, ids := range written {
			for _, id := range ids {
				if !seen[r][id] {
					res.missed = append(res.missed, id)
				}
			}
		}
	}
	for _, ids := range written {
		res.writes += len(ids)
	}
	slices.Sort(res.missed)
	res.missed = slices.Compact(res.missed)
	return res
}

// TestFeedNeverMissesUnderLoad: 8 writers and 3 readers on one feed, with
// commits delayed after the sequence numbers are taken; no reader may miss
// a committed change.
func TestFeedNeverMissesUnderLoad(t *testing.T) {
	s := newTestStore(t, Options{})
	res := runFeedLoad(t, s, 8, 30, 3)
	if res.disorder != "" {
		t.Errorf("a reader saw Seq go backwards: %s", res.disorder)
	}
	if len(res.missed) > 0 {
		t.Errorf("readers never saw %d of %d committed entities: %v", len(res.missed), res.writes, res.missed)
		for _, id := range res.missed {
			var seq int64
			var user string
			err := s.writer.QueryRowContext(t.Context(), "SELECT seq, user_id FROM feed_changes WHERE entity_id = ? ORDER BY seq LIMIT 1", id).Scan(&seq, &user)
			t.Logf("missed %s: first change seq %d (user %s), %v", id, seq, user, err)
		}
		t.Logf("reader pages (first seq..last seq of each page): %v", res.pages)
	}
}

// TestFeedLoadCatchesTheRace runs the same load without the feed lock, to
// show that the test above can fail: some reader must pass a sequence
// number whose transaction commits later and so miss its change.
func TestFeedLoadCatchesTheRace(t *testing.T) {
	if testing.Short() {
		t.Skip("negative control of TestFeedNeverMissesUnderLoad")
	}
	s := newTestStore(t, Options{})
	s.setNoFeedLock(true)
	for attempt := range 3 {
		res := runFeedLoad(t, s, 8, 30, 3)
		if len(res.missed) > 0 {
			t.Logf("without the feed lock, attempt %d: readers missed %d of %d entities (as expected)", attempt+1, len(res.missed), res.writes)
			return
		}
	}
	t.Error("without the feed lock no reader missed a change in 3 runs: the load test cannot detect the race")
}

// TestFeedSnapshotSeqCoversConcurrentWrites: snapshots taken while writers
// commit (with delayed commits) report a position such that every write is
// either in the snapshot or among the changes after its Seq.
func TestFeedSnapshotSeqCoversConcurrentWrites(t *testing.T) {
	t.Run("repeatable-read", func(t *testing.T) { snapshotSeqCoversConcurrentWrites(t, newTestStore(t, Options{})) })
	// A server (parameter group) defaulting to READ COMMITTED: each read of
	// the snapshot sees its own moment. MariaDB 10.11 names the variable
	// tx_isolation.
	t.Run("read-committed", func(t *testing.T) {
		dsn := testDatabase(t, false) + "?tx_isolation=%27READ-COMMITTED%27"
		s := testStoreOn(t, dsn, DefaultConfig(), Options{})
		for _, db := range []*sql.DB{s.writer, s.txs} {
			var level string
			if err := db.QueryRowContext(t.Context(), "SELECT @@tx_isolation").Scan(&level); err != nil || level != "READ-COMMITTED" {
				t.Fatalf("session isolation %q, %v", level, err)
			}
		}
		snapshotSeqCoversConcurrentWrites(t, s)
	})
}

func snapshotSeqCoversConcurrentWrites(t *testing.T, s *Store) {
	ctx := t.Context()
	id := porttest.NewID()
	owner, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s.setBeforeCommit(func() { time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) })
	var wg sync.WaitGroup
	var mu sync.Mutex
	var posts []string
	for range 4 {
		wg.Go(func() {
			for range 15 {
				p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: owner.ID, Body: "x"})
				if err != nil {
					t.Errorf("CreatePost: %v", err)
					return
				}
				mu.Lock()
				posts = append(posts, p.ID)
				mu.Unlock()
			}
		})
	}
	// Snapshots taken while writers commit: every post is either in the
	// snapshot or in the changes after its Seq.
	var snaps []struct {
		have map[string]bool
		seq  int64
	}
	for range 10 {
		snap, err := s.Snapshot(ctx, owner.ID)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		have := map[string]bool{}
		for _, p := range snap.Posts {
			have[p.ID] = true
		}
		snaps = append(snaps, struct {
			have map[string]bool
			seq  int64
		}{have, snap.Seq})
		time.Sleep(3 * time.Millisecond)
	}
	wg.Wait()
	s.setBeforeCommit(nil)
	for i, sn := range snaps {
		after := map[string]bool{}
		var last int64 = sn.seq
		for {
			page, more, err := s.ChangesSince(ctx, owner.ID, last, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				after[c.ID] = true
				last = c.Seq
			}
			if !more {
				break
			}
		}
		for _, p := range posts {
			if !sn.have[p] && !after[p] {
				t.Errorf("snapshot %d (Seq %d): post %s is neither in it nor in the changes after it", i, sn.seq, p)
			}
		}
	}
}

// TestFeedStopsAtAGapInPositions: a change the server does not show yet
// (here: inserted by a transaction still open) while a later one is
// visible (the shape of a commit that became visible late) holds readers
// and snapshots back until it shows; a gap that lasts past hiddenGrace no
// longer does.
func TestFeedStopsAtAGapInPositions(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	id := porttest.NewID()
	owner, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: owner.ID, Body: "first"})
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := s.ChangesSince(ctx, owner.ID, 0, 100)
	if err != nil || len(all) == 0 {
		t.Fatalf("ChangesSince = %v, %v", all, err)
	}
	cursor := all[len(all)-1].Seq
	var head int64
	if err := s.writer.QueryRowContext(ctx, "SELECT pos FROM feed_heads WHERE user_id = ?", owner.ID).Scan(&head); err != nil {
		t.Fatal(err)
	}

	// X takes the next position in a transaction left open; Y, the one
	// after, commits.
	insert := "INSERT INTO feed_changes (user_id, entity, entity_id, deleted, at, pos) VALUES (?, 'post', ?, FALSE, ?, ?)"
	hiddenTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hiddenTx.Rollback() }()
	x, y := porttest.NewID(), porttest.NewID()
	if _, err := hiddenTx.ExecContext(ctx, insert, owner.ID, x, time.Now().UTC(), head+1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, insert, owner.ID, y, time.Now().UTC(), head+2); err != nil {
		t.Fatal(err)
	}

	page, more, err := s.ChangesSince(ctx, owner.ID, cursor, 100)
	if err != nil || len(page) != 0 || !more {
		t.Errorf("ChangesSince with X hidden = %v, more %v, %v; want nothing yet and more", page, more, err)
	}
	snap, err := s.Snapshot(ctx, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Seq != cursor {
		t.Errorf("Snapshot position with X hidden = %d, want %d (below the gap)", snap.Seq, cursor)
	}
	if len(snap.Posts) != 1 || snap.Posts[0].ID != first.ID {
		t.Errorf("snapshot posts %v", snap.Posts)
	}

	if err := hiddenTx.Commit(); err != nil {
		t.Fatal(err)
	}
	page, _, err = s.ChangesSince(ctx, owner.ID, cursor, 100)
	if err != nil || len(page) != 2 || page[0].ID != x || page[1].ID != y {
		t.Errorf("ChangesSince once X shows = %v, %v; want X then Y", page, err)
	}
	if snap, err := s.Snapshot(ctx, owner.ID); err != nil || snap.Seq != page[len(page)-1].Seq {
		t.Errorf("Snapshot position once X shows = %d, %v; want Y's %d", snap.Seq, err, page[len(page)-1].Seq)
	}

	// A gap that outlives hiddenGrace (a lost position) is passed.
	z := porttest.NewID()
	if _, err := s.writer.ExecContext(ctx, insert, owner.ID, z, time.Now().UTC().Add(-2*hiddenGrace), head+5); err != nil {
		t.Fatal(err)
	}
	page, more, err = s.ChangesSince(ctx, owner.ID, page[len(page)-1].Seq, 100)
	if err != nil || len(page) != 1 || page[0].ID != z || more {
		t.Errorf("ChangesSince past an old gap = %v, more %v, %v; want Z", page, more, err)
	}
}

// TestWritesWithoutFeedHeads: a write that folds a row update into the
// reservation needs its feeds' head rows; when one is missing (a feed
// written before heads existed, or a user never written to) the write
// makes it and runs again, and the feed's positions still follow each
// other from 1.
func TestWritesWithoutFeedHeads(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	author, commenter := porttest.NewID(), porttest.NewID()
	for _, id := range []string{author, commenter} {
		if _, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	post, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: author, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, "DELETE FROM feed_heads WHERE user_id IN (?, ?)", author, commenter); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, "UPDATE feed_changes SET pos = NULL WHERE user_id IN (?, ?)", author, commenter); err != nil {
		t.Fatal(err)
	}
	c := domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: commenter, Body: "hi"}
	n := &domain.Notification{ID: porttest.NewID(), UserID: author, Type: domain.NotificationComment, ActorID: commenter, PostID: post.ID, CommentID: c.ID}
	if _, err := s.CreateComment(ctx, c, author, n); err != nil {
		t.Fatalf("CreateComment without feed heads: %v", err)
	}
	if got, err := s.GetPost(ctx, post.ID); err != nil || got.CommentCount != 1 {
		t.Fatalf("CommentCount = %d, %v; want 1 (counted once although the transaction ran twice)", got.CommentCount, err)
	}
	for user, want := range map[string][]int64{author: {1, 2, 3}, commenter: {1}} {
		rows, err := s.writer.QueryContext(ctx, "SELECT pos FROM feed_changes WHERE user_id = ? AND pos IS NOT NULL ORDER BY seq", user)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for rows.Next() {
			var p int64
			if err := rows.Scan(&p); err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
		rows.Close()
		if !slices.Equal(got, want) {
			t.Errorf("positions of %s's new changes = %v, want %v", user, got, want)
		}
	}
	// A missing post is still NotFound (diagnosed, not retried forever).
	c2 := domain.Comment{ID: porttest.NewID(), PostID: porttest.NewID(), AuthorID: commenter, Body: "hi"}
	if _, err := s.CreateComment(ctx, c2, author, nil); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("comment on a missing post: %v, want NotFound", err)
	}
}

// TestDeleteLargePost: a post whose comments, media and mutes would make
// DeletePost's one-statement join too large is deleted with one DELETE
// per table instead, with the same result.
func TestDeleteLargePost(t *testing.T) {
	old := maxDeleteJoin
	maxDeleteJoin = 1
	t.Cleanup(func() { maxDeleteJoin = old })
	s := newTestStore(t, Options{})
	ctx := t.Context()
	author, other := porttest.NewID(), porttest.NewID()
	now := time.Now().UTC()
	var media []string
	for range 2 {
		m, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: author, Purpose: domain.PurposePost, Status: domain.MediaReady, CreatedAt: now}, nil)
		if err != nil {
			t.Fatal(err)
		}
		media = append(media, m.ID)
	}
	post, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: author, Body: "x", MediaIDs: media})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c := domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: other, Body: "c"}
		n := &domain.Notification{ID: porttest.NewID(), UserID: author, Type: domain.NotificationComment, ActorID: other, PostID: post.ID, CommentID: c.ID}
		if _, err := s.CreateComment(ctx, c, author, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MutePost(ctx, other, post.ID, now); err != nil {
		t.Fatal(err)
	}
	_, removed, err := s.DeletePost(ctx, post.ID, nil)
	if err != nil || len(removed) != 2 || removed[0].ID != media[0] || removed[1].ID != media[1] {
		t.Fatalf("DeletePost: %v, removed %v", err, removed)
	}
	for table, q := range map[string]string{
		"posts": "SELECT COUNT(*) FROM posts WHERE id = ?", "comments": "SELECT COUNT(*) FROM comments WHERE post_id = ?",
		"notifications": "SELECT COUNT(*) FROM notifications WHERE post_id = ?", "media": "SELECT COUNT(*) FROM media WHERE post_id = ?",
		"post_mutes": "SELECT COUNT(*) FROM post_mutes WHERE post_id = ?",
	} {
		if n := testCount(t, s.writer, q, post.ID); n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
}
