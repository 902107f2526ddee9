package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.Outbox = (*Store)(nil)

// maxClaim bounds the limit of ClaimDeliveries.
const maxClaim = 1000

// delivery is the push side of one notification: its outbox entry.
type delivery struct {
	state    domain.DeliveryState
	attempts int
	// next is when a pending notification is due (a claim moves it to the
	// end of its lease); zero once final.
	next time.Time
	// doneAt is when it became final (for sent ones: when it was pushed).
	doneAt time.Time
	// err is the last failure, for operators.
	err string
}

// addDeliveryLocked makes the outbox entry of a new notification: pending,
// due at its CreatedAt (the store's clock when it has none). Callers hold
// s.mu for writing.
func (s *Store) addDeliveryLocked(n domain.Notification) {
	due := n.CreatedAt
	if due.IsZero() {
		due = s.clock.Now()
	}
	s.deliveries[n.ID] = delivery{state: domain.DeliveryPending, next: due}
	s.pending[n.ID] = struct{}{}
}

// dropDeliveryLocked removes the outbox entry of a deleted notification.
// Callers hold s.mu for writing.
func (s *Store) dropDeliveryLocked(id string) {
	delete(s.deliveries, id)
	delete(s.pending, id)
}

// ClaimDeliveries takes up to limit pending notifications due at now (next
// attempt <= now), earliest due first (then by id), counts an attempt on
// each and moves its next attempt to now+lease, which hides it from every
// claimer until then; it returns them with their attempt numbers. Claims
// are serialised by the store lock, so concurrent claimers never get the
// same notification while its lease holds. Returns Invalid for a limit
// outside 1..1000 or a lease under one second, Unavailable for a
// cancelled context.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]domain.Delivery, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if limit < 1 || limit > maxClaim {
		return nil, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxClaim)
	}
	if lease < time.Second {
		return nil, domain.Errorf(domain.Invalid, "the lease must be at least one second")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []string
	for id := range s.pending {
		if !s.deliveries[id].next.After(now) {
			due = append(due, id)
		}
	}
	slices.SortFunc(due, func(a, b string) int {
		if c := s.deliveries[a].next.Compare(s.deliveries[b].next); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	due = due[:min(len(due), limit)]
	until := now.Add(lease)
	out := make([]domain.Delivery, len(due))
	for i, id := range due {
		d := s.deliveries[id]
		d.attempts++
		d.next = until
		s.deliveries[id] = d
		out[i] = domain.Delivery{Notification: cloneNotification(s.notifications[id]), Attempt: d.attempts}
	}
	return out, nil
}

// RecordDelivery settles the claim numbered attempt of notification id
// with o. Only the latest claim of a pending notification counts: a stale
// attempt number, an unknown id or a notification already final is left
// alone without an error. A final state (sent, skipped, failed) records
// o.At as when it was done (what LastPushAt reads for sent ones) and
// clears the due time; pending makes the notification due at
// o.NextAttemptAt (o.At, or the store's clock, when that is zero) and,
// when o.Deferred, gives the attempt back. o.Error, when not empty,
// replaces the last error. Returns Invalid for an unknown state,
// Unavailable for a cancelled context.
func (s *Store) RecordDelivery(ctx context.Context, id string, attempt int, o domain.DeliveryOutcome) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	switch o.State {
	case domain.DeliveryPending, domain.DeliverySent, domain.DeliverySkipped, domain.DeliveryFailed:
	default:
		return domain.Errorf(domain.Invalid, "unknown delivery state %q", o.State)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok || d.state != domain.DeliveryPending || d.attempts != attempt {
		return nil
	}
	if o.Error != "" {
		d.err = o.Error
	}
	if o.State == domain.DeliveryPending {
		d.next = o.NextAttemptAt
		if d.next.IsZero() {
			d.next = o.At
		}
		if d.next.IsZero() {
			d.next = s.clock.Now()
		}
		if o.Deferred {
			d.attempts = max(d.attempts-1, 0)
		}
	} else {
		d.state, d.doneAt, d.next = o.State, o.At, time.Time{}
		delete(s.pending, id)
	}
	s.deliveries[id] = d
	return nil
}

// LastPushAt returns when a push about postID last went to userID: the
// latest time recorded for the user's sent notifications on the post, the
// zero time when none. Returns Unavailable for a cancelled context.
func (s *Store) LastPushAt(ctx context.Context, userID, postID string) (time.Time, error) {
	if err := checkCtx(ctx); err != nil {
		return time.Time{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var last time.Time
	for _, id := range s.notifsByUser[userID] {
		if s.notifications[id].PostID != postID {
			continue
		}
		if d := s.deliveries[id]; d.state == domain.DeliverySent && d.doneAt.After(last) {
			last = d.doneAt
		}
	}
	return last, nil
}

// DeliveryState returns the push state of the user's notification, the
// attempts counted and when it is due next (the zero time once final).
// Returns NotFound for an unknown id or another user's notification,
// Unavailable for a cancelled context.
func (s *Store) DeliveryState(ctx context.Context, userID, id string) (domain.DeliveryState, int, time.Time, error) {
	if err := checkCtx(ctx); err != nil {
		return "", 0, time.Time{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.notifications[id]
	if !ok || n.UserID != userID {
		return "", 0, time.Time{}, domain.Errorf(domain.NotFound, "notification not found")
	}
	d := s.deliveries[id]
	return d.state, d.attempts, d.next, nil
}
