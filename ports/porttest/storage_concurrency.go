package porttest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageConcurrencyCases = []storageCase{
	{name: "OptimisticUpdateProfile", run: storageConcurrentOptimisticUpdate},
	{name: "ParallelCreateComment", run: storageConcurrentCreateComment},
	{name: "ParallelCreateDeleteComment", run: storageConcurrentCreateDeleteComment},
	{name: "SyncNeverMisses", run: storageConcurrentSync},
}

// storageConcurrentOptimisticUpdate: writers that all read version 1 and
// refuse to overwrite anything else; serialised updates let exactly one win.
func storageConcurrentOptimisticUpdate(t *testing.T, f *storageFix) {
	p := f.profile()
	const writers = 8
	errs := make([]error, writers)
	var ready, wg sync.WaitGroup
	ready.Add(writers)
	for i := range writers {
		wg.Go(func() {
			first, err := f.s.GetProfile(f.ctx, p.ID)
			ready.Done()
			if err != nil {
				errs[i] = err
				return
			}
			ready.Wait() // everyone has read before anyone writes
			_, errs[i] = f.s.UpdateProfile(f.ctx, p.ID, func(q *domain.Profile) error {
				// Work inside the transaction widens the window in which a
				// store that does not serialise updates lets fn see a stale
				// version.
				time.Sleep(time.Millisecond)
				if q.Version != first.Version {
					return domain.Errorf(domain.PreconditionFailed, "version is %d, not %d", q.Version, first.Version)
				}
				q.DisplayName = fmt.Sprintf("writer %d", i)
				return nil
			})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch domain.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("writers %d and %d both won", winner, i)
			}
			winner = i
		case domain.PreconditionFailed:
		default:
			t.Errorf("writer %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	got, err := f.s.GetProfile(f.ctx, p.ID)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	if want := fmt.Sprintf("writer %d", winner); got.Version != 2 || got.DisplayName != want {
		t.Errorf("final profile: Version %d DisplayName %q, want 2 and %q", got.Version, got.DisplayName, want)
	}
}

func storageConcurrentCreateComment(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	cur := f.cursor(a.ID)
	const n = 50
	comments := make([]domain.Comment, n)
	notes := make([]domain.Notification, n)
	var wg sync.WaitGroup
	for i := range n {
		comments[i] = storageNewComment(p.ID, b.ID)
		notes[i] = *storageNewNotification(a.ID, comments[i])
		wg.Go(func() {
			if _, err := f.s.CreateComment(f.ctx, comments[i], p.AuthorID, &notes[i]); err != nil {
				t.Errorf("CreateComment %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := f.getPost(p.ID); got.CommentCount != n {
		t.Errorf("CommentCount after %d parallel comments = %d", n, got.CommentCount)
	}
	listed, more, err := f.s.ListComments(f.ctx, p.ID, "", 100)
	if err != nil || more {
		t.Fatalf("ListComments: %v (more %v)", err, more)
	}
	storageSame(t, "comments", listed, comments)
	got, more, err := f.s.ListNotifications(f.ctx, a.ID, "", 100)
	if err != nil || more {
		t.Fatalf("ListNotifications: %v (more %v)", err, more)
	}
	storageSame(t, "notifications", got, notes)
	want := []storageChange{storageUpsert(domain.EntityPost, p.ID)}
	for i := range n {
		want = append(want, storageUpsert(domain.EntityComment, comments[i].ID), storageUpsert(domain.EntityNotification, notes[i].ID))
	}
	f.expectFeed(a.ID, cur, want...)
}

func storageConcurrentCreateDeleteComment(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	p := f.post(a.ID)
	const n = 20
	var old, fresh []string
	for range n {
		c, _ := f.comment(p, b.ID, true)
		old = append(old, c.ID)
	}
	var wg sync.WaitGroup
	for i := range n {
		c := storageNewComment(p.ID, b.ID)
		fresh = append(fresh, c.ID)
		wg.Go(func() {
			if _, err := f.s.CreateComment(f.ctx, c, a.ID, storageNewNotification(a.ID, c)); err != nil {
				t.Errorf("CreateComment: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := f.s.DeleteComment(f.ctx, old[i], nil); err != nil {
				t.Errorf("DeleteComment: %v", err)
			}
		})
	}
	wg.Wait()
	if got := f.getPost(p.ID); got.CommentCount != n {
		t.Errorf("CommentCount after %d creates and %d deletes on %d = %d, want %d", n, n, n, got.CommentCount, n)
	}
	listed, _, err := f.s.ListComments(f.ctx, p.ID, "", 100)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	storageSame(t, "comments left", storageIDs(listed, storageCommentID), fresh)
	notes, _, err := f.s.ListNotifications(f.ctx, a.ID, "", 100)
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	if len(notes) != n {
		t.Errorf("%d notifications left, want %d", len(notes), n)
	}
}

// storageConcurrentSync: a reader follows a feed from its cursor while
// writers commit; once they stop, one last read must have shown every
// committed entity, with Seq strictly increasing throughout.
func storageConcurrentSync(t *testing.T, f *storageFix) {
	owner := f.profile()
	const writers, perWriter = 3, 15
	commenters := make([]domain.Profile, writers)
	for i := range commenters {
		commenters[i] = f.profile()
	}
	start := f.cursor(owner.ID)

	written := make([][]string, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var post domain.Post
			for i := range perWriter {
				if i%3 == 0 {
					p, err := f.s.CreatePost(f.ctx, storageNewPost(owner.ID))
					if err != nil {
						t.Errorf("writer %d: CreatePost: %v", w, err)
						return
					}
					post = p
					written[w] = append(written[w], p.ID)
					continue
				}
				c := storageNewComment(post.ID, commenters[w].ID)
				n := storageNewNotification(owner.ID, c)
				if _, err := f.s.CreateComment(f.ctx, c, owner.ID, n); err != nil {
					t.Errorf("writer %d: CreateComment: %v", w, err)
					return
				}
				written[w] = append(written[w], c.ID, n.ID)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	defer func() { <-done }() // writers must not outlive the test

	seen := map[string]bool{}
	last := start
	read := func() bool {
		page, more, err := f.s.ChangesSince(f.ctx, owner.ID, last, 7)
		if err != nil {
			t.Fatalf("ChangesSince: %v", err)
		}
		for _, c := range page {
			if c.Seq <= last {
				t.Fatalf("ChangesSince(after %d) returned Seq %d", last, c.Seq)
			}
			last = c.Seq
			seen[c.ID] = true
		}
		if len(page) == 0 {
			time.Sleep(time.Millisecond)
		}
		return more
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			read()
		}
	}
	for read() {
	}

	var missed []string
	for _, ids := range written {
		for _, id := range ids {
			if !seen[id] {
				missed = append(missed, id)
			}
		}
	}
	if len(missed) > 0 {
		slices.Sort(missed)
		t.Errorf("the reader never saw %d committed entities: %v", len(missed), missed)
	}
}
