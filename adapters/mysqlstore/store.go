package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Store is the MySQL implementation of ports.Storage. It is safe for
// concurrent use. Create it with Open (from a Config) or NewFromDB (from
// pools the caller made); close it with Close.
type Store struct {
	writer *sql.DB
	// txs is the writer pool for transactions, its connections with
	// autocommit off (see runTx); nil: transactions begin with START
	// TRANSACTION on writer.
	txs *sql.DB
	// reader is the replica pool; == writer when there is none.
	reader  *sql.DB
	opts    Options
	pins    *pinSet // nil without a replica
	ownsDBs bool

	// Test hooks (export_test.go): beforeCommit runs inside every write
	// transaction after its feed changes are inserted; noFeedLock skips the
	// feed locks, to show that the concurrency test catches the race.
	beforeCommit func()
	noFeedLock   bool
}

var _ ports.Storage = (*Store)(nil)

// Options tune a Store made by NewFromDB.
type Options struct {
	// Clock stamps feed changes (nil: wall clock, UTC).
	Clock ports.Clock
	// QueryTimeout bounds each operation (0: 5s).
	QueryTimeout time.Duration
	// ReadYourWrites is how long reads touching what this process wrote go
	// to the writer (0 with a reader: 5s). Unused without a reader.
	ReadYourWrites time.Duration
	// Retries is how often a deadlocked transaction runs again (negative:
	// none; 0: 3).
	Retries int
	// Transactions is a second pool on the writer whose connections have
	// autocommit off (OpenDB with forTransactions): write transactions
	// then open implicitly with their first statement, one round trip
	// fewer than START TRANSACTION. Nil: transactions use the writer pool
	// and START TRANSACTION.
	Transactions *sql.DB
}

// Open builds the store of c: two writer pools (single statements, and
// transactions: see Options.Transactions) and, when c.ReaderDSN is set, a
// reader pool. It does no I/O (connections open on first use), so a
// database that is down shows up as Unavailable errors, not here. Returns
// an error for an invalid configuration.
func Open(c Config, clock ports.Clock) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	w, err := OpenDB(c, c.DSN, true)
	if err != nil {
		return nil, err
	}
	txs, err := openDB(c, c.DSN, true, true)
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	r := w
	if c.ReaderDSN != "" {
		if r, err = OpenDB(c, c.ReaderDSN, false); err != nil {
			_ = w.Close()
			_ = txs.Close()
			return nil, err
		}
	}
	s := NewFromDB(w, r, Options{Clock: clock, QueryTimeout: c.QueryTimeout, ReadYourWrites: c.ReadYourWrites, Retries: retriesOption(c.Retries), Transactions: txs})
	s.ownsDBs = true
	return s, nil
}

// retriesOption maps Config.Retries (0 means none) to Options.Retries
// (0 means the default).
func retriesOption(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// NewFromDB returns a store over existing pools: writes, transactions and
// sync reads use writer, other reads use reader (nil or == writer: no
// replica). The pools must come from OpenDB or be configured the same way
// (parseTime=true, loc=UTC). Close does not close them.
func NewFromDB(writer, reader *sql.DB, o Options) *Store {
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Second
	}
	switch {
	case o.Retries == 0:
		o.Retries = 3
	case o.Retries < 0:
		o.Retries = 0
	}
	s := &Store{writer: writer, txs: o.Transactions, reader: writer, opts: o}
	if reader != nil && reader != writer {
		if o.ReadYourWrites <= 0 {
			s.opts.ReadYourWrites = 5 * time.Second
		}
		s.reader = reader
		s.pins = newPinSet(s.opts.ReadYourWrites)
	}
	return s
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// Writer returns the writer pool (for migrations).
func (s *Store) Writer() *sql.DB { return s.writer }

// Close closes the pools Open made (not those given to NewFromDB).
func (s *Store) Close() error {
	if !s.ownsDBs {
		return nil
	}
	err := s.writer.Close()
	if s.txs != nil {
		err = errors.Join(err, s.txs.Close())
	}
	if s.reader != s.writer {
		err = errors.Join(err, s.reader.Close())
	}
	return err
}

// Ping checks that the writer and the reader answer. Returns Unavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.writer.PingContext(ctx); err != nil {
		return translate(err, "")
	}
	if s.reader != s.writer {
		if err := s.reader.PingContext(ctx); err != nil {
			return translate(err, "")
		}
	}
	return nil
}

// opCtx bounds one operation by the query timeout.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.QueryTimeout)
}

// now is the feed time of a write: the clock in UTC at microsecond
// precision (what DATETIME(6) keeps).
func (s *Store) now() time.Time { return dbTime(s.opts.Clock.Now()) }

// --- routing ---------------------------------------------------------------

// Keys of the read-your-writes pins.
func userKey(id string) string   { return "u:" + id }
func entityKey(id string) string { return "e:" + id }

// allPostsKey pins the unfiltered post list after any post write.
const allPostsKey = "posts"

// readDB picks the pool for a read that depends on keys: the writer when
// there is no replica or when this process wrote one of keys within the
// read-your-writes window, else the reader.
func (s *Store) readDB(keys ...string) *sql.DB {
	if s.pins == nil || s.pins.any(keys) {
		return s.writer
	}
	return s.reader
}

// pinSet remembers until when keys written by this process must be read
// from the writer.
type pinSet struct {
	window time.Duration
	mu     sync.Mutex
	until  map[string]time.Time
	sweep  time.Time
}

func newPinSet(window time.Duration) *pinSet {
	return &pinSet{window: window, until: map[string]time.Time{}}
}

func (p *pinSet) pin(keys ...string) {
	now := time.Now()
	until := now.Add(p.window)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.until[k] = until
	}
	// Drop expired pins now and then so the map stays as small as the
	// writes of one window.
	if now.After(p.sweep) {
		for k, u := range p.until {
			if now.After(u) {
				delete(p.until, k)
			}
		}
		p.sweep = now.Add(p.window)
	}
}

func (p *pinSet) any(keys []string) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		if u, ok := p.until[k]; ok && now.Before(u) {
			return true
		}
	}
	return false
}

// --- transactions ------------------------------------------------------------

// tx runs fn in a writer transaction and appends the feed changes fn
// recorded in b before committing. A deadlock or lock wait timeout reruns
// the whole transaction (fn included) up to Retries times with a short
// jittered back-off. When the rows fn folded into the feed reservation
// (feedBatch.update) were not all there, the transaction is rolled back
// and each update's diagnose says why (a domain error, returned); when
// none objects, the missing rows were feed heads: they are created and the
// transaction runs again. Errors of caller callbacks come back unchanged,
// the others translated (conflictMsg for duplicate keys). After the commit
// the keys fn touched are pinned to the writer for read-your-writes.
func (s *Store) tx(ctx context.Context, conflictMsg string, fn func(tx querier, b *feedBatch) error) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	headsMade := false
	for attempt := 0; ; attempt++ {
		b := &feedBatch{}
		err := s.runTx(ctx, func(tx querier) error {
			if err := fn(tx, b); err != nil {
				return err
			}
			return s.writeFeed(ctx, tx, b)
		})
		if err == nil {
			s.pinBatch(b)
			return nil
		}
		var short *shortReservation
		if errors.As(err, &short) {
			if err := short.diagnose(ctx, s.writer); err != nil {
				return translate(err, conflictMsg)
			}
			if !headsMade {
				headsMade = true
				if err := s.makeHeads(ctx, short.users); err != nil {
					return translate(err, conflictMsg)
				}
				attempt-- // not a retry: the first run could not succeed
				continue
			}
			if attempt >= s.opts.Retries {
				return domain.Errorf(domain.Conflict, "the data changed while it was written; try again")
			}
			continue
		}
		if !retryable(err) || attempt >= s.opts.Retries || ctx.Err() != nil {
			return translate(err, conflictMsg)
		}
		backoff := time.Duration(1<<attempt) * 5 * time.Millisecond
		backoff += rand.N(backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return translate(ctx.Err(), conflictMsg)
		}
	}
}

// makeHeads creates the missing feed head rows of users (position 0, as
// if they had none: the next reservation numbers from 1 either way).
func (s *Store) makeHeads(ctx context.Context, users []string) error {
	if s.noFeedLock {
		return nil
	}
	for chunk := range slices.Chunk(users, feedChunk) {
		if _, err := s.writer.ExecContext(ctx, "INSERT IGNORE INTO feed_heads (user_id, changes, pos) VALUES "+repeatJoin("(?, 0, 0)", len(chunk)), anys(chunk)...); err != nil {
			return err
		}
	}
	return nil
}

// runTx runs fn in one transaction: commit when it returns nil, rollback
// otherwise. On the transaction pool (autocommit off) fn's first
// statement opens the transaction; a connection whose COMMIT or ROLLBACK
// fails is discarded, and the server rolls back what it had not
// committed when the connection closes, so no connection goes back to
// the pool inside a transaction.
func (s *Store) runTx(ctx context.Context, fn func(tx querier) error) (err error) {
	if s.txs == nil {
		return s.runSQLTx(ctx, fn)
	}
	conn, err := s.txs.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	end := func(stmt string) error {
		// Detached from ctx: a cancelled request must still end the
		// transaction (or the connection must go).
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.QueryTimeout)
		defer cancel()
		_, err := conn.ExecContext(ectx, stmt)
		if err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = end("ROLLBACK")
			panic(p)
		}
	}()
	if err := fn(conn); err != nil {
		_ = end("ROLLBACK")
		return err
	}
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	return end("COMMIT")
}

// runSQLTx is runTx with START TRANSACTION on the writer pool.
func (s *Store) runSQLTx(ctx context.Context, fn func(tx querier) error) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	return tx.Commit()
}

// pinBatch pins what a committed write touched.
func (s *Store) pinBatch(b *feedBatch) {
	if s.pins == nil {
		return
	}
	keys := slices.Clone(b.pins)
	for _, c := range b.keys {
		keys = append(keys, userKey(c.user), entityKey(c.id))
		if c.entity == domain.EntityPost {
			keys = append(keys, allPostsKey)
		}
	}
	if len(keys) > 0 {
		s.pins.pin(keys...)
	}
}

// --- feed batch ----------------------------------------------------------------

type feedKey struct {
	user    string
	entity  domain.EntityType
	id      string
	deleted bool
}

// feedBatch collects the feed changes of one transaction (each (user,
// entity, id, deleted) once), the row updates folded into the
// reservation of their positions, and the extra keys to pin after the
// commit.
type feedBatch struct {
	keys         []feedKey
	seen         map[feedKey]bool
	pins         []string
	updates      []rowUpdate
	reserved     bool // reserve ran, with reservedKeys changes
	reservedKeys int
}

func (b *feedBatch) add(user string, entity domain.EntityType, id string, deleted bool) {
	k := feedKey{user, entity, id, deleted}
	if b.seen == nil {
		b.seen = map[feedKey]bool{}
	}
	if !b.seen[k] {
		b.seen[k] = true
		b.keys = append(b.keys, k)
	}
}

// pin adds keys to pin after the commit that the changes do not name.
func (b *feedBatch) pin(keys ...string) { b.pins = append(b.pins, keys...) }

// update folds u into the statement that reserves the batch's feed
// positions (see reserve).
func (b *feedBatch) update(u rowUpdate) { b.updates = append(b.updates, u) }

// users returns the batch's users in order and how many changes each gets.
func (b *feedBatch) users() ([]string, map[string]int64) {
	count := map[string]int64{}
	for _, k := range b.keys {
		count[k.user]++
	}
	return slices.Sorted(maps.Keys(count)), count
}

// rowUpdate is an UPDATE of rows of one table that a write needs anyway
// (a post's comment count, the media it attaches...), folded into the
// reservation of the feed positions: one multi-table statement instead of
// two round trips. The rows are read and locked before the feed heads.
type rowUpdate struct {
	table     string // table and alias: "posts p"
	set       string // assignments, may hold placeholders (setArgs)
	where     string // condition on the alias, may hold placeholders (whereArgs)
	setArgs   []any
	whereArgs []any
	// rows is how many rows the update changes when every row it names
	// is there (rows whose values stay the same do not count).
	rows int64
	// diagnose runs after a reservation changed fewer rows than expected,
	// outside the rolled-back transaction: the domain error that explains
	// it (NotFound, Forbidden...), or nil when this update's rows are
	// there (then the feed heads were missing).
	diagnose func(ctx context.Context, q querier) error
}

// shortReservation is the error of a reservation that changed fewer rows
// than its updates and heads expect; tx handles it.
type shortReservation struct {
	users   []string
	updates []rowUpdate
}

func (e *shortReservation) Error() string {
	return "mysqlstore: feed reservation changed fewer rows than expected"
}

// diagnose returns the first error an update's diagnose reports.
func (e *shortReservation) diagnose(ctx context.Context, q querier) error {
	for _, u := range e.updates {
		if u.diagnose != nil {
			if err := u.diagnose(ctx, q); err != nil {
				return err
			}
		}
	}
	return nil
}

// feedChunk bounds the rows of one multi-row statement.
const feedChunk = 500

// reserve locks the head row of every feed the batch touches (in user
// order, so two writers never wait on each other in a cycle) and advances
// the feed's position counter by the number of changes it adds. Without
// row updates it is an upsert (heads are created on first use); with
// them, one multi-table UPDATE: the updates' rows first (STRAIGHT_JOIN
// keeps that order, the one every write locks in: entities, then feed
// heads), then the heads, which must exist (if a row is missing the
// statement changes fewer rows and returns *shortReservation). A write
// whose entity rows must be locked before it inserts anything (a comment
// locks its post) calls reserve itself, after adding every change;
// writeFeed calls it otherwise.
func (s *Store) reserve(ctx context.Context, tx querier, b *feedBatch) error {
	if b.reserved {
		return nil
	}
	b.reserved, b.reservedKeys = true, len(b.keys)
	users, count := b.users()
	if len(b.updates) == 0 {
		if s.noFeedLock {
			return nil
		}
		for chunk := range slices.Chunk(users, feedChunk) {
			args := make([]any, 0, 4*len(chunk))
			for _, u := range chunk {
				args = append(args, u, count[u])
			}
			q := "INSERT INTO feed_heads (user_id, changes, pos) VALUES " + repeatJoin("(?, 1, ?)", len(chunk)) +
				" ON DUPLICATE KEY UPDATE changes = changes + 1, pos = pos + CASE user_id" + whenThen(chunk, count, &args) + " END"
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	}
	var tables, sets, wheres []string
	var setArgs, whereArgs []any
	var want int64
	for _, u := range b.updates {
		tables, sets, wheres = append(tables, u.table), append(sets, u.set), append(wheres, u.where)
		setArgs, whereArgs = append(setArgs, u.setArgs...), append(whereArgs, u.whereArgs...)
		want += u.rows
	}
	if !s.noFeedLock && len(users) > 0 {
		if len(users) > feedChunk {
			return errors.New("mysqlstore: too many feeds for one reservation with row updates")
		}
		tables = append(tables, "feed_heads h")
		sets = append(sets, "h.changes = h.changes + 1, h.pos = h.pos + CASE h.user_id"+whenThen(users, count, &setArgs)+" END")
		wheres = append(wheres, "h.user_id IN ("+placeholders(len(users))+")")
		whereArgs = append(whereArgs, anys(users)...)
		want += int64(len(users))
	}
	q := "UPDATE " + strings.Join(tables, " STRAIGHT_JOIN ") + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(wheres, " AND ")
	res, err := tx.ExecContext(ctx, q, append(setArgs, whereArgs...)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n < want {
		return &shortReservation{users: users, updates: b.updates}
	}
	return nil
}

// whenThen appends " WHEN ? THEN ?" for each user (its count) to the
// CASE being built, and the arguments to args.
func whenThen(users []string, count map[string]int64, args *[]any) string {
	for _, u := range users {
		*args = append(*args, u, count[u])
	}
	return strings.Repeat(" WHEN ? THEN ?", len(users))
}

// writeFeed appends the batch to the feeds: it reserves the positions
// (reserve, unless the write did already) and inserts the changes,
// numbered with the positions just reserved (read back from the locked
// head row in the same statement), whose AUTO_INCREMENT sequence numbers
// are therefore taken while the locks are held. The locks last until the
// transaction ends (see the package doc: this is what keeps a reader from
// passing a sequence number that commits later, and the positions are how
// a reader notices a committed change it cannot see yet).
func (s *Store) writeFeed(ctx context.Context, tx querier, b *feedBatch) error {
	if len(b.keys) == 0 && len(b.updates) == 0 {
		return nil
	}
	if b.reserved && b.reservedKeys != len(b.keys) {
		return errors.New("mysqlstore: feed changes added after their positions were reserved")
	}
	if err := s.reserve(ctx, tx, b); err != nil {
		return err
	}
	if len(b.keys) == 0 {
		return nil
	}
	_, count := b.users()
	// The k-th of a user's n changes (from 0) gets the head's new position
	// minus n-1-k: the user's changes are numbered in insertion order.
	value := "(?, ?, ?, ?, ?, (SELECT h.pos - ? FROM feed_heads h WHERE h.user_id = ?))"
	if s.noFeedLock {
		value = "(?, ?, ?, ?, ?, NULL)"
	}
	at := s.now()
	left := maps.Clone(count)
	for chunk := range slices.Chunk(b.keys, feedChunk) {
		args := make([]any, 0, 7*len(chunk))
		for _, k := range chunk {
			left[k.user]--
			args = append(args, k.user, string(k.entity), k.id, k.deleted, at)
			if !s.noFeedLock {
				args = append(args, left[k.user], k.user)
			}
		}
		q := "INSERT INTO feed_changes (user_id, entity, entity_id, deleted, at, pos) VALUES " + repeatJoin(value, len(chunk))
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// --- SQL helpers ---------------------------------------------------------------

// repeatJoin returns n copies of s joined by ", ".
func repeatJoin(s string, n int) string {
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n * (len(s) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// placeholders returns "?, ?, ..." for n arguments.
func placeholders(n int) string { return repeatJoin("?", n) }

// anys converts strings to query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// inChunk bounds the ids of one IN (...) list.
const inChunk = 500

// dbTime is t as stored: UTC at microsecond precision.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nullTime is the argument for a nullable DATETIME(6): NULL for the zero
// time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(t)
}

// fromNull returns the time of a nullable column (zero for NULL).
func fromNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// validID reports whether id can be a stored id: 1 to 64 printable ASCII
// characters (the column type). Other ids cannot exist.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// validIDs returns the distinct valid ids among ids, in order.
func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if validID(id) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// checkNewID returns Invalid for an id that cannot be stored.
func checkNewID(what, id string) error {
	if !validID(id) {
		return domain.Errorf(domain.Invalid, "%s id must be 1 to 64 printable ASCII characters", what)
	}
	return nil
}

// checkLimit enforces the 1..MaxPageLimit page size of the list methods.
func checkLimit(limit int) error {
	if limit < 1 || limit > domain.MaxPageLimit {
		return domain.Errorf(domain.Invalid, "limit must be between 1 and %d", domain.MaxPageLimit)
	}
	return nil
}

// queryRows runs a query and collects its rows with scan.
func queryRows[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryIn runs query once per chunk of ids, replacing the single "(IN)"
// marker in it with the chunk's placeholders; args go before the ids.
func queryIn[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, scan func(*sql.Rows) (T, error), query string, args []any, ids []string) ([]T, error) {
	var out []T
	for chunk := range slices.Chunk(ids, inChunk) {
		qs := strings.Replace(query, "(IN)", "("+placeholders(len(chunk))+")", 1)
		page, err := queryRows(ctx, q, scan, qs, append(slices.Clone(args), anys(chunk)...)...)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// execIn runs a statement once per chunk of ids like queryIn.
func execIn(ctx context.Context, tx querier, query string, args []any, ids []string) error {
	for chunk := range slices.Chunk(ids, inChunk) {
		qs := strings.Replace(query, "(IN)", "("+placeholders(len(chunk))+")", 1)
		if _, err := tx.ExecContext(ctx, qs, append(slices.Clone(args), anys(chunk)...)...); err != nil {
			return err
		}
	}
	return nil
}

// scanString reads a one-column string row.
func scanString(r *sql.Rows) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}
