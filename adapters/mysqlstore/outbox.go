package mysqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.Outbox = (*Store)(nil)

// maxClaim bounds the limit of ClaimDeliveries.
const maxClaim = 1000

// maxPushError is the length (characters) push_error keeps.
const maxPushError = 255

// claimSQL takes the due pending rows, earliest due first, skipping those
// another claimer holds locked right now; see ClaimDeliveries.
const claimSQL = "SELECT " + notificationCols + ", push_attempts FROM notifications" +
	" WHERE push_state = 'pending' AND push_next_at <= ? ORDER BY push_next_at, id LIMIT ? FOR UPDATE SKIP LOCKED"

// ClaimDeliveries takes up to limit pending notifications due at now
// (push_next_at <= now), earliest due first, counts an attempt on each
// and moves them to now+lease, which hides them from every claimer until
// then; it returns them with their new attempt numbers. One writer
// transaction of four statements (BEGIN, the locking SELECT of the full
// rows, one UPDATE of them all, COMMIT; three when none is due):
//
//	SELECT ... WHERE push_state = 'pending' AND push_next_at <= ?
//	ORDER BY push_next_at, id LIMIT ? FOR UPDATE SKIP LOCKED
//
// walks the (push_state, push_next_at) index and locks what it returns;
// SKIP LOCKED passes rows that a concurrent claim (of any process) has
// locked instead of waiting for them, so claimers run side by side and
// never return the same row: a row is only returned when it was locked
// by this claim and still due, and once its claim commits it is due only
// at the lease's end. The attempt numbers come from the locked rows (a
// locking read sees the latest committed row, not a snapshot). A
// deadlock between two claims (their UPDATEs move index entries into the
// same gap under REPEATABLE READ) reruns the claim like any transaction.
// Returns Invalid for a limit outside 1..1000 or a lease under one
// second.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]domain.Delivery, error) {
	if limit < 1 || limit > maxClaim {
		return nil, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxClaim)
	}
	if lease < time.Second {
		return nil, domain.Errorf(domain.Invalid, "the lease must be at least one second")
	}
	due := dbTime(now)
	// Rounded up: the lease never ends before now+lease.
	until := ceilMicro(now.Add(lease))
	var out []domain.Delivery
	err := s.tx(ctx, "", func(tx querier, _ *feedBatch) error {
		out = nil // the transaction may run again
		claimed, err := queryRows(ctx, tx, scanDelivery, claimSQL, due, limit)
		if err != nil || len(claimed) == 0 {
			return err
		}
		ids := make([]string, len(claimed))
		for i := range claimed {
			ids[i] = claimed[i].Notification.ID
			claimed[i].Attempt++
		}
		if err := execIn(ctx, tx, "UPDATE notifications SET push_attempts = push_attempts + 1, push_next_at = ? WHERE id IN (IN)", []any{until}, ids); err != nil {
			return err
		}
		out = claimed
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanDelivery reads the columns of claimSQL: the notification and its
// attempts so far.
func scanDelivery(r *sql.Rows) (domain.Delivery, error) {
	var d domain.Delivery
	var typ string
	var created, read sql.NullTime
	err := r.Scan(&d.Notification.ID, &d.Notification.UserID, &typ, &d.Notification.ActorID, &d.Notification.PostID,
		&d.Notification.CommentID, &created, &read, &d.Attempt)
	d.Notification.Type, d.Notification.CreatedAt = domain.NotificationType(typ), fromNull(created)
	if read.Valid {
		at := read.Time.UTC()
		d.Notification.ReadAt = &at
	}
	return d, err
}

// RecordDelivery settles the claim numbered attempt of notification id
// with o, in one UPDATE on the writer fenced by
// "push_attempts = attempt AND push_state = 'pending'": a claim that is
// not the latest (its lease ended and another relay claimed it since), an
// unknown id or a notification already final matches no row and is left
// alone, without an error. A final state (sent, skipped, failed) sets
// push_done_at = o.At (for sent rows what LastPushAt reads) and clears
// the due time; pending sets the due time to o.NextAttemptAt (o.At, or
// now, when it is zero) and, when o.Deferred, gives the attempt back.
// o.Error, when not empty, replaces the last error (truncated to 255
// characters). A deadlock or lock wait timeout runs the statement again.
// Returns Invalid for an unknown state.
func (s *Store) RecordDelivery(ctx context.Context, id string, attempt int, o domain.DeliveryOutcome) error {
	var set []string
	var args []any
	switch o.State {
	case domain.DeliveryPending:
		next := o.NextAttemptAt
		if next.IsZero() {
			next = o.At
		}
		if next.IsZero() {
			next = s.now()
		}
		set, args = append(set, "push_next_at = ?"), append(args, dbTime(next))
		if o.Deferred {
			set = append(set, "push_attempts = GREATEST(push_attempts - 1, 0)")
		}
	case domain.DeliverySent, domain.DeliverySkipped, domain.DeliveryFailed:
		set, args = append(set, "push_state = ?", "push_done_at = ?", "push_next_at = NULL"), append(args, string(o.State), nullTime(o.At))
	default:
		return domain.Errorf(domain.Invalid, "unknown delivery state %q", o.State)
	}
	if !validID(id) {
		return nil
	}
	if o.Error != "" {
		set, args = append(set, "push_error = ?"), append(args, pushError(o.Error))
	}
	args = append(args, id, attempt)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.execRetry(ctx, "UPDATE notifications SET "+strings.Join(set, ", ")+
		" WHERE id = ? AND push_attempts = ? AND push_state = 'pending'", args...)
	return translate(err, "")
}

// pushError is msg as push_error keeps it: valid UTF-8, at most 255
// characters.
func pushError(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if utf8.RuneCountInString(msg) <= maxPushError {
		return msg
	}
	return string([]rune(msg)[:maxPushError-1]) + "…"
}

// LastPushAt returns when a push about postID last went to userID: the
// latest push_done_at of the user's sent notifications on the post (the
// zero time when none), one MAX on the (user_id, post_id, push_state,
// push_done_at) index, read on the writer: the relays of every process
// coalesce on it.
func (s *Store) LastPushAt(ctx context.Context, userID, postID string) (time.Time, error) {
	if !validID(userID) || !validID(postID) {
		return time.Time{}, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var at sql.NullTime
	err := s.writer.QueryRowContext(ctx, "SELECT MAX(push_done_at) FROM notifications WHERE user_id = ? AND post_id = ? AND push_state = ?",
		userID, postID, string(domain.DeliverySent)).Scan(&at)
	if err != nil {
		return time.Time{}, translate(err, "")
	}
	return fromNull(at), nil
}

// DeliveryState returns the push state of the user's notification, the
// attempts counted and when it is due next (the zero time once final):
// one primary-key read on the writer. Returns NotFound, also for another
// user's notification.
func (s *Store) DeliveryState(ctx context.Context, userID, id string) (domain.DeliveryState, int, time.Time, error) {
	if !validID(userID) || !validID(id) {
		return "", 0, time.Time{}, domain.Errorf(domain.NotFound, "notification not found")
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var state string
	var attempts int
	var next sql.NullTime
	err := s.writer.QueryRowContext(ctx, "SELECT push_state, push_attempts, push_next_at FROM notifications WHERE id = ? AND user_id = ?", id, userID).
		Scan(&state, &attempts, &next)
	if err != nil {
		return "", 0, time.Time{}, translate(notFound(err, "notification not found"), "")
	}
	return domain.DeliveryState(state), attempts, fromNull(next), nil
}
