package mysqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.PushSettings = (*Store)(nil)

const settingsCols = "push_off, quiet_start, quiet_end, quiet_zone"

func scanSettings(r rowScanner) (domain.NotificationSettings, error) {
	var st domain.NotificationSettings
	var off string
	var start, end sql.NullInt32
	var zone sql.NullString
	if err := r.Scan(&off, &start, &end, &zone); err != nil {
		return st, err
	}
	if off != "" {
		for _, t := range strings.Split(off, ",") {
			st.PushOff = append(st.PushOff, domain.NotificationType(t))
		}
	}
	if zone.Valid {
		st.Quiet = &domain.QuietHours{Start: int(start.Int32), End: int(end.Int32), TimeZone: zone.String}
	}
	return st, nil
}

// settingsArgs are the settingsCols values of st. Returns Invalid for a
// type the comma-separated list cannot hold (empty, or with a comma) and
// quiet hours that are not minutes of a day.
func settingsArgs(st domain.NotificationSettings) ([]any, error) {
	off := make([]string, len(st.PushOff))
	for i, t := range st.PushOff {
		if t == "" || strings.Contains(string(t), ",") {
			return nil, domain.Errorf(domain.Invalid, "notification type %q cannot be turned off", t)
		}
		off[i] = string(t)
	}
	if st.Quiet == nil {
		return []any{strings.Join(off, ","), nil, nil, nil}, nil
	}
	q := st.Quiet
	if q.Start < 0 || q.Start > 1439 || q.End < 0 || q.End > 1439 {
		return nil, domain.Errorf(domain.Invalid, "quietHours start and end must be times of day HH:MM")
	}
	return []any{strings.Join(off, ","), q.Start, q.End, q.TimeZone}, nil
}

// cloneSettings copies st so that nothing the caller keeps aliases it.
func cloneSettings(st domain.NotificationSettings) domain.NotificationSettings {
	if len(st.PushOff) == 0 {
		st.PushOff = nil
	} else {
		st.PushOff = slices.Clone(st.PushOff)
	}
	if st.Quiet != nil {
		q := *st.Quiet
		st.Quiet = &q
	}
	return st
}

// GetNotificationSettings returns the user's settings, the zero value
// when none are stored: one primary-key read, routed like the user's
// other reads (the writer within the read-your-writes window of an update
// by this process).
func (s *Store) GetNotificationSettings(ctx context.Context, userID string) (domain.NotificationSettings, error) {
	if !validID(userID) {
		return domain.NotificationSettings{}, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	st, err := scanSettings(s.readDB(userKey(userID)).QueryRowContext(ctx, "SELECT "+settingsCols+" FROM notification_settings WHERE user_id = ?", userID))
	if err == sql.ErrNoRows {
		return domain.NotificationSettings{}, nil
	}
	if err != nil {
		return domain.NotificationSettings{}, translate(err, "")
	}
	return st, nil
}

// UpdateNotificationSettings creates (with the defaults) or locks the
// user's settings row with INSERT ... ON DUPLICATE KEY UPDATE, reads it
// with a locking read (the latest committed settings, never a snapshot),
// calls fn with them and stores what fn left (no UPDATE when unchanged):
// one writer transaction of at most five statements. Concurrent updates
// of one user queue on the row, so fn always sees the latest committed
// settings. An error from fn is returned unchanged and nothing is stored.
// Returns Invalid for an empty user id (or one that is not 1 to 64
// printable ASCII characters), and for settings the columns cannot hold
// (a type that is empty or has a comma, quiet hours outside the day, a
// list or zone too long).
func (s *Store) UpdateNotificationSettings(ctx context.Context, userID string, fn func(st *domain.NotificationSettings) error) (domain.NotificationSettings, error) {
	if err := checkNewID("user", userID); err != nil {
		return domain.NotificationSettings{}, err
	}
	var out domain.NotificationSettings
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO notification_settings (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id", userID); err != nil {
			return err
		}
		cur, err := scanSettings(tx.QueryRowContext(ctx, "SELECT "+settingsCols+" FROM notification_settings WHERE user_id = ? FOR UPDATE", userID))
		if err != nil {
			return err
		}
		scratch := cloneSettings(cur)
		if err := call(func() error { return fn(&scratch) }); err != nil {
			return err
		}
		// Copy: fn may keep the pointer it was given and change it later.
		next := cloneSettings(scratch)
		args, err := settingsArgs(next)
		if err != nil {
			return err
		}
		if old, _ := settingsArgs(cur); !slices.Equal(old, args) {
			if _, err := tx.ExecContext(ctx, "UPDATE notification_settings SET push_off = ?, quiet_start = ?, quiet_end = ?, quiet_zone = ? WHERE user_id = ?",
				append(args, userID)...); err != nil {
				return err
			}
		}
		b.pin(userKey(userID))
		out = next
		return nil
	})
	if err != nil {
		return domain.NotificationSettings{}, err
	}
	return out, nil
}

// MutePost records that userID wants no pushes about postID, in a writer
// transaction that reads the post with a shared lock (so a concurrent
// DeletePost, which removes the post's mutes, either finishes first and
// the post is NotFound, or waits for the mute) and upserts the mute
// (muting again keeps the first time and is not an error). Returns
// NotFound for an unknown post, Invalid for a user id that cannot be
// stored.
func (s *Store) MutePost(ctx context.Context, userID, postID string, at time.Time) error {
	if err := checkNewID("user", userID); err != nil {
		return err
	}
	if !validID(postID) {
		return domain.Errorf(domain.NotFound, "post not found")
	}
	return s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM posts WHERE id = ? LOCK IN SHARE MODE", postID).Scan(&one); err != nil {
			return notFound(err, "post not found")
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO post_mutes (user_id, post_id, muted_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE muted_at = muted_at",
			userID, postID, nullTime(at)); err != nil {
			return err
		}
		b.pin(userKey(userID))
		return nil
	})
}

// UnmutePost removes the mute in one DELETE on the writer; an absent one
// is not an error.
func (s *Store) UnmutePost(ctx context.Context, userID, postID string) error {
	if !validID(userID) || !validID(postID) {
		return nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.execRetry(ctx, "DELETE FROM post_mutes WHERE user_id = ? AND post_id = ?", userID, postID); err != nil {
		return translate(err, "")
	}
	if s.pins != nil {
		s.pins.pin(userKey(userID))
	}
	return nil
}

// IsPostMuted reports whether userID muted postID: one primary-key read,
// routed like the user's other reads.
func (s *Store) IsPostMuted(ctx context.Context, userID, postID string) (bool, error) {
	if !validID(userID) || !validID(postID) {
		return false, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var one int
	err := s.readDB(userKey(userID)).QueryRowContext(ctx, "SELECT 1 FROM post_mutes WHERE user_id = ? AND post_id = ?", userID, postID).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, translate(err, "")
	}
	return true, nil
}

// ListMutedPosts returns up to limit post ids the user muted, by id
// ascending with ID > after (empty: from the first), and whether more
// follow: one keyset statement on the primary key, routed like the user's
// other reads. Returns Invalid for a limit outside 1..100 or an after that
// is not an id.
func (s *Store) ListMutedPosts(ctx context.Context, userID, after string, limit int) ([]string, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	if after != "" && !validID(after) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	if !validID(userID) {
		return nil, false, nil
	}
	q := "SELECT post_id FROM post_mutes WHERE user_id = ?"
	args := []any{userID}
	if after != "" {
		q += " AND post_id > ?"
		args = append(args, after)
	}
	q += " ORDER BY post_id LIMIT ?"
	args = append(args, limit+1)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	ids, err := queryRows(ctx, s.readDB(userKey(userID)), scanString, q, args...)
	if err != nil {
		return nil, false, translate(err, "")
	}
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	return ids, more, nil
}
