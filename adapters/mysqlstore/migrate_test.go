package mysqlstore

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestMigrateUpDownStatus: the embedded migrations apply on an empty
// database, report their status, roll back to nothing and apply again.
func TestMigrateUpDownStatus(t *testing.T) {
	dsn := testDatabase(t, true)
	db := testOpenDB(t, dsn, DefaultConfig())
	ctx := t.Context()
	name := testDBName(t, dsn)
	tables := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('profiles','posts','comments','media','notifications','feed_changes','feed_heads','feed_meta')", name)
	}

	var out bytes.Buffer
	if err := Migrate(ctx, db, MigrateStatus, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "00001_schema.sql") || !strings.Contains(out.String(), "00004_limits.sql") || !strings.Contains(out.String(), "00005_push.sql") || !strings.Contains(out.String(), "00006_idempotency.sql") || !strings.Contains(out.String(), "pending") {
		t.Errorf("status before up:\n%s", out.String())
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateUp, &out); err != nil {
		t.Fatalf("up: %v\n%s", err, out.String())
	}
	if n := tables(); n != 8 {
		t.Errorf("after up: %d of 8 tables", n)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateUp, &out); err != nil || !strings.Contains(out.String(), "no pending migrations") {
		t.Errorf("second up: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateStatus, &out); err != nil || !strings.Contains(out.String(), "applied") {
		t.Errorf("status after up: %v\n%s", err, out.String())
	}
	// Down one step at a time: 00006 adds the idempotency_keys table,
	// 00005 the push tables and columns,
	// 00004 the rate counter and revocation tables, 00003 media columns, indexes and the media_admission table,
	// 00002 only columns.
	columns := func(names string) int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = ? AND column_name IN ("+names+")", name)
	}
	mediaIndexes := func() int {
		return testCount(t, db, "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'media' AND index_name IN ('media_owner_status', 'media_status')", name)
	}
	admission := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'media_admission'", name)
	}
	// 00004: the rate counter and token revocation tables, and the index
	// the counter prune walks.
	limits := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('rate_counters', 'token_revocations')", name)
	}
	pruneIndex := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'rate_counters' AND index_name = 'rate_counters_end' AND seq_in_index = 1 AND column_name = 'window_end'", name)
	}
	if c, i, a, l, p := columns("'etag', 'checksum'"), mediaIndexes(), admission(), limits(), pruneIndex(); c != 2 || i != 2 || a != 1 || l != 2 || p != 1 {
		t.Errorf("after up: %d etag/checksum columns, %d media indexes, %d admission tables, %d limit tables, %d prune indexes; want 2, 2, 1, 2 and 1", c, i, a, l, p)
	}
	// 00005: the push tables, the notifications' delivery columns and
	// their indexes.
	push := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('devices', 'notification_settings', 'post_mutes', 'one_time_tokens')", name)
	}
	pushColumns := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = 'notifications' AND column_name LIKE 'push\\_%'", name)
	}
	pushIndexes := func() int {
		return testCount(t, db, "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'notifications' AND index_name IN ('notifications_push_due', 'notifications_user_created', 'notifications_user_unread', 'notifications_user_post_push')", name)
	}
	if p, c, i := push(), pushColumns(), pushIndexes(); p != 4 || c != 5 || i != 4 {
		t.Errorf("after up: %d push tables, %d push columns, %d push indexes; want 4, 5 and 4", p, c, i)
	}
	// 00006: the idempotency_keys table and the index its prune walks.
	idem := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'idempotency_keys'", name)
	}
	idemIndex := func() int {
		return testCount(t, db, "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'idempotency_keys' AND index_name = 'idempotency_keys_created' AND seq_in_index = 1 AND column_name = 'created_at'", name)
	}
	if k, i := idem(), idemIndex(); k != 1 || i != 1 {
		t.Errorf("after up: %d idempotency tables, %d prune indexes; want 1 and 1", k, i)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if n, k, p := tables(), idem(), push(); n != 8 || k != 0 || p != 4 {
		t.Errorf("after one down: %d tables, %d idempotency tables, %d push tables; want 8, 0 and 4", n, k, p)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if n, p, c, i, l := tables(), push(), pushColumns(), pushIndexes(), limits(); n != 8 || p != 0 || c != 0 || i != 0 || l != 2 {
		t.Errorf("after two downs: %d tables, %d push tables, %d push columns, %d push indexes, %d limit tables; want 8, 0, 0, 0 and 2", n, p, c, i, l)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if n, a, l := tables(), admission(), limits(); n != 8 || a != 1 || l != 0 {
		t.Errorf("after three downs: %d tables, %d admission tables, %d limit tables; want 8, 1 and 0", n, a, l)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if n, c, i, a, pos := tables(), columns("'etag', 'checksum'"), mediaIndexes(), admission(), columns("'pos'"); n != 8 || c != 0 || i != 0 || a != 0 || pos != 2 {
		t.Errorf("after four downs: %d tables, %d etag/checksum columns, %d media indexes, %d admission tables, %d pos columns; want 8, 0, 0, 0 and 2", n, c, i, a, pos)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if n, cols := tables(), columns("'pos'"); n != 8 || cols != 0 {
		t.Errorf("after five downs: %d tables, %d pos columns; want 8 and 0", n, cols)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if n, l := tables(), limits(); n != 0 || l != 0 {
		t.Errorf("after down to nothing: %d tables and %d limit tables left", n, l)
	}
	out.Reset()
	if err := Migrate(ctx, db, MigrateDown, &out); err != nil || !strings.Contains(out.String(), "no migration to roll back") {
		t.Errorf("down with nothing applied: %v\n%s", err, out.String())
	}
	if err := Migrate(ctx, db, "sideways", &out); err == nil {
		t.Error("an unknown command was accepted")
	}

	// Instances starting together with CLOUDPOST_MIGRATE=auto: the table
	// lock lets one apply the migration; the others find nothing pending.
	var wg sync.WaitGroup
	applied := make([]int, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() { applied[i], errs[i] = MigrateUpIfPending(ctx, testOpenDB(t, dsn, DefaultConfig())) })
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		if errs[i] != nil {
			t.Errorf("concurrent migrate %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != 6 || tables() != 8 || admission() != 1 || limits() != 2 || push() != 4 || idem() != 1 {
		t.Errorf("concurrent migrations applied %d migrations in total and left %d tables, %d admission tables, %d limit tables, %d push tables and %d idempotency tables, want 6, 8, 1, 2, 4 and 1", total, tables(), admission(), limits(), push(), idem())
	}
}

// TestUTF8RoundTrip: emoji and other 4-byte characters, and bodies at the
// maximum length made of them, are stored and read back exactly.
func TestUTF8RoundTrip(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	fourByte := "😀🎉𝄞𠜎🏳️‍🌈"
	id := porttest.NewID()
	p, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com",
		DisplayName: strings.Repeat("😀", domain.MaxDisplayName), Bio: strings.Repeat("𠜎", domain.MaxBio)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetProfile(ctx, id)
	if err != nil || got.DisplayName != p.DisplayName || got.Bio != p.Bio {
		t.Errorf("profile text did not round-trip: %v", err)
	}
	body := strings.Repeat("🎉", domain.MaxPostBody-len([]rune(fourByte))) + fourByte
	if n := utf8.RuneCountInString(body); n != domain.MaxPostBody {
		t.Fatalf("test body has %d characters", n)
	}
	post, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: id, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetPost(ctx, post.ID); err != nil || got.Body != body {
		t.Errorf("a %d-character body of 4-byte characters did not round-trip (err %v)", domain.MaxPostBody, err)
	}
	cbody := strings.Repeat("𝄞", domain.MaxCommentBody)
	c, err := s.CreateComment(ctx, domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: id, Body: cbody}, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetComment(ctx, c.ID); err != nil || got.Body != cbody {
		t.Errorf("a maximum comment of 4-byte characters did not round-trip (err %v)", err)
	}
	// Emails compare case-insensitively.
	dup := porttest.NewID()
	if _, err := s.CreateProfile(ctx, domain.Profile{ID: dup, Email: strings.ToUpper(id) + "@EXAMPLE.COM"}); domain.ErrorCode(err) != domain.Conflict {
		t.Errorf("an email differing only in case: %v, want Conflict", err)
	}
}

// TestMigrateWithAOneConnectionPool: goose holds one connection and takes
// its lock on another, so a pool of one (a sane Lambda setting) would wait
// forever; the migration widens the pool while it runs.
func TestMigrateWithAOneConnectionPool(t *testing.T) {
	c := DefaultConfig()
	c.MaxOpenConns, c.MaxIdleConns = 1, 1
	db := testOpenDB(t, testDatabase(t, true), c)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, cmd := range []string{MigrateUp, MigrateStatus, MigrateDown} {
		if err := Migrate(ctx, db, cmd, io.Discard); err != nil {
			t.Fatalf("migrate %s with one connection: %v", cmd, err)
		}
	}
	if _, err := MigrateUpIfPending(ctx, db); err != nil {
		t.Fatalf("MigrateUpIfPending with one connection: %v", err)
	}
	if n := db.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("pool left at %d connections, want 1 again", n)
	}
}
