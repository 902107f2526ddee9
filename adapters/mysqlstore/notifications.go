package mysqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
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
	return s.notificationPage(ctx, s.readDB(userKey(userID)), userID, before, false, limit)
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
	return s.tx(ctx, "", func(tx querier, b *feedBatch) error {
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

// NotificationsAfter returns up to limit notifications of the user oldest
// first (by id) with ID > after (empty: from the oldest), and whether more
// follow: one keyset statement on (user_id, id), on the writer (a stream
// that resumes must not miss what a lagging replica has not applied yet,
// the reason ChangesSince reads the writer). Returns Invalid for a limit
// outside 1..100 or an after that is not an id.
func (s *Store) NotificationsAfter(ctx context.Context, userID, after string, limit int) ([]domain.Notification, bool, error) {
	return s.notificationPage(ctx, s.writer, userID, after, true, limit)
}

// notificationPage is one keyset statement on (user_id, id) on db: up to
// limit of the user's notifications past bound (empty: from the first),
// ascending by id or descending, and whether more follow. Returns Invalid
// for a limit outside 1..100 or a bound that is not an id.
func (s *Store) notificationPage(ctx context.Context, db *sql.DB, userID, bound string, ascending bool, limit int) ([]domain.Notification, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	if bound != "" && !validID(bound) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	if !validID(userID) {
		return nil, false, nil
	}
	cmp, order := " AND id < ?", " ORDER BY id DESC LIMIT ?"
	if ascending {
		cmp, order = " AND id > ?", " ORDER BY id LIMIT ?"
	}
	q := "SELECT " + notificationCols + " FROM notifications WHERE user_id = ?"
	args := []any{userID}
	if bound != "" {
		q += cmp
		args = append(args, bound)
	}
	q += order
	args = append(args, limit+1)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	page, err := queryRows(ctx, db, scanNotification, q, args...)
	if err != nil {
		return nil, false, translate(err, "")
	}
	more := len(page) > limit
	if more {
		page = page[:limit]
	}
	return page, more, nil
}

// maxUsersPerCall bounds the users of NotificationsSince and CountUnread.
const maxUsersPerCall = 1000

// maxSinceLimit bounds the limit of NotificationsSince.
const maxSinceLimit = 1000

// checkUsers returns Invalid for more than maxUsersPerCall users and
// otherwise the distinct valid ids among them (invalid ids name no user
// and are ignored).
func checkUsers(userIDs []string) ([]string, error) {
	if len(userIDs) > maxUsersPerCall {
		return nil, domain.Errorf(domain.Invalid, "at most %d users per call", maxUsersPerCall)
	}
	return validIDs(userIDs), nil
}

// NotificationsSince returns up to limit notifications of any of the users
// created at or after since (the zero time: all), oldest first (by
// CreatedAt, then id): one statement on (user_id, created_at) per 500
// users, on the writer (the live stream polls it for every process; a
// replica's lag would delay events, and read-your-writes pins only cover
// this process's writes). Invalid user ids are ignored. Returns Invalid
// for more than 1000 users or a limit outside 1..1000.
func (s *Store) NotificationsSince(ctx context.Context, userIDs []string, since time.Time, limit int) ([]domain.Notification, error) {
	if limit < 1 || limit > maxSinceLimit {
		return nil, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxSinceLimit)
	}
	users, err := checkUsers(userIDs)
	if err != nil || len(users) == 0 {
		return nil, err
	}
	q := "SELECT " + notificationCols + " FROM notifications WHERE"
	var args []any
	if !since.IsZero() {
		// Stored times are at microsecond precision: a since between two
		// microseconds starts at the next one.
		q += " created_at >= ? AND"
		args = append(args, ceilMicro(since))
	}
	q += " user_id IN (IN) ORDER BY created_at, id LIMIT " + strconv.Itoa(limit)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	out, err := queryIn(ctx, s.writer, scanNotification, q, args, users)
	if err != nil {
		return nil, translate(err, "")
	}
	// Each chunk is ordered and limited: the first limit of their union are
	// the answer.
	if len(users) > inChunk {
		slices.SortFunc(out, func(a, b domain.Notification) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		out = out[:min(len(out), limit)]
	}
	return out, nil
}

// CountUnread returns the number of unread notifications of each user
// (users with none are absent from the map): one grouped count on
// (user_id, read_at) per 500 users, routed like ListNotifications (the
// writer for users this process wrote for within the read-your-writes
// window). Invalid user ids are ignored. Returns Invalid for more than
// 1000 users.
func (s *Store) CountUnread(ctx context.Context, userIDs []string) (map[string]int, error) {
	users, err := checkUsers(userIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(users))
	if len(users) == 0 {
		return out, nil
	}
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = userKey(u)
	}
	type count struct {
		user string
		n    int
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	counts, err := queryIn(ctx, s.readDB(keys...), func(r *sql.Rows) (count, error) {
		var c count
		err := r.Scan(&c.user, &c.n)
		return c, err
	}, "SELECT user_id, COUNT(*) FROM notifications WHERE read_at IS NULL AND user_id IN (IN) GROUP BY user_id", nil, users)
	if err != nil {
		return nil, translate(err, "")
	}
	for _, c := range counts {
		out[c.user] = c.n
	}
	return out, nil
}
