package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestRawReadsMatchDatabaseSQL reads every kind of row (all column types
// the package scans, NULLs included) once through the direct path and once
// through database/sql: the results must be identical.
func TestRawReadsMatchDatabaseSQL(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	now := time.Now().UTC()
	user := porttest.NewID()
	if _, err := s.CreateProfile(ctx, domain.Profile{ID: user, Email: user + "@example.com", DisplayName: "Ünïcode 🙂", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var mediaIDs []string
	for i := range 2 {
		m, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: user, Purpose: domain.PurposePost, ContentType: "image/jpeg",
			Size: int64(1000 + i), Status: domain.MediaReady, Variants: domain.VariantNames, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		mediaIDs = append(mediaIDs, m.ID)
	}
	pending, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: user, Purpose: domain.PurposeAvatar, ContentType: "image/png",
		Size: 1, Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now}) // no variants, no post: NULL columns
	if err != nil {
		t.Fatal(err)
	}
	post, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: user, Body: "with media", MediaIDs: mediaIDs, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: user, Body: "bare"}) // zero times: NULL
	if err != nil {
		t.Fatal(err)
	}
	cm := domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: user, Body: "c", CreatedAt: now}
	n := &domain.Notification{ID: porttest.NewID(), UserID: user, Type: domain.NotificationComment, ActorID: user, PostID: post.ID, CommentID: cm.ID, CreatedAt: now}
	if _, err := s.CreateComment(ctx, cm, n); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotificationsRead(ctx, user, []string{n.ID}, false, now); err != nil {
		t.Fatal(err)
	}

	read := func() map[string]any {
		out := map[string]any{}
		get := func(name string, v any, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = v
		}
		v1, err := s.GetProfile(ctx, user)
		get("GetProfile", v1, err)
		v2, err := s.GetPost(ctx, post.ID)
		get("GetPost", v2, err)
		v3, err := s.GetPosts(ctx, []string{post.ID, bare.ID, "missing"})
		slices.SortFunc(v3, func(a, b domain.Post) int { return strings.Compare(a.ID, b.ID) })
		get("GetPosts", v3, err)
		v4, more, err := s.ListPosts(ctx, ports.PostQuery{AuthorID: user, Limit: 10})
		get("ListPosts", []any{v4, more}, err)
		v5, err := s.GetMediaBatch(ctx, append(slices.Clone(mediaIDs), pending.ID))
		slices.SortFunc(v5, func(a, b domain.Media) int { return strings.Compare(a.ID, b.ID) })
		get("GetMediaBatch", v5, err)
		v6, err := s.GetMedia(ctx, pending.ID)
		get("GetMedia", v6, err)
		v7, err := s.GetComment(ctx, cm.ID)
		get("GetComment", v7, err)
		v8, more, err := s.ListComments(ctx, post.ID, "", 10)
		get("ListComments", []any{v8, more}, err)
		v9, more, err := s.ListNotifications(ctx, user, "", 10)
		get("ListNotifications", []any{v9, more}, err)
		v10, more, err := s.ChangesSince(ctx, user, 0, 100)
		get("ChangesSince", []any{v10, more}, err)
		v11, err := s.FeedHorizon(ctx)
		get("FeedHorizon", v11, err)
		_, err = s.GetPost(ctx, "missing")
		out["GetPost missing"] = domain.ErrorCode(err)
		_, _, err = s.ListComments(ctx, "missing", "", 10)
		out["ListComments missing post"] = domain.ErrorCode(err)
		return out
	}
	defer setRawReads(true)()
	raw := read()
	setRawReads(false)
	viaSQL := read()
	for name, want := range viaSQL {
		if got := raw[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ndirect path  %+v\ndatabase/sql %+v", name, got, want)
		}
	}
	if raw["GetPost missing"] != domain.NotFound || raw["ListComments missing post"] != domain.NotFound {
		t.Errorf("missing rows: %v, %v; want NotFound", raw["GetPost missing"], raw["ListComments missing post"])
	}
}

// TestRawReadTimeoutAndCancel: a read on the direct path that the server
// does not answer in time ends at the context's deadline or cancellation
// with the context's error, and the pool stays usable.
func TestRawReadTimeoutAndCancel(t *testing.T) {
	defer setRawReads(true)()
	db := testOpenDB(t, testDatabase(t, false), DefaultConfig())
	slow := func(ctx context.Context) error {
		_, err := queryRows(ctx, db, scanString, "SELECT SLEEP(?)", 2)
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := slow(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow read past its deadline = %v, want context.DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel2)
	if err := slow(ctx2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled slow read = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the two interrupted reads took %v", took)
	}
	if domain.ErrorCode(translate(context.DeadlineExceeded, "")) != domain.Unavailable {
		t.Error("a timed-out read must be Unavailable")
	}
	for range 5 { // the broken connections are dropped, not reused
		got, err := queryOne(t.Context(), db, scanString, "SELECT ?", "ok")
		if err != nil || got != "ok" {
			t.Fatalf("read after the interrupted ones = %q, %v", got, err)
		}
	}
}

// TestRawReadFallsBackToPreparedStatements: with interpolateParams=false
// the driver cannot run a statement with arguments as text; reads then go
// through database/sql's prepared statements and still work.
func TestRawReadFallsBackToPreparedStatements(t *testing.T) {
	defer setRawReads(true)()
	db, counter := countingDB(t, testDatabase(t, false)+"?interpolateParams=false", DefaultConfig())
	s := NewFromDB(db, nil, Options{})
	ctx := t.Context()
	p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: porttest.NewID(), Body: "prepared"})
	if err != nil {
		t.Fatal(err)
	}
	var got domain.Post
	sent := counter.count(func() { got, err = s.GetPost(ctx, p.ID) })
	if err != nil || got.Body != "prepared" {
		t.Fatalf("GetPost = %+v, %v", got, err)
	}
	if len(sent) == 0 || !strings.HasPrefix(sent[0], "PREPARE ") {
		t.Errorf("statements sent: %v; want a prepared statement", summarize(sent))
	}
	// Without arguments nothing needs preparing: the direct path runs it.
	if h, err := s.FeedHorizon(ctx); err != nil || h != 0 {
		t.Errorf("FeedHorizon = %d, %v", h, err)
	}
}

// TestRawReadSurvivesKilledConnections: connections the server closed
// while they sat idle in the pool (a restart, wait_timeout, a proxy) are
// noticed and replaced; the read does not fail.
func TestRawReadSurvivesKilledConnections(t *testing.T) {
	defer setRawReads(true)()
	dsn := testDatabase(t, false)
	c := DefaultConfig()
	c.MaxOpenConns, c.MaxIdleConns = 2, 2
	s := NewFromDB(testOpenDB(t, dsn, c), nil, Options{})
	ctx := t.Context()
	p, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: porttest.NewID(), Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	admin := requireServer(t)
	for range 3 {
		if _, err := s.GetPost(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		ids, err := queryRows(ctx, admin, func(r rowScanner) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		}, "SELECT id FROM information_schema.PROCESSLIST WHERE db = ?", testDBName(t, dsn))
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			t.Fatal("the pool holds no connection to kill")
		}
		for _, id := range ids {
			if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // let the FIN arrive
		if got, err := s.GetPost(ctx, p.ID); err != nil || got.ID != p.ID {
			t.Fatalf("GetPost after its connections were killed = %+v, %v", got, err)
		}
	}
}

func TestRawAssign(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	var (
		s   string
		i64 int64
		i   int
		b   bool
		tm  time.Time
		ns  sql.NullString
		nt  sql.NullTime
		ni  sql.NullInt64
	)
	for _, c := range []struct {
		dest, val, want any
	}{
		{&s, []byte("héllo"), "héllo"}, {&s, "x", "x"}, {&s, int64(-7), "-7"}, {&s, uint64(7), "7"},
		{&i64, int64(math.MinInt64), int64(math.MinInt64)}, {&i64, uint64(42), int64(42)}, {&i64, []byte("-3"), int64(-3)},
		{&i, int64(12), 12},
		{&b, int64(1), true}, {&b, int64(0), false}, {&b, []byte("1"), true},
		{&tm, at, at},
		{&ns, []byte("v"), sql.NullString{String: "v", Valid: true}}, {&ns, nil, sql.NullString{}},
		{&nt, at, sql.NullTime{Time: at, Valid: true}}, {&nt, nil, sql.NullTime{}},
		{&ni, int64(5), sql.NullInt64{Int64: 5, Valid: true}}, {&ni, nil, sql.NullInt64{}},
	} {
		if err := rawAssign(c.dest, c.val); err != nil {
			t.Errorf("rawAssign(%T, %#v): %v", c.dest, c.val, err)
			continue
		}
		if got := reflect.ValueOf(c.dest).Elem().Interface(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("rawAssign(%T, %#v) = %#v, want %#v", c.dest, c.val, got, c.want)
		}
	}
	for _, c := range []struct {
		dest, val any
	}{
		{&s, nil}, {&i64, nil}, {&tm, nil}, {&b, nil}, // NULL into a plain type, as database/sql
		{&i64, uint64(math.MaxUint64)}, {&i64, []byte("x")}, {&b, int64(2)},
		{&tm, []byte("2024-01-01")}, {&s, at}, {new(float32), 1.5},
	} {
		if err := rawAssign(c.dest, c.val); err == nil {
			t.Errorf("rawAssign(%T, %#v) succeeded, want an error", c.dest, c.val)
		}
	}
	r := &rawRow{vals: []driver.Value{[]byte("a")}}
	var x, y string
	if err := r.Scan(&x, &y); err == nil {
		t.Error("Scan with more destinations than columns succeeded")
	}
}

func TestParseVariants(t *testing.T) {
	for in, want := range map[string][]string{
		`[]`:                         nil,
		`[ ]`:                        nil,
		`["thumb","small","medium"]`: {"thumb", "small", "medium"},
		`["thumb", "small"]`:         {"thumb", "small"}, // MySQL's JSON rendering
		`[""]`:                       {""},
		`["a,b","c"]`:                {"a,b", "c"}, // comma inside a name: encoding/json
		`["a\"b"]`:                   {`a"b`},      // escapes: encoding/json
		`["\u00e9t\u00e9"]`:          {"été"},      // escapes: encoding/json
		` ["x"] `:                    {"x"},        // not the written form: encoding/json
		`null`:                       nil,
	} {
		got, err := parseVariants(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseVariants(%s) = %#v, %v; want %#v", in, got, err, want)
		}
		if enc := variantsJSON(want); want != nil {
			if back, err := parseVariants(enc); err != nil || !reflect.DeepEqual(back, want) {
				t.Errorf("round trip of %#v through %s = %#v, %v", want, enc, back, err)
			}
		}
	}
	for _, in := range []string{``, `[`, `["a"`, `["a",]`, `[1]`, `{"a":1}`} {
		if got, err := parseVariants(in); err == nil {
			t.Errorf("parseVariants(%s) = %#v, want an error", in, got)
		}
	}
}

// TestOpCtx: a context that already ends before the query timeout is used
// as it is; any other gets the query timeout.
func TestOpCtx(t *testing.T) {
	s := NewFromDB(nil, nil, Options{QueryTimeout: time.Second})
	soon, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	ctx, done := s.opCtx(soon)
	done()
	if ctx != soon {
		t.Error("a context ending before the query timeout was wrapped")
	}
	if soon.Err() != nil {
		t.Error("the op's cancel func cancelled the caller's context")
	}
	for _, parent := range []context.Context{t.Context(), func() context.Context {
		c, cancel := context.WithTimeout(t.Context(), time.Hour)
		t.Cleanup(cancel)
		return c
	}()} {
		ctx, done := s.opCtx(parent)
		d, ok := ctx.Deadline()
		if !ok || time.Until(d) > time.Second {
			t.Errorf("op deadline %v (set %v), want within the 1s query timeout", d, ok)
		}
		done()
		if ctx.Err() == nil {
			t.Error("the op's cancel func did not end its context")
		}
	}
}

// TestPinSetFastPath: no pin, a live pin and an expired pin, through the
// lock-free check and the map.
func TestPinSetFastPath(t *testing.T) {
	p := newPinSet(50 * time.Millisecond)
	if p.any([]string{"a"}) {
		t.Error("pinned before any write")
	}
	p.pin("a")
	if !p.any([]string{"b", "a"}) || p.any([]string{"b"}) {
		t.Error("pin of a: want a pinned, b not")
	}
	time.Sleep(60 * time.Millisecond)
	if p.any([]string{"a"}) {
		t.Error("pin outlived its window")
	}
	p.pin("b")
	if !p.any([]string{"b"}) || p.any([]string{"a"}) {
		t.Error("second window: want b pinned, a not")
	}
}
