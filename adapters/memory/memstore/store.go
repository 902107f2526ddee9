package memstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Store is an in-memory ports.Storage. It is safe for concurrent use; the
// zero value is not usable, call New.
type Store struct {
	clock ports.Clock

	mu sync.RWMutex

	profiles       map[string]domain.Profile
	profileByEmail map[string]string // emailKey -> profile id

	posts         map[string]domain.Post
	postIDs       []string            // every post id, ascending
	postsByAuthor map[string][]string // author -> post ids, ascending

	comments         map[string]domain.Comment
	commentsByPost   map[string][]string // post -> comment ids, ascending
	commentsByAuthor map[string][]string // author -> comment ids, ascending

	media        map[string]domain.Media
	mediaByOwner map[string][]string // owner -> media ids, ascending
	inFlight     []string            // ids of pending or processing media, ascending

	notifications   map[string]domain.Notification
	notifsByUser    map[string][]string // recipient -> ids, ascending
	notifsByComment map[string][]string // comment -> ids, ascending

	// Push delivery (see outbox.go): one row per notification, and the
	// ids of the pending ones (what ClaimDeliveries scans).
	deliveries map[string]delivery
	pending    map[string]struct{}

	devices      map[string]map[string]domain.Device // user -> device id -> device
	deviceByAddr map[string]deviceKey                // Device.Address() -> its device

	settings    map[string]domain.NotificationSettings // user -> push settings
	mutesByUser map[string][]string                    // user -> muted post ids, ascending
	mutesByPost map[string][]string                    // post -> ids of the users who muted it, ascending

	feeds   map[string][]domain.Change // user -> changes, ascending Seq
	seq     int64                      // last Seq handed out (global)
	horizon int64                      // highest pruned Seq

	// Rate counters and token revocations have a lock of their own: they
	// are read and written on every request and share nothing with the
	// entities above (see limits.go).
	limitsMu sync.Mutex
	counters map[counterKey]*counter
	revoked  map[string]time.Time // user id -> tokens issued before are refused

	idem map[idemKey]domain.IdempotencyRecord // guarded by mu: writes check claims

	// One-time tokens share nothing with the rest either (see tokens.go).
	tokensMu sync.Mutex
	tokens   map[string]domain.OneTimeToken // hash -> token
}

var _ ports.Storage = (*Store)(nil)

// New returns an empty store that stamps feed changes with clock. A nil
// clock means the wall clock in UTC.
func New(clock ports.Clock) *Store {
	if clock == nil {
		clock = wallClock{}
	}
	return &Store{
		clock:            clock,
		profiles:         map[string]domain.Profile{},
		profileByEmail:   map[string]string{},
		posts:            map[string]domain.Post{},
		postsByAuthor:    map[string][]string{},
		comments:         map[string]domain.Comment{},
		commentsByPost:   map[string][]string{},
		commentsByAuthor: map[string][]string{},
		media:            map[string]domain.Media{},
		mediaByOwner:     map[string][]string{},
		notifications:    map[string]domain.Notification{},
		notifsByUser:     map[string][]string{},
		notifsByComment:  map[string][]string{},
		deliveries:       map[string]delivery{},
		pending:          map[string]struct{}{},
		devices:          map[string]map[string]domain.Device{},
		deviceByAddr:     map[string]deviceKey{},
		settings:         map[string]domain.NotificationSettings{},
		mutesByUser:      map[string][]string{},
		mutesByPost:      map[string][]string{},
		feeds:            map[string][]domain.Change{},
		counters:         map[counterKey]*counter{},
		revoked:          map[string]time.Time{},
		idem:             map[idemKey]domain.IdempotencyRecord{},
		tokens:           map[string]domain.OneTimeToken{},
	}
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// Ping always succeeds: the store lives in the process.
func (s *Store) Ping(context.Context) error { return nil }

// checkCtx turns a cancelled or expired context into Unavailable, like a
// database call would fail.
func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return domain.Wrap(err, domain.Unavailable, "request cancelled")
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

// validID reports whether id can be a stored id: 1 to 64 printable ASCII
// characters, as in the MySQL store (whose columns hold nothing else).
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

// emailKey is the uniqueness key of an email; MySQL's default collation
// compares case-insensitively, and so does the fake.
func emailKey(email string) string { return strings.ToLower(email) }

// --- deep copies -----------------------------------------------------------

func cloneIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	return slices.Clone(ids)
}

func clonePost(p domain.Post) domain.Post {
	p.MediaIDs = cloneIDs(p.MediaIDs)
	return p
}

func cloneMedia(m domain.Media) domain.Media {
	m.Variants = cloneIDs(m.Variants)
	return m
}

func cloneNotification(n domain.Notification) domain.Notification {
	if n.ReadAt != nil {
		at := *n.ReadAt
		n.ReadAt = &at
	}
	return n
}

func cloneDevice(d domain.Device) domain.Device {
	if d.Subscription != nil {
		sub := *d.Subscription
		d.Subscription = &sub
	}
	return d
}

func cloneSettings(s domain.NotificationSettings) domain.NotificationSettings {
	if len(s.PushOff) == 0 {
		s.PushOff = nil
	} else {
		s.PushOff = slices.Clone(s.PushOff)
	}
	if s.Quiet != nil {
		q := *s.Quiet
		s.Quiet = &q
	}
	return s
}

// --- sorted id indexes -----------------------------------------------------

func indexAdd(m map[string][]string, key, id string) { m[key] = insertID(m[key], id) }

func indexDrop(m map[string][]string, key, id string) {
	if ids := dropID(m[key], id); len(ids) == 0 {
		delete(m, key)
	} else {
		m[key] = ids
	}
}

// insertID adds id to the ascending slice ids unless present.
func insertID(ids []string, id string) []string {
	if i, found := slices.BinarySearch(ids, id); !found {
		return slices.Insert(ids, i, id)
	}
	return ids
}

// dropID removes id from the ascending slice ids if present.
func dropID(ids []string, id string) []string {
	if i, found := slices.BinarySearch(ids, id); found {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// newestBefore returns up to limit ids of the ascending slice ids that are
// < before (all when before is empty), newest first, and whether more follow.
func newestBefore(ids []string, before string, limit int) ([]string, bool) {
	end := len(ids)
	if before != "" {
		end, _ = slices.BinarySearch(ids, before)
	}
	start := max(end-limit, 0)
	page := slices.Clone(ids[start:end])
	slices.Reverse(page)
	return page, start > 0
}

// uniqueIDs drops repeated ids so batch reads return each entity once.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// --- change feed -----------------------------------------------------------

type feedKey struct {
	user    string
	entity  domain.EntityType
	id      string
	deleted bool
}

// feedBatch collects the changes of one write; commit appends them with
// consecutive Seqs. One write reports each (user, entity, id) once.
type feedBatch struct {
	keys []feedKey
	seen map[feedKey]bool
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

// commit appends the batch to the feeds. Callers hold s.mu for writing, so
// Seqs become visible in order and no reader can skip one.
func (s *Store) commit(b *feedBatch) {
	if len(b.keys) == 0 {
		return
	}
	at := s.clock.Now()
	for _, k := range b.keys {
		s.seq++
		s.feeds[k.user] = append(s.feeds[k.user], domain.Change{
			Seq: s.seq, UserID: k.user, Entity: k.entity, ID: k.id, Deleted: k.deleted, At: at,
		})
	}
}
