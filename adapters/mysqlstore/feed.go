package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// maxChangesPage bounds one ChangesSince page.
const maxChangesPage = 5000

// ChangesSince returns up to limit changes of the user with Seq > after, in
// Seq order, and whether more follow: one statement on (user_id, seq),
// always on the writer. It stops before a change whose position in the
// feed is not the one after the previous change's (see the package doc:
// a committed change the server does not show yet) and then reports more,
// so the caller asks again instead of passing it. The entities it names
// are pinned to the writer for the read-your-writes window, so the reads
// that build the sync answer see at least the state the changes report.
// Returns Invalid for a limit outside 1..5000.
func (s *Store) ChangesSince(ctx context.Context, userID string, after int64, limit int) ([]domain.Change, bool, error) {
	if limit < 1 || limit > maxChangesPage {
		return nil, false, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxChangesPage)
	}
	if !validID(userID) {
		return nil, false, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	// The change at `after` itself (the cursor names one of this feed's
	// changes) comes first when it still exists: its position anchors the
	// check of the first new one.
	rows, err := queryRows(ctx, s.writer, func(r *sql.Rows) (positioned, error) {
		c := positioned{Change: domain.Change{UserID: userID}}
		var entity string
		err := r.Scan(&c.Seq, &c.pos, &entity, &c.ID, &c.Deleted, &c.At)
		c.Entity, c.At = domain.EntityType(entity), c.At.UTC()
		return c, err
	}, "SELECT seq, pos, entity, entity_id, deleted, at FROM feed_changes WHERE user_id = ? AND seq >= ? ORDER BY seq LIMIT ?", userID, after, limit+2)
	if err != nil {
		return nil, false, translate(err, "")
	}
	var prev sql.NullInt64
	if len(rows) > 0 && rows[0].Seq == after {
		prev, rows = rows[0].pos, rows[1:]
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	now := s.now()
	page := make([]domain.Change, 0, len(rows))
	for _, c := range rows {
		if hidden(prev, c, now) {
			more = true
			break
		}
		page = append(page, c.Change)
		prev = c.pos
	}
	if s.pins != nil && len(page) > 0 {
		keys := []string{userKey(userID)}
		for _, c := range page {
			keys = append(keys, entityKey(c.ID))
		}
		s.pins.pin(keys...)
	}
	return page, more, nil
}

// positioned is a change with its position in the user's feed (NULL for
// changes written before positions existed).
type positioned struct {
	domain.Change
	pos sql.NullInt64
}

// hiddenGrace is how long a gap in a feed's positions holds readers back.
// A real gap closes within milliseconds (the change committed; the server
// shows it a moment later); one that lasts means a position was lost (it
// cannot happen, but a reader must never wait for it forever).
const hiddenGrace = 30 * time.Second

// hidden reports whether c does not directly follow a change at position
// prev: a change in between is committed but not visible yet, so c must
// not be passed. Changes without positions are not checked.
func hidden(prev sql.NullInt64, c positioned, now time.Time) bool {
	return prev.Valid && c.pos.Valid && c.pos.Int64 != prev.Int64+1 && now.Sub(c.At) < hiddenGrace
}

// Snapshot returns, read in one read-only writer transaction, the user's
// profile, posts (newest first), the comments on those posts and by the
// user (oldest first), the user's notifications (newest first) and the
// feed position: the Seq up to which the transaction sees every change of
// the user's feed (snapshotPosition; never below the horizon). The data
// holds every change up to that position (see the package doc), under
// REPEATABLE READ and READ COMMITTED alike. Returns NotFound if the user
// has no profile.
func (s *Store) Snapshot(ctx context.Context, userID string) (domain.Snapshot, error) {
	if !validID(userID) {
		return domain.Snapshot{}, domain.Errorf(domain.NotFound, "profile not found")
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var snap domain.Snapshot
	err := func() error {
		tx, err := s.writer.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }() // read-only: nothing to keep
		// The position is read first. Under REPEATABLE READ (the default of
		// both servers) its read fixes the view every later read uses; under
		// READ COMMITTED (a parameter group may set it) the later reads see
		// at least as much. Either way the data holds every change up to the
		// position, and a change after it that the data already shows is
		// only sent again.
		recent, err := queryRows(ctx, tx, func(r *sql.Rows) (positioned, error) {
			var c positioned
			err := r.Scan(&c.Seq, &c.pos, &c.At)
			c.At = c.At.UTC()
			return c, err
		}, "SELECT seq, pos, at FROM feed_changes WHERE user_id = ? ORDER BY seq DESC LIMIT ?", userID, snapshotWindow)
		if err != nil {
			return err
		}
		var horizon int64
		if err := tx.QueryRowContext(ctx, "SELECT horizon FROM feed_meta WHERE id = 1").Scan(&horizon); err != nil {
			return err
		}
		snap.Seq = max(snapshotPosition(recent, s.now()), horizon)
		p, err := getProfile(ctx, tx, userID, "")
		if err != nil {
			return err
		}
		snap.Profile = &p
		if snap.Posts, err = queryRows(ctx, tx, scanPostRows,
			"SELECT "+postCols+" FROM posts p WHERE p.author_id = ? ORDER BY p.id DESC", userID); err != nil {
			return err
		}
		if snap.Comments, err = queryRows(ctx, tx, scanCommentRows,
			"SELECT "+commentCols+" FROM comments WHERE author_id = ?"+
				" UNION SELECT c.id, c.post_id, c.author_id, c.body, c.created_at FROM comments c JOIN posts p ON p.id = c.post_id WHERE p.author_id = ?"+
				" ORDER BY id", userID, userID); err != nil {
			return err
		}
		if snap.Notifications, err = queryRows(ctx, tx, scanNotification,
			"SELECT "+notificationCols+" FROM notifications WHERE user_id = ? ORDER BY id DESC", userID); err != nil {
			return err
		}
		return nil
	}()
	if err != nil {
		return domain.Snapshot{}, translate(err, "")
	}
	return snap, nil
}

// snapshotWindow is how many of a feed's latest changes Snapshot checks
// for gaps: a gap only ever involves the changes of the last moments.
const snapshotWindow = 256

// snapshotPosition returns the Seq up to which the feed shows every change:
// the latest change's, or, when the latest ones (newest first) skip a
// position, that of the change below the lowest gap. 0 without changes.
func snapshotPosition(recent []positioned, now time.Time) int64 {
	if len(recent) == 0 {
		return 0
	}
	pos := recent[0].Seq
	for i := 1; i < len(recent); i++ {
		if hidden(recent[i].pos, recent[i-1], now) {
			pos = recent[i].Seq
		}
	}
	return pos
}

// FeedHorizon returns the highest Seq removed by PruneFeed (0 before any
// pruning), read on the writer: a cursor at or above it still gets every
// change.
func (s *Store) FeedHorizon(ctx context.Context) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var h int64
	if err := s.writer.QueryRowContext(ctx, "SELECT horizon FROM feed_meta WHERE id = 1").Scan(&h); err != nil {
		return 0, translate(err, "")
	}
	return h, nil
}

// pruneBatch is how many changes one DELETE removes, so pruning never
// holds locks on a month of changes at once.
const pruneBatch = 5000

// PruneFeed removes every change with At before `before` and raises the
// horizon to the highest Seq it removes. The horizon is raised (and
// committed) before any change is deleted, so a reader never finds a gap
// below a horizon it has not seen; it never goes down. Each statement has
// its own timeout.
func (s *Store) PruneFeed(ctx context.Context, before time.Time) error {
	before = dbTime(before)
	var top sql.NullInt64
	err := func() error {
		ctx, cancel := s.opCtx(ctx)
		defer cancel()
		if err := s.writer.QueryRowContext(ctx, "SELECT MAX(seq) FROM feed_changes WHERE at < ?", before).Scan(&top); err != nil {
			return err
		}
		if !top.Valid {
			return nil
		}
		_, err := s.writer.ExecContext(ctx, "UPDATE feed_meta SET horizon = GREATEST(horizon, ?) WHERE id = 1", top.Int64)
		return err
	}()
	if err != nil || !top.Valid {
		return translate(err, "")
	}
	for {
		n, err := func() (int64, error) {
			ctx, cancel := s.opCtx(ctx)
			defer cancel()
			res, err := s.writer.ExecContext(ctx, "DELETE FROM feed_changes WHERE at < ? AND seq <= ? ORDER BY seq LIMIT ?", before, top.Int64, pruneBatch)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		}()
		if err != nil {
			return translate(err, "")
		}
		if n < pruneBatch {
			return nil
		}
	}
}
