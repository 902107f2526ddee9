package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

const notificationCols = "id, user_id, type, actor_id, post_id, comment_id, created_at, read_at"

func scanNotification(r *sql.Rows) (domain.Notification, error) {
	var n domain.Notification
	var typ string
	var created, read sql.NullTime
	err := r.Scan(&n.ID, &n.UserID, &typ, &n.ActorID, &n.PostID, &n.CommentID, &created, &read)
	n.Type, n.CreatedAt = domain.NotificationType(typ), fromNull(created)
	if read.Valid {
		at := read.Time.UTC()
		n.ReadAt = &at
	}
	return n, err
}

func nullTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nullTime(*t)
}

// ListNotifications returns up to limit notifications of the user newest
// first (by id) with ID < before (empty: from the newest), and whether more
// follow: one keyset statement on (user_id, id). Returns Invalid for a
// limit outside 1..100 or a before that is not an id.
func (s *Store) ListNotifications(ctx context.Context, userID, before string, limit int) ([]domain.Notification, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	if before != "" && !validID(before) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	if !validID(userID) {
		return nil, false, nil
	}
	q := "SELECT " + notificationCols + " FROM notifications WHERE user_id = ?"
	args := []any{userID}
	if before != "" {
		q += " AND id < ?"
		args = append(args, before)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	page, err := queryRows(ctx, s.readDB(userKey(userID)), scanNotification, q, args...)
	if err != nil {
		return nil, false, translate(err, "")
	}
	more := len(page) > limit
	if more {
		page = page[:limit]
	}
	return page, more, nil
}

// GetNotifications returns the user's notifications among ids, each once,
// in no particular order; other users' ids are ignored.
func (s *Store) GetNotifications(ctx context.Context, userID string, ids []string) ([]domain.Notification, error) {
	if !validID(userID) {
		return nil, nil
	}
	ids = validIDs(ids)
	if s.pins != nil && s.pins.any([]string{userKey(userID)}) {
		// The user's feed changed within the window: read it all fresh.
		ctx, cancel := s.opCtx(ctx)
		defer cancel()
		out, err := queryIn(ctx, s.writer, scanNotification, "SELECT "+notificationCols+" FROM notifications WHERE user_id = ? AND id IN (IN)", []any{userID}, ids)
		return out, translate(err, "")
	}
	return readBatch(ctx, s, ids, func(ctx context.Context, db *sql.DB, ids []string) ([]domain.Notification, error) {
		return queryIn(ctx, db, scanNotification, "SELECT "+notificationCols+" FROM notifications WHERE user_id = ? AND id IN (IN)", []any{userID}, ids)
	}, func(n domain.Notification) string { return n.ID })
}

// MarkNotificationsRead sets ReadAt = at on the user's unread
// notifications among ids, or on all of them when all is true, in one
// transaction. Other users' and unknown ids are ignored; notifications
// already read keep their time. Feed: notification change for each one
// marked.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, all bool, at time.Time) error {
	if !validID(userID) {
		return nil
	}
	ids = validIDs(ids)
	if !all && len(ids) == 0 {
		return nil
	}
	at = dbTime(at)
	return s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		var targets []string
		var err error
		if all {
			targets, err = queryRows(ctx, tx, scanString, "SELECT id FROM notifications WHERE user_id = ? AND read_at IS NULL ORDER BY id FOR UPDATE", userID)
		} else {
			targets, err = queryIn(ctx, tx, scanString, "SELECT id FROM notifications WHERE user_id = ? AND read_at IS NULL AND id IN (IN) ORDER BY id FOR UPDATE", []any{userID}, ids)
		}
		if err != nil || len(targets) == 0 {
			return err
		}
		if err := execIn(ctx, tx, "UPDATE notifications SET read_at = ? WHERE id IN (IN)", []any{nullTime(at)}, targets); err != nil {
			return err
		}
		for _, id := range targets {
			b.add(userID, domain.EntityNotification, id, false)
		}
		return nil
	})
}
