// Package delivery pushes stored notifications to their recipients'
// devices. The notification row, written in the comment's transaction, is
// the outbox: a Relay claims the rows that are due (ports.Outbox), sends
// one push per device through the push port of the device's platform,
// records the outcome and retries with backoff. Delivery is at least once:
// a relay that dies between sending and recording leaves the row due
// again when its lease ends, and the retried push carries the same
// collapse id, so the device shows it once.
//
// Several comments on one post within the coalescing window become one
// push ("Ana and 4 others commented on your post"); the inbox keeps every
// row. A device its push service declares gone is deleted.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Defaults of Config.
const (
	DefaultLease          = 30 * time.Second
	DefaultBatch          = 100
	DefaultMaxAttempts    = 8
	DefaultBackoff        = 5 * time.Second
	DefaultMaxBackoff     = time.Hour
	DefaultCoalesceWindow = time.Minute
	DefaultTTL            = 24 * time.Hour
	DefaultConcurrency    = 16
	// maxBatchesPerRun bounds one RunOnce so that a flood cannot hold a
	// caller (a Lambda invocation) past its deadline.
	maxBatchesPerRun = 50
	maxBodyRunes     = 140
)

// Config tunes a Relay. Zero fields take the defaults.
type Config struct {
	// Lease is how long a claimed notification stays hidden from other
	// relays: longer than one send takes, short enough that a dead relay's
	// claims come back soon.
	Lease time.Duration
	// Batch is how many notifications one claim takes.
	Batch int
	// MaxAttempts is how many failed attempts make the relay give up.
	MaxAttempts int
	// Backoff is the wait after the first failure; it doubles per attempt
	// up to MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration
	// CoalesceWindow: a push about a post waits until this long after the
	// previous push about the same post to the same user, and carries
	// everything that arrived meanwhile. Negative: no waiting (a claimed
	// batch still carries a post's due notifications in one push).
	CoalesceWindow time.Duration
	// TTL is how long a push service keeps a push for an offline device.
	TTL time.Duration
	// Concurrency is how many pushes of one batch are under way at once:
	// a push service answers in tens of milliseconds, a relay sending one
	// at a time would deliver a few dozen a second.
	Concurrency int
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Lease, DefaultLease)
	def(&c.Backoff, DefaultBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	switch {
	case c.CoalesceWindow == 0:
		c.CoalesceWindow = DefaultCoalesceWindow
	case c.CoalesceWindow < 0:
		c.CoalesceWindow = 0
	}
	def(&c.TTL, DefaultTTL)
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// Relay claims due notifications and pushes them.
type Relay struct {
	store    ports.Storage
	channels map[domain.Platform]ports.Push
	clock    ports.Clock
	log      *slog.Logger
	cfg      Config
}

// New returns a relay that sends through channels (one per platform; a
// platform without one makes its devices skipped). log may be nil.
func New(store ports.Storage, channels map[domain.Platform]ports.Push, clock ports.Clock, log *slog.Logger, cfg Config) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{store: store, channels: channels, clock: clock, log: log, cfg: cfg.withDefaults()}
}

// Stats counts what a run did, per notification.
type Stats struct {
	Claimed, Sent, Skipped, Deferred, Retried, Failed int
	// Pushes counts pushes accepted by push services; DevicesGone the
	// devices deleted because their service said they were gone.
	Pushes, DevicesGone int
}

func (s *Stats) add(o Stats) {
	s.Claimed += o.Claimed
	s.Sent += o.Sent
	s.Skipped += o.Skipped
	s.Deferred += o.Deferred
	s.Retried += o.Retried
	s.Failed += o.Failed
	s.Pushes += o.Pushes
	s.DevicesGone += o.DevicesGone
}

// RunOnce claims and delivers due notifications, batch after batch, until
// none is due (or a bounded number of batches ran: call it again). Returns
// the storage's errors (Unavailable); a failed push is an outcome, not an
// error.
func (r *Relay) RunOnce(ctx context.Context) (Stats, error) {
	var total Stats
	for range maxBatchesPerRun {
		claimed, err := r.store.ClaimDeliveries(ctx, r.clock.Now(), r.cfg.Lease, r.cfg.Batch)
		if err != nil {
			return total, err
		}
		if len(claimed) == 0 {
			return total, nil
		}
		st, err := r.deliver(ctx, claimed)
		total.add(st)
		if err != nil {
			return total, err
		}
		if len(claimed) < r.cfg.Batch {
			return total, nil
		}
	}
	return total, nil
}

// group is the claimed notifications of one user about one post, oldest
// first: one push.
type group struct {
	userID, postID string
	items          []domain.Delivery
}

// deliver settles one claimed batch.
func (r *Relay) deliver(ctx context.Context, claimed []domain.Delivery) (Stats, error) {
	st := Stats{Claimed: len(claimed)}
	var groups []*group
	index := map[[2]string]*group{}
	for _, d := range claimed {
		k := [2]string{d.Notification.UserID, d.Notification.PostID}
		g := index[k]
		if g == nil {
			g = &group{userID: k[0], postID: k[1]}
			index[k] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, d)
	}
	c := &batchCache{r: r, settings: map[string]domain.NotificationSettings{}, devices: map[string][]domain.Device{}, names: map[string]string{}}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		slots    = make(chan struct{}, r.cfg.Concurrency)
	)
	for _, g := range groups {
		sort.Slice(g.items, func(i, j int) bool { return g.items[i].Notification.ID < g.items[j].Notification.ID })
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			var gst Stats
			err := r.deliverGroup(ctx, c, g, &gst)
			mu.Lock()
			defer mu.Unlock()
			st.add(gst)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	return st, firstErr
}

// batchCache holds what several groups of one batch share; the groups
// run concurrently. Two groups may both read a value the cache lacks:
// harmless.
type batchCache struct {
	r        *Relay
	mu       sync.Mutex
	settings map[string]domain.NotificationSettings
	devices  map[string][]domain.Device
	names    map[string]string
}

// cached returns m[key], reading and keeping it with load when absent.
func cached[V any](c *batchCache, m map[string]V, key string, load func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err == nil {
		c.mu.Lock()
		m[key] = v
		c.mu.Unlock()
	}
	return v, err
}

func (c *batchCache) settingsOf(ctx context.Context, userID string) (domain.NotificationSettings, error) {
	return cached(c, c.settings, userID, func() (domain.NotificationSettings, error) {
		return c.r.store.GetNotificationSettings(ctx, userID)
	})
}

func (c *batchCache) devicesOf(ctx context.Context, userID string) ([]domain.Device, error) {
	return cached(c, c.devices, userID, func() ([]domain.Device, error) { return c.r.store.ListDevices(ctx, userID) })
}

// setDevices replaces the user's devices (after the dead ones went).
func (c *batchCache) setDevices(userID string, list []domain.Device) {
	c.mu.Lock()
	c.devices[userID] = list
	c.mu.Unlock()
}

// nameOf is the actor's display name; someone whose profile is gone is
// "Someone".
func (c *batchCache) nameOf(ctx context.Context, userID string) string {
	name, _ := cached(c, c.names, userID, func() (string, error) {
		if p, err := c.r.store.GetProfile(ctx, userID); err == nil && p.DisplayName != "" {
			return p.DisplayName, nil
		}
		return "Someone", nil
	})
	return name
}

// deliverGroup decides, sends and records one group. It returns only
// storage errors that stop the batch; claims it could not settle come
// back when their lease ends.
func (r *Relay) deliverGroup(ctx context.Context, c *batchCache, g *group, st *Stats) error {
	now := r.clock.Now()
	settings, err := c.settingsOf(ctx, g.userID)
	if err != nil {
		return err
	}
	// What the recipient does not want pushed is settled at once.
	var live []domain.Delivery
	for _, d := range g.items {
		n := d.Notification
		if n.ReadAt != nil || !settings.PushEnabled(n.Type) {
			r.record(ctx, d, domain.DeliveryOutcome{State: domain.DeliverySkipped, At: now}, st)
			continue
		}
		live = append(live, d)
	}
	if len(live) == 0 {
		return nil
	}
	if g.postID != "" {
		muted, err := r.store.IsPostMuted(ctx, g.userID, g.postID)
		if err != nil {
			return err
		}
		if muted {
			r.recordAll(ctx, live, domain.DeliveryOutcome{State: domain.DeliverySkipped, At: now}, st)
			return nil
		}
	}
	if until := settings.Quiet.QuietUntil(now); !until.IsZero() {
		r.recordAll(ctx, live, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: until, Deferred: true, At: now}, st)
		return nil
	}
	if g.postID != "" && r.cfg.CoalesceWindow > 0 {
		last, err := r.store.LastPushAt(ctx, g.userID, g.postID)
		if err != nil {
			return err
		}
		if next := last.Add(r.cfg.CoalesceWindow); !last.IsZero() && now.Before(next) {
			r.recordAll(ctx, live, domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: next, Deferred: true, At: now}, st)
			return nil
		}
	}
	devices, err := c.devicesOf(ctx, g.userID)
	if err != nil {
		return err
	}
	if len(devices) == 0 {
		r.recordAll(ctx, live, domain.DeliveryOutcome{State: domain.DeliverySkipped, At: now}, st)
		return nil
	}
	msg, err := r.message(ctx, c, g.userID, live)
	if err != nil {
		return err
	}
	res := r.send(ctx, c, g.userID, devices, msg, st)
	now = r.clock.Now()
	switch {
	case res.failed == 0 && res.sent > 0:
		r.recordAll(ctx, live, domain.DeliveryOutcome{State: domain.DeliverySent, At: now}, st)
	case res.failed == 0:
		// Every device was gone or had no channel.
		r.recordAll(ctx, live, domain.DeliveryOutcome{State: domain.DeliverySkipped, At: now, Error: res.lastErr}, st)
	default:
		// Retry the whole push: devices that got it already collapse the
		// repeat (same collapse id).
		for _, d := range live {
			o := domain.DeliveryOutcome{State: domain.DeliveryFailed, At: now, Error: res.lastErr}
			if d.Attempt < r.cfg.MaxAttempts {
				o = domain.DeliveryOutcome{State: domain.DeliveryPending, NextAttemptAt: now.Add(r.backoff(d.Attempt, res.retryAfter)), At: now, Error: res.lastErr}
			}
			r.record(ctx, d, o, st)
		}
	}
	return nil
}

type sendResult struct {
	sent, failed int
	retryAfter   time.Duration
	lastErr      string
}

// send pushes msg to every device of the user.
func (r *Relay) send(ctx context.Context, c *batchCache, userID string, devices []domain.Device, msg domain.PushMessage, st *Stats) sendResult {
	var res sendResult
	var keep []domain.Device
	for _, d := range devices {
		ch := r.channels[d.Platform]
		if ch == nil {
			keep = append(keep, d)
			continue
		}
		err := ch.Send(ctx, d, msg)
		switch {
		case err == nil:
			res.sent++
			st.Pushes++
			keep = append(keep, d)
		case domain.IsCode(err, domain.NotFound):
			removed, derr := r.store.DeleteDeadDevice(ctx, d)
			switch {
			case derr != nil:
				r.log.WarnContext(ctx, "dead device not deleted", "deviceId", d.ID, "userId", userID, "err", derr)
				keep = append(keep, d)
			case removed: // another group of the batch may have been first
				st.DevicesGone++
				r.log.InfoContext(ctx, "device gone: deleted", "deviceId", d.ID, "userId", userID, "platform", string(d.Platform))
			}
		case domain.IsCode(err, domain.Invalid):
			// The service refused this message for this device: a retry
			// would be refused too.
			keep = append(keep, d)
			res.lastErr = truncate(err.Error())
			r.log.WarnContext(ctx, "push refused", "deviceId", d.ID, "userId", userID, "err", err)
		default:
			keep = append(keep, d)
			res.failed++
			res.lastErr = truncate(err.Error())
			res.retryAfter = max(res.retryAfter, domain.RetryAfter(err))
			r.log.WarnContext(ctx, "push failed", "deviceId", d.ID, "userId", userID, "err", err)
		}
	}
	c.setDevices(userID, keep)
	return res
}

// message builds the push of a group: the newest notification is the
// collapse id; one comment shows its text, several say how many people.
func (r *Relay) message(ctx context.Context, c *batchCache, userID string, items []domain.Delivery) (domain.PushMessage, error) {
	newest := items[len(items)-1].Notification
	m := domain.PushMessage{CollapseID: newest.ID, Type: newest.Type, PostID: newest.PostID, TTL: r.cfg.TTL}
	var actors []string
	seen := map[string]bool{}
	for i := len(items) - 1; i >= 0; i-- {
		n := items[i].Notification
		m.NotificationIDs = append([]string{n.ID}, m.NotificationIDs...)
		if !seen[n.ActorID] {
			seen[n.ActorID] = true
			actors = append(actors, n.ActorID)
		}
	}
	first := c.nameOf(ctx, actors[0])
	switch {
	case len(items) == 1:
		m.Title = first + " commented on your post"
		if cm, err := r.store.GetComment(ctx, newest.CommentID); err == nil {
			m.Body = truncateRunes(cm.Body, maxBodyRunes)
		}
	case len(actors) == 1:
		m.Title = fmt.Sprintf("%s left %d comments on your post", first, len(items))
	case len(actors) == 2:
		m.Title = fmt.Sprintf("%s and %s commented on your post", first, c.nameOf(ctx, actors[1]))
	default:
		m.Title = fmt.Sprintf("%s and %d others commented on your post", first, len(actors)-1)
	}
	counts, err := r.store.CountUnread(ctx, []string{userID})
	if err != nil {
		return m, err
	}
	m.Unread = counts[userID]
	return m, nil
}

func (r *Relay) recordAll(ctx context.Context, items []domain.Delivery, o domain.DeliveryOutcome, st *Stats) {
	for _, d := range items {
		r.record(ctx, d, o, st)
	}
}

// record settles one claim. A failure to record leaves the claim to come
// back when its lease ends (at least once), so it is logged, not returned.
func (r *Relay) record(ctx context.Context, d domain.Delivery, o domain.DeliveryOutcome, st *Stats) {
	if err := r.store.RecordDelivery(ctx, d.Notification.ID, d.Attempt, o); err != nil {
		r.log.WarnContext(ctx, "delivery outcome not recorded: the notification comes back when its lease ends", "notificationId", d.Notification.ID, "err", err)
		return
	}
	switch {
	case o.State == domain.DeliverySent:
		st.Sent++
	case o.State == domain.DeliverySkipped:
		st.Skipped++
	case o.State == domain.DeliveryFailed:
		st.Failed++
		r.log.WarnContext(ctx, "push given up", "notificationId", d.Notification.ID, "attempts", d.Attempt, "err", o.Error)
	case o.Deferred:
		st.Deferred++
	default:
		st.Retried++
	}
}

// backoff is the wait after failed attempt n (1-based): Backoff doubled
// per attempt up to MaxBackoff, with up to 20% jitter so that retries of a
// burst spread out, and never shorter than the service's retry hint.
func (r *Relay) backoff(n int, hint time.Duration) time.Duration {
	d := r.cfg.Backoff
	for i := 1; i < n && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.cfg.MaxBackoff)
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	return max(d, hint)
}

func truncate(s string) string { return truncateRunes(s, 200) }

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
