package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// faultProxy forwards TCP connections to the database and can cut them all
// (the database "stops") and let them through again (it "comes back"), or
// make the database die between doing and answering (dieAfterAnswering).
// With a delay it holds every chunk of bytes that long in each direction
// (a network's latency; chunks keep their order and do not slow each
// other down).
type faultProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	down   atomic.Bool
	// dieAfter, when set, is a client packet after which the database
	// "dies" the moment it answers: the answer is dropped and every
	// connection cut (see dieAfterAnswering).
	dieAfter atomic.Pointer[[]byte]
	mu       sync.Mutex
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

func newFaultProxy(tb testing.TB, target string, delay time.Duration) *faultProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	tb.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close() // like a server that resets every connection
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		var sent atomic.Bool // the client sent the dieAfter packet
		p.wg.Go(func() { p.pipe(up, c, true, &sent) })
		p.wg.Go(func() { p.pipe(c, up, false, &sent) })
	}
}

// pipe copies src to dst, each chunk written p.delay after it was read.
func (p *faultProxy) pipe(dst, src net.Conn, toServer bool, sent *atomic.Bool) {
	type chunk struct {
		data []byte
		at   time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		dst.Close()
		src.Close()
		for range q { // let the reader end
		}
	}()
	for c := range q {
		// Timers here are about a millisecond coarse (time.Sleep(250µs)
		// takes 1.1 ms): sleep only the part above that, spin the rest.
		if d := time.Until(c.at) - 2*time.Millisecond; d > 0 {
			time.Sleep(d)
		}
		for time.Now().Before(c.at) {
			runtime.Gosched()
		}
		if !toServer && sent.Load() {
			p.cut() // the server answered: it has done it; nobody hears
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
		if m := p.dieAfter.Load(); toServer && m != nil && bytes.Contains(c.data, *m) {
			sent.Store(true)
		}
	}
}

// dieAfterAnswering makes the database "die" right after it answers the
// next client packet that contains marker: the packet reaches the server
// (a COMMIT commits), its answer is dropped and every connection is cut,
// as when the server crashes between commit and reply. restore lets
// connections through again and disarms it.
func (p *faultProxy) dieAfterAnswering(marker []byte) { p.dieAfter.Store(&marker) }

// cut closes every open connection and refuses new ones until restore.
func (p *faultProxy) cut() {
	p.down.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *faultProxy) restore() {
	p.dieAfter.Store(nil)
	p.down.Store(false)
}

// proxiedDSN points dsn at addr.
func proxiedDSN(t *testing.T, dsn, addr string) string {
	t.Helper()
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	mc.Addr = addr
	return mc.FormatDSN()
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestUnavailableOnClosedPort: with nothing listening, every kind of call
// fails fast with Unavailable and a Retry-After hint. Fast means without
// waiting for a timeout: they are set to a minute and more, so a call that
// waits for one is told from one that does not by a factor of thousands,
// and a busy machine cannot make the test fail.
func TestUnavailableOnClosedPort(t *testing.T) {
	c := DefaultConfig()
	c.DSN = "app:secret@tcp(" + closedPort(t) + ")/cloudpost"
	c.DialTimeout, c.QueryTimeout = time.Minute, 10*time.Minute
	s, err := Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	calls := map[string]func() error{
		"Ping":    func() error { return s.Ping(ctx) },
		"GetPost": func() error { _, err := s.GetPost(ctx, porttest.NewID()); return err },
		"CreateProfile": func() error {
			_, err := s.CreateProfile(ctx, domain.Profile{ID: porttest.NewID(), Email: "x@example.com"})
			return err
		},
		"ChangesSince": func() error { _, _, err := s.ChangesSince(ctx, porttest.NewID(), 0, 10); return err },
		"Snapshot":     func() error { _, err := s.Snapshot(ctx, porttest.NewID()); return err },
	}
	for name, fn := range calls {
		start := time.Now()
		err := fn()
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("%s took %v against a closed port: it waited for a timeout", name, took)
		}
		if domain.ErrorCode(err) != domain.Unavailable || domain.RetryAfter(err) <= 0 {
			t.Errorf("%s = %v (code %q, retry after %v), want Unavailable with a hint", name, err, domain.ErrorCode(err), domain.RetryAfter(err))
		}
	}
}

// TestNoHangOnSilentServer: a server that accepts connections and never
// answers (a black-holed network) must not hang a request: the operation's
// timeout (300 ms) turns it into Unavailable, long before the dial timeout
// (a minute) would; the bound between them leaves a busy machine 29 s.
func TestNoHangOnSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accept, say nothing
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	c := DefaultConfig()
	c.DSN = "app:secret@tcp(" + ln.Addr().String() + ")/cloudpost"
	c.QueryTimeout = 300 * time.Millisecond
	c.DialTimeout = time.Minute // the dial succeeds; the handshake never comes
	s, err := Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = s.GetPost(t.Context(), porttest.NewID())
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("GetPost against a silent server took %v, not its 300 ms query timeout", took)
	}
	if domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("GetPost = %v, want Unavailable", err)
	}
}

// newProxiedStore returns a store over a fresh database reached through a
// fault proxy (1 s query timeout), closed at cleanup, and the database's
// direct DSN.
func newProxiedStore(t *testing.T) (*Store, *faultProxy, string) {
	t.Helper()
	dsn := testDatabase(t, false)
	mc, _ := mysql.ParseDSN(dsn)
	proxy := newFaultProxy(t, mc.Addr, 0)
	c := DefaultConfig()
	c.DSN = proxiedDSN(t, dsn, proxy.addr())
	c.QueryTimeout = time.Second
	s, err := Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, proxy, dsn
}

// TestDatabaseOutageAndRecovery stops the database (cuts every connection
// through a proxy) while writers create posts and comments: calls fail
// fast with Unavailable, the store recovers by itself when the database
// returns, and nothing half-written is ever visible: every comment has its
// post and notification, every count matches, every change in the feed
// names a row that exists. Each phase lasts until the writers have seen it
// (counted), not for a fixed time.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	s, proxy, dsn := newProxiedStore(t)
	ctx := t.Context()
	id := porttest.NewID()
	owner, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	post, err := s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: owner.ID, Body: "first"})
	if err != nil {
		t.Fatal(err)
	}

	var ok, unavailable atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				start := time.Now()
				if i%3 == 0 {
					_, err = s.CreatePost(ctx, domain.Post{ID: porttest.NewID(), AuthorID: owner.ID, Body: fmt.Sprintf("w%d", w)})
				} else {
					cm := domain.Comment{ID: porttest.NewID(), PostID: post.ID, AuthorID: owner.ID, Body: "c"}
					_, err = s.CreateComment(ctx, cm, owner.ID, &domain.Notification{ID: porttest.NewID(), UserID: owner.ID,
						Type: domain.NotificationComment, ActorID: owner.ID, PostID: post.ID, CommentID: cm.ID})
				}
				if took := time.Since(start); took > 30*time.Second { // the query timeout is 1 s
					t.Errorf("a write took %v during the outage", took)
				}
				switch domain.ErrorCode(err) {
				case "":
					ok.Add(1)
				case domain.Unavailable:
					unavailable.Add(1)
					time.Sleep(5 * time.Millisecond)
				default:
					t.Errorf("write: unexpected error %v", err)
				}
			}
		})
	}
	// until waits for cond, generously: only a hang fails it.
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("a minute without %s (ok %d, unavailable %d)", what, ok.Load(), unavailable.Load())
			}
		}
	}
	until("writes before the outage", func() bool { return ok.Load() >= 8 })
	proxy.cut()
	failedBefore := unavailable.Load()
	until("writes failing while the database is down", func() bool { return unavailable.Load() >= failedBefore+8 })
	if err := s.Ping(ctx); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("Ping while the database is down = %v, want Unavailable", err)
	}
	before := ok.Load()
	proxy.restore()
	// Recovery needs no restart: the pool reconnects.
	until("the store recovering", func() bool { return s.Ping(ctx) == nil })
	until("writes succeeding after the database came back", func() bool { return ok.Load() >= before+8 })
	close(stop)
	wg.Wait()
	if _, err := s.GetPost(ctx, post.ID); err != nil {
		t.Errorf("GetPost after recovery: %v", err)
	}

	db := testOpenDB(t, dsn, DefaultConfig())
	checkConsistent(t, db)
}

// checkConsistent fails on any trace of a half-written operation.
func checkConsistent(t *testing.T, db *sql.DB) {
	t.Helper()
	for what, q := range map[string]string{
		"posts whose count differs from their comments": "SELECT COUNT(*) FROM posts p WHERE p.comment_count <> (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id)",
		"posts whose media list differs from their media rows": "SELECT COUNT(*) FROM posts p WHERE p.media_ids <> " +
			"COALESCE((SELECT GROUP_CONCAT(m.id ORDER BY m.post_pos SEPARATOR ',') FROM media m WHERE m.post_id = p.id), '')",
		"comments without their post":         "SELECT COUNT(*) FROM comments c LEFT JOIN posts p ON p.id = c.post_id WHERE p.id IS NULL",
		"comments without their notification": "SELECT COUNT(*) FROM comments c LEFT JOIN notifications n ON n.comment_id = c.id WHERE n.id IS NULL",
		"notifications without their comment": "SELECT COUNT(*) FROM notifications n LEFT JOIN comments c ON c.id = n.comment_id WHERE c.id IS NULL",
		"posts without a feed change":         "SELECT COUNT(*) FROM posts p WHERE NOT EXISTS (SELECT 1 FROM feed_changes f WHERE f.entity = 'post' AND f.entity_id = p.id)",
		"comments without a feed change":      "SELECT COUNT(*) FROM comments c WHERE NOT EXISTS (SELECT 1 FROM feed_changes f WHERE f.entity = 'comment' AND f.entity_id = c.id)",
		"feed changes naming no row": "SELECT COUNT(*) FROM feed_changes f WHERE NOT f.deleted AND " +
			"NOT EXISTS (SELECT 1 FROM posts WHERE id = f.entity_id) AND NOT EXISTS (SELECT 1 FROM comments WHERE id = f.entity_id) AND " +
			"NOT EXISTS (SELECT 1 FROM notifications WHERE id = f.entity_id) AND NOT EXISTS (SELECT 1 FROM profiles WHERE id = f.entity_id)",
	} {
		if n := testCount(t, db, q); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
}

// TestDeadlockIsRetried provokes a real InnoDB deadlock between two
// transactions run through the store's transaction runner: the victim is
// rolled back, run again, and both succeed.
func TestDeadlockIsRetried(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	a, b := porttest.NewID(), porttest.NewID()
	for _, id := range []string{a, b} {
		if _, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	var attempts atomic.Int64
	var ready sync.WaitGroup
	ready.Add(2)
	var once [2]sync.Once
	lockBoth := func(i int, first, second string) error {
		return s.tx(ctx, "", func(tx querier, _ *feedBatch) error {
			attempts.Add(1)
			if _, err := tx.ExecContext(ctx, "UPDATE profiles SET bio = 'x' WHERE id = ?", first); err != nil {
				return err
			}
			once[i].Do(ready.Done)
			ready.Wait() // both hold their first lock: the second ones cross
			_, err := tx.ExecContext(ctx, "UPDATE profiles SET bio = 'y' WHERE id = ?", second)
			return err
		})
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = lockBoth(0, a, b) })
	wg.Go(func() { errs[1] = lockBoth(1, b, a) })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if attempts.Load() < 3 {
		t.Errorf("%d attempts: the deadlock victim was not run again", attempts.Load())
	}
}

// TestTranslate maps driver and server errors to domain codes.
func TestTranslate(t *testing.T) {
	refused := domain.Errorf(domain.Forbidden, "no")
	for _, c := range []struct {
		name string
		err  error
		want domain.Code
	}{
		{"duplicate key", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry 'x' for key 'PRIMARY'"}, domain.Conflict},
		{"deadlock after retries", &mysql.MySQLError{Number: 1213}, domain.Unavailable},
		{"lock wait timeout after retries", &mysql.MySQLError{Number: 1205}, domain.Unavailable},
		{"too many connections", &mysql.MySQLError{Number: 1040}, domain.Unavailable},
		{"read-only after failover", &mysql.MySQLError{Number: 1290}, domain.Unavailable},
		{"data too long", &mysql.MySQLError{Number: 1406}, domain.Invalid},
		{"syntax error", &mysql.MySQLError{Number: 1064}, domain.Internal},
		{"bad connection", mysql.ErrInvalidConn, domain.Unavailable},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, domain.Unavailable},
		{"deadline", context.DeadlineExceeded, domain.Unavailable},
		{"domain error", domain.Errorf(domain.NotFound, "post not found"), domain.NotFound},
		{"callback error", callbackError{refused}, domain.Forbidden},
		{"other", errors.New("boom"), domain.Internal},
	} {
		got := translate(c.err, "")
		if domain.ErrorCode(got) != c.want {
			t.Errorf("%s: code %q, want %q", c.name, domain.ErrorCode(got), c.want)
		}
		if c.want == domain.Unavailable && domain.RetryAfter(got) <= 0 {
			t.Errorf("%s: no Retry-After hint", c.name)
		}
	}
	if got := translate(callbackError{refused}, ""); got != refused {
		t.Errorf("a callback error came back as %v, not unchanged", got)
	}
	if got := duplicateKeyName(&mysql.MySQLError{Number: 1062, Message: "Duplicate entry 'a' for key 'profiles.profiles_email_key'"}); got != "profiles_email_key" {
		t.Errorf("duplicateKeyName (MySQL 8 form) = %q", got)
	}
}

// TestAPIAnswers503WhileTheDatabaseIsDown: through the HTTP stack, a
// database outage is a fast 503 with Retry-After, and the API works again
// once the database is back, without a restart.
func TestAPIAnswers503WhileTheDatabaseIsDown(t *testing.T) {
	s, proxy, _ := newProxiedStore(t)
	en := newAPIEnv(t, s)
	var post struct{ ID string }
	en.mustCall("POST", "/v1/posts", map[string]any{"body": "hello", "mediaIds": []string{}}, &post)

	proxy.cut()
	for _, path := range []string{"/v1/posts/" + post.ID, "/v1/sync", "/readyz"} {
		start := time.Now()
		res, err := en.call("GET", path, nil, nil)
		if res == nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if took := time.Since(start); took > 30*time.Second { // the query timeout is 1 s
			t.Errorf("GET %s took %v while the database was down", path, took)
		}
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s while the database is down: %d, Retry-After %q; want 503 with Retry-After", path, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	proxy.restore()
	var got struct{ ID string }
	deadline := time.Now().Add(time.Minute) // a hang, not a slow machine
	for {
		_, err := en.call("GET", "/v1/posts/"+post.ID, nil, &got)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API did not recover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.ID != post.ID {
		t.Errorf("after recovery GET returned %q", got.ID)
	}
}

// TestRetryAfterLostCommitAnswer: the database dies between committing a
// new post and answering (the client is told 503); the client's retry
// with the same Idempotency-Key gets the post that was committed, and
// exactly one post exists.
func TestRetryAfterLostCommitAnswer(t *testing.T) {
	s, proxy, dsn := newProxiedStore(t)
	en := newAPIEnv(t, s)
	key := map[string]string{"Idempotency-Key": "retry-" + porttest.NewID()}
	body := map[string]any{"body": "written once", "mediaIds": []string{}}
	proxy.dieAfterAnswering([]byte("\x03COMMIT"))
	res, err := en.callWith("POST", "/v1/posts", key, body, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: %v, %v; want 503 (the answer to COMMIT was lost)", res, err)
	}
	proxy.restore()
	direct := testOpenDB(t, dsn, DefaultConfig())
	if n := testCount(t, direct, "SELECT COUNT(*) FROM posts WHERE author_id = ? AND body = ?", en.userID, "written once"); n != 1 {
		t.Fatalf("%d posts after the lost answer, want 1 (committed)", n)
	}
	var first, again struct{ ID string }
	var err2 error
	// The store reconnects on its own; the first calls may still meet the
	// dead connections' errors.
	for attempt := 0; attempt < 20; attempt++ {
		if _, err2 = en.callWith("POST", "/v1/posts", key, body, &first); err2 == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatalf("retry: %v", err2)
	}
	if _, err := en.callWith("POST", "/v1/posts", key, body, &again); err != nil || again.ID != first.ID {
		t.Fatalf("second retry: %v, id %q, want %q", err, again.ID, first.ID)
	}
	var id string
	if err := direct.QueryRowContext(t.Context(), "SELECT id FROM posts WHERE author_id = ? AND body = ?", en.userID, "written once").Scan(&id); err != nil || id != first.ID {
		t.Fatalf("the retry answered post %q, the database has %q (%v)", first.ID, id, err)
	}
	if n := testCount(t, direct, "SELECT COUNT(*) FROM posts WHERE author_id = ?", en.userID); n != 1 {
		t.Errorf("%d posts after the retries, want exactly 1", n)
	}
}
