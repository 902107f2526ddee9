package mysqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// staleReplica is a store whose "reader" is a second database that never
// receives the writer's writes: the stalest replica there is. What a read
// returns tells which pool answered it.
//
// Its read-your-writes window is an hour, so that "right after a write"
// holds however slowly a busy machine gets to the next read, and
// waitWindow ends it at once instead of sleeping through it.
type staleReplica struct {
	s              *Store
	writer, reader *sql.DB
}

func newStaleReplica(t *testing.T) *staleReplica {
	t.Helper()
	w := testOpenDB(t, testDatabase(t, false), DefaultConfig())
	r := testOpenDB(t, testDatabase(t, false), DefaultConfig())
	return &staleReplica{s: NewFromDB(w, r, Options{ReadYourWrites: time.Hour}), writer: w, reader: r}
}

// onReader copies a profile into the reader database as it was, with a
// display name of its own, so reads from the reader are recognisable.
func (e *staleReplica) onReader(t *testing.T, p domain.Profile, name string) {
	t.Helper()
	if _, err := e.reader.ExecContext(context.Background(),
		"INSERT INTO profiles (id, email, email_key, display_name, bio, image_id, version) VALUES (?, ?, ?, ?, '', '', 1)",
		p.ID, p.Email, emailKey(p.Email), name); err != nil {
		t.Fatal(err)
	}
}

// waitWindow ends the read-your-writes window of everything written so
// far, as its passing would: every pin's end moves to the past.
func (e *staleReplica) waitWindow() {
	p := e.s.pins
	p.mu.Lock()
	defer p.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for k := range p.until {
		p.until[k] = past
	}
}

func TestReplicaRouting(t *testing.T) {
	e := newStaleReplica(t)
	s, ctx := e.s, t.Context()
	id := porttest.NewID()
	p, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com", DisplayName: "on writer"})
	if err != nil {
		t.Fatal(err)
	}
	e.onReader(t, p, "on reader")
	name := func(step string) string {
		t.Helper()
		got, err := s.GetProfile(ctx, id)
		if err != nil {
			t.Fatalf("%s: GetProfile: %v", step, err)
		}
		return got.DisplayName
	}

	// The user just wrote: their reads go to the writer.
	if got := name("right after the create"); got != "on writer" {
		t.Errorf("right after the write, GetProfile read %q: read-your-writes broken", got)
	}
	// Later reads go to the (stale) reader.
	e.waitWindow()
	if got := name("after the window"); got != "on reader" {
		t.Errorf("after the window, GetProfile read %q: reads do not use the reader", got)
	}
	// A new write pins the user again.
	if _, err := s.UpdateProfile(ctx, id, func(q *domain.Profile) error { q.Bio = "new"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := name("right after the update"); got != "on writer" {
		t.Errorf("right after an update, GetProfile read %q", got)
	}

	// Someone else's write on the user's behalf (a comment on their post)
	// pins the users whose feeds it touched: the post author sees it.
	post, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: id, Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitWindow()
	other := porttest.NewID()
	c := domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: other, Body: "hi"}
	n := &domain.Notification{ID: porttest.NewID(), UserID: id, Type: domain.NotificationComment, ActorID: other, PostID: post.ID, CommentID: c.ID}
	if _, err := s.CreateComment(ctx, c, id, n); err != nil {
		t.Fatal(err)
	}
	notes, _, err := s.ListNotifications(ctx, id, "", 10)
	if err != nil || len(notes) != 1 {
		t.Errorf("ListNotifications right after the comment = %d, %v; want the new one", len(notes), err)
	}
	comments, _, err := s.ListComments(ctx, post.ID, "", 10)
	if err != nil || len(comments) != 1 {
		t.Errorf("ListComments right after the comment = %d, %v; want the new one", len(comments), err)
	}
	if got, err := s.GetPost(ctx, post.ID); err != nil || got.CommentCount != 1 {
		t.Errorf("GetPost right after the comment = count %d, %v; want 1", got.CommentCount, err)
	}
	posts, _, err := s.ListPosts(ctx, ports.PostQuery{Limit: 10})
	if err != nil || len(posts) != 1 {
		t.Errorf("ListPosts right after a post write = %d posts, %v; want 1", len(posts), err)
	}

	// After the window, lists come from the reader, which has none of it.
	e.waitWindow()
	notes, _, err = s.ListNotifications(ctx, id, "", 10)
	if err != nil || len(notes) != 0 {
		t.Errorf("ListNotifications after the window = %d, %v; want the reader's (none)", len(notes), err)
	}
	posts, _, err = s.ListPosts(ctx, ports.PostQuery{Limit: 10})
	if err != nil || len(posts) != 0 {
		t.Errorf("ListPosts after the window = %d, %v; want the reader's (none)", len(posts), err)
	}

	// A replica that has not got a row yet never makes it look missing:
	// the miss is asked again on the writer.
	got, err := s.GetPost(ctx, post.ID)
	if err != nil || got.CommentCount != 1 {
		t.Errorf("GetPost of a row the reader lacks = %+v, %v; want the writer's", got, err)
	}
	batch, err := s.GetComments(ctx, []string{c.ID, porttest.NewID()})
	if err != nil || len(batch) != 1 {
		t.Errorf("GetComments of a row the reader lacks = %d, %v; want it from the writer", len(batch), err)
	}
	if notes, err := s.GetNotifications(ctx, id, []string{n.ID}); err != nil || len(notes) != 1 {
		t.Errorf("GetNotifications of a row the reader lacks = %d, %v", len(notes), err)
	}

	// Sync reads use the writer whatever the window: the reader has no
	// feed at all.
	chs, _, err := s.ChangesSince(ctx, id, 0, 100)
	if err != nil || len(chs) == 0 {
		t.Errorf("ChangesSince = %d changes, %v; want the writer's feed", len(chs), err)
	}
	snap, err := s.Snapshot(ctx, id)
	if err != nil || snap.Profile.DisplayName != "on writer" || len(snap.Posts) != 1 {
		t.Errorf("Snapshot = %+v, %v; want the writer's state", snap.Profile, err)
	}
	// ... and the entities a sync answer names are then read on the writer
	// too (the reader has a different profile).
	if got := name("after ChangesSince"); got != "on writer" {
		t.Errorf("GetProfile right after ChangesSince named it read %q", got)
	}

	// Ping checks both pools.
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	dead, err := OpenDB(DefaultConfig(), "app:secret@tcp("+closedPort(t)+")/cloudpost", false)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := NewFromDB(e.writer, dead, Options{}).Ping(ctx); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("Ping with the reader down = %v, want Unavailable", err)
	}
}

// copyRow copies one row of table from the writer's database to the
// reader's, as it is now.
func (e *staleReplica) copyRow(t *testing.T, table, id string) {
	t.Helper()
	ctx := context.Background()
	rows, err := e.writer.QueryContext(ctx, "SELECT * FROM "+table+" WHERE id = ?", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("no %s row %s", table, id)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + repeatJoin("?", len(cols)) + ")"
	if _, err := e.reader.ExecContext(ctx, q, vals...); err != nil {
		t.Fatal(err)
	}
}

// TestReplicaPostWithMedia: the joined read follows the same routing as
// the others: a post the reader lacks comes from the writer, items this
// process just changed are read on the writer, later reads use the reader.
func TestReplicaPostWithMedia(t *testing.T) {
	e := newStaleReplica(t)
	s, ctx := e.s, t.Context()
	owner := porttest.NewID()
	now := time.Now().UTC()
	m, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: owner, Purpose: domain.PurposePost,
		ContentType: "image/png", Size: 10, Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: owner, Body: "x", MediaIDs: []string{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitWindow()
	// Not on the reader yet: asked again on the writer.
	if got, items, err := s.GetPostWithMedia(ctx, p.ID); err != nil || got.ID != p.ID || len(items) != 1 {
		t.Fatalf("post the reader lacks = %+v %v, %v; want the writer's", got, items, err)
	}
	// The reader gets the rows as they are (item pending).
	e.copyRow(t, "posts", p.ID)
	e.copyRow(t, "media", m.ID)
	if _, err := s.UpdateMedia(ctx, m.ID, func(m *domain.Media) error {
		m.Status, m.Variants = domain.MediaReady, []string{"thumb"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	status := func() domain.MediaStatus {
		t.Helper()
		_, items, err := s.GetPostWithMedia(ctx, p.ID)
		if err != nil || len(items) != 1 {
			t.Fatalf("GetPostWithMedia = %v, %v", items, err)
		}
		return items[0].Status
	}
	if got := status(); got != domain.MediaReady {
		t.Errorf("right after processing the item reads %q: read-your-writes broken", got)
	}
	e.waitWindow()
	if got := status(); got != domain.MediaPending {
		t.Errorf("after the window the item reads %q; want the stale reader's pending", got)
	}
}
