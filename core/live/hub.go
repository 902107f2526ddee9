// Package live feeds the notification streams a server holds open. A Hub
// is one per process: it hears of notifications written by this process
// at once (Publish), and polls storage for everyone's notifications
// written by other instances (one query per poll for all connected users,
// whatever their number up to 1000 per query), then fans them out to the
// subscriptions of their recipients, with the recipient's unread count.
//
// The hub may drop nothing silently: a subscriber that does not keep up is
// ended (Done closes, Lagged reports it) and reconnects with its last
// event id, which the stream replays from storage.
package live

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Defaults of Config.
const (
	DefaultPollInterval = 500 * time.Millisecond
	DefaultLookback     = 10 * time.Second
	DefaultRecount      = 20 * time.Second
	DefaultBuffer       = 64
	DefaultMaxPerUser   = 10
	maxUsersPerQuery    = 1000
	pollLimit           = 1000
)

// Config tunes a Hub; zero fields take the defaults.
type Config struct {
	// PollInterval is how often storage is read for other instances'
	// notifications while someone is connected.
	PollInterval time.Duration
	// Lookback is how far before the previous poll a poll reads again: a
	// notification is stamped when its comment is made and becomes visible
	// when it commits, a little later.
	Lookback time.Duration
	// Recount is how often unread counts are read again for everyone
	// connected (marks made on other instances).
	Recount time.Duration
	// Buffer is how many events a subscription holds for a slow reader
	// before it is ended.
	Buffer int
	// MaxPerUser bounds the streams one user holds open on this process.
	MaxPerUser int
}

// Event is one thing to send on a stream: a notification, or the unread
// count (Notification nil).
type Event struct {
	Notification *domain.Notification
	Unread       int
}

// Subscription is one open stream of a user.
type Subscription struct {
	UserID string
	// C delivers the events.
	C      <-chan Event
	c      chan Event
	done   chan struct{}
	once   sync.Once
	lagged bool
	hub    *Hub
}

// Done is closed when the hub ends the subscription (shutdown, or the
// reader fell behind).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Lagged reports whether the subscription was ended because its reader
// fell behind.
func (s *Subscription) Lagged() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lagged
}

// Close unsubscribes. Safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	s.hub.remove(s)
	s.hub.mu.Unlock()
	s.end()
}

func (s *Subscription) end() { s.once.Do(func() { close(s.done) }) }

// Hub fans notifications out to subscriptions.
type Hub struct {
	store ports.Storage
	clock ports.Clock
	log   *slog.Logger
	cfg   Config

	mu       sync.Mutex
	subs     map[string]map[*Subscription]struct{}
	recent   map[string]time.Time // notification ids fanned out, by CreatedAt
	sent     map[string]int       // last unread count sent per connected user
	stale    map[string]bool      // users whose count is read again next poll
	since    time.Time            // the next poll reads from here
	closed   bool
	wakePoll chan struct{}
}

// New returns a hub. log may be nil.
func New(store ports.Storage, clock ports.Clock, log *slog.Logger, cfg Config) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = DefaultLookback
	}
	if cfg.Recount <= 0 {
		cfg.Recount = DefaultRecount
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = DefaultMaxPerUser
	}
	return &Hub{
		store: store, clock: clock, log: log, cfg: cfg,
		subs: map[string]map[*Subscription]struct{}{}, recent: map[string]time.Time{}, sent: map[string]int{}, stale: map[string]bool{},
		wakePoll: make(chan struct{}, 1),
	}
}

// Subscribe opens a subscription for userID. After Close (shutdown) it
// returns a subscription that is already done. Returns TooManyRequests
// when the user already holds MaxPerUser streams here.
func (h *Hub) Subscribe(userID string) (*Subscription, error) {
	c := make(chan Event, h.cfg.Buffer)
	s := &Subscription{UserID: userID, C: c, c: c, done: make(chan struct{}), hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.end()
		return s, nil
	}
	if len(h.subs[userID]) >= h.cfg.MaxPerUser {
		return nil, &domain.Error{Code: domain.TooManyRequests, Message: "too many open notification streams for this user: close one", RetryAfter: 10 * time.Second}
	}
	if len(h.subs) == 0 {
		// The first subscriber: polls start from now (minus the lookback).
		h.since = h.clock.Now()
	}
	m := h.subs[userID]
	if m == nil {
		m = map[*Subscription]struct{}{}
		h.subs[userID] = m
	}
	m[s] = struct{}{}
	// The next poll, at once, sends the count to the new subscriber.
	delete(h.sent, userID)
	h.stale[userID] = true
	select {
	case h.wakePoll <- struct{}{}:
	default:
	}
	return s, nil
}

// remove drops s; h.mu must be held.
func (h *Hub) remove(s *Subscription) {
	m := h.subs[s.UserID]
	delete(m, s)
	if len(m) == 0 {
		delete(h.subs, s.UserID)
		delete(h.sent, s.UserID)
		delete(h.stale, s.UserID)
	}
}

// Connected returns the number of open subscriptions.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// Close ends every subscription and refuses new ones: what a server does
// when it shuts down, so that open streams do not hold it up.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range h.subs {
		for s := range m {
			s.end()
		}
	}
	h.subs = map[string]map[*Subscription]struct{}{}
}

// Publish hands the hub a notification this process just committed, so
// its recipient's streams get it without waiting for a poll.
func (h *Hub) Publish(n domain.Notification) {
	h.mu.Lock()
	_, connected := h.subs[n.UserID]
	h.mu.Unlock()
	if connected {
		h.fanOut([]domain.Notification{n})
		select {
		case h.wakePoll <- struct{}{}:
		default:
		}
	}
}

// UnreadChanged tells the hub that userID's unread count may have changed
// (marked read here): the next poll sends the new count.
func (h *Hub) UnreadChanged(userID string) {
	h.mu.Lock()
	if _, ok := h.subs[userID]; ok {
		h.stale[userID] = true
	}
	h.mu.Unlock()
	select {
	case h.wakePoll <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends. Polls cost nothing while no one is connected.
func (h *Hub) Run(ctx context.Context) {
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	recount := time.NewTicker(h.cfg.Recount)
	defer recount.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-h.wakePoll:
		case <-recount.C:
			h.mu.Lock()
			for u := range h.subs {
				h.stale[u] = true
			}
			h.mu.Unlock()
		}
		if err := h.Poll(ctx); err != nil && ctx.Err() == nil {
			h.log.WarnContext(ctx, "notification stream poll failed", "err", err)
		}
	}
}

// Poll reads the notifications of connected users written since the last
// poll (and Lookback before it) and fans out those not sent yet, then
// sends unread counts that changed. Returns the storage's errors.
func (h *Hub) Poll(ctx context.Context) error {
	h.mu.Lock()
	users := make([]string, 0, len(h.subs))
	for u := range h.subs {
		users = append(users, u)
	}
	since := h.since.Add(-h.cfg.Lookback)
	h.mu.Unlock()
	if len(users) == 0 {
		return nil
	}
	started := h.clock.Now()
	var found []domain.Notification
	for i := 0; i < len(users); i += maxUsersPerQuery {
		part := users[i:min(i+maxUsersPerQuery, len(users))]
		got, err := h.store.NotificationsSince(ctx, part, since, pollLimit)
		if err != nil {
			return err
		}
		if len(got) == pollLimit {
			h.log.WarnContext(ctx, "notification stream poll hit its limit: streams may miss live events (they are in the inbox)", "limit", pollLimit)
		}
		found = append(found, got...)
	}
	h.fanOut(found)
	h.mu.Lock()
	h.since = started
	for id, at := range h.recent {
		if at.Before(since.Add(-h.cfg.Lookback)) {
			delete(h.recent, id)
		}
	}
	h.mu.Unlock()
	return h.sendUnread(ctx)
}

// fanOut sends each notification not sent before to its recipient's
// subscriptions and marks the recipient's count for a refresh.
func (h *Hub) fanOut(list []domain.Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range list {
		n := list[i]
		if _, sent := h.recent[n.ID]; sent {
			continue
		}
		h.recent[n.ID] = n.CreatedAt
		for s := range h.subs[n.UserID] {
			h.deliver(s, Event{Notification: &n})
		}
		if _, ok := h.subs[n.UserID]; ok {
			h.stale[n.UserID] = true
		}
	}
}

// deliver queues ev on s, or ends s when its reader fell behind (it
// resumes from storage). h.mu must be held.
func (h *Hub) deliver(s *Subscription, ev Event) {
	select {
	case s.c <- ev:
	default:
		s.lagged = true
		h.remove(s)
		s.end()
	}
}

// sendUnread reads the counts marked for a refresh and sends those that
// changed.
func (h *Hub) sendUnread(ctx context.Context) error {
	h.mu.Lock()
	stale := make([]string, 0, len(h.stale))
	for u := range h.stale {
		stale = append(stale, u)
	}
	clear(h.stale)
	h.mu.Unlock()
	for i := 0; i < len(stale); i += maxUsersPerQuery {
		part := stale[i:min(i+maxUsersPerQuery, len(stale))]
		counts, err := h.store.CountUnread(ctx, part)
		if err != nil {
			h.mu.Lock()
			for _, u := range stale[i:] {
				h.stale[u] = true // read again next poll
			}
			h.mu.Unlock()
			return err
		}
		h.mu.Lock()
		for _, u := range part {
			subs, ok := h.subs[u]
			if !ok {
				continue
			}
			if prev, ok := h.sent[u]; ok && prev == counts[u] {
				continue
			}
			h.sent[u] = counts[u]
			for s := range subs {
				h.deliver(s, Event{Unread: counts[u]})
			}
		}
		h.mu.Unlock()
	}
	return nil
}
