package mysqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
)

const profileCols = "id, email, display_name, bio, image_id, created_at, updated_at, version"

type rowScanner interface{ Scan(dest ...any) error }

func scanProfile(r rowScanner) (domain.Profile, error) {
	var p domain.Profile
	var created, updated sql.NullTime
	err := r.Scan(&p.ID, &p.Email, &p.DisplayName, &p.Bio, &p.ImageID, &created, &updated, &p.Version)
	p.CreatedAt, p.UpdatedAt = fromNull(created), fromNull(updated)
	return p, err
}

// CreateProfile inserts p with Version 1. Returns Conflict if a profile with
// the same ID or email (compared case-insensitively) exists, NotFound if
// p.ImageID is set but is not a media item owned by p.ID, Invalid for an id
// that cannot be stored. Feed: profile change for p.ID.
func (s *Store) CreateProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	if err := checkNewID("profile", p.ID); err != nil {
		return domain.Profile{}, err
	}
	p.Version = 1
	p.CreatedAt, p.UpdatedAt = dbTime(p.CreatedAt), dbTime(p.UpdatedAt)
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		if err := checkAvatar(ctx, tx, p.ID, p.ImageID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO profiles (id, email, email_key, display_name, bio, image_id, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
			p.ID, p.Email, emailKey(p.Email), p.DisplayName, p.Bio, p.ImageID, nullTime(p.CreatedAt), nullTime(p.UpdatedAt))
		if key := duplicateKeyName(err); key != "" {
			if strings.Contains(key, "email") {
				return domain.Wrap(err, domain.Conflict, "email already in use")
			}
			return domain.Wrap(err, domain.Conflict, "profile already exists")
		}
		if err != nil {
			return err
		}
		b.add(p.ID, domain.EntityProfile, p.ID, false)
		return nil
	})
	if err != nil {
		return domain.Profile{}, err
	}
	return p, nil
}

// emailKey is the uniqueness key of an email.
func emailKey(email string) string { return strings.ToLower(email) }

// checkAvatar returns NotFound unless imageID is empty or a media item
// owned by userID; it locks the item so it cannot be deleted before the
// transaction ends.
func checkAvatar(ctx context.Context, tx querier, userID, imageID string) error {
	if imageID == "" {
		return nil
	}
	if !validID(imageID) {
		return domain.Errorf(domain.NotFound, "image not found")
	}
	var owner string
	err := tx.QueryRowContext(ctx, "SELECT owner_id FROM media WHERE id = ? FOR UPDATE", imageID).Scan(&owner)
	if err == sql.ErrNoRows || (err == nil && owner != userID) {
		return domain.Errorf(domain.NotFound, "image not found")
	}
	return err
}

// GetProfile returns the profile. Returns NotFound.
func (s *Store) GetProfile(ctx context.Context, id string) (domain.Profile, error) {
	if !validID(id) {
		return domain.Profile{}, domain.Errorf(domain.NotFound, "profile not found")
	}
	return readOne(ctx, s, []string{userKey(id), entityKey(id)}, func(ctx context.Context, db *sql.DB) (domain.Profile, error) {
		return getProfile(ctx, db, id, "")
	})
}

// getProfile reads one profile; lock is "" or " FOR UPDATE".
func getProfile(ctx context.Context, q querier, id, lock string) (domain.Profile, error) {
	p, err := scanProfile(q.QueryRowContext(ctx, "SELECT "+profileCols+" FROM profiles WHERE id = ?"+lock, id))
	return p, notFound(err, "profile not found")
}

// UpdateProfile locks the profile row, calls fn with it and saves what fn
// left with Version+1; ID, Email, CreatedAt and Version keep their stored
// values. An error from fn is returned unchanged and nothing is saved.
// Returns NotFound for an unknown id or when a changed ImageID is not a
// media item owned by the profile. Feed: profile change.
func (s *Store) UpdateProfile(ctx context.Context, id string, fn func(p *domain.Profile) error) (domain.Profile, error) {
	if !validID(id) {
		return domain.Profile{}, domain.Errorf(domain.NotFound, "profile not found")
	}
	var out domain.Profile
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		cur, err := getProfile(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		p := cur
		if err := call(func() error { return fn(&p) }); err != nil {
			return err
		}
		p.ID, p.Email, p.CreatedAt, p.Version = cur.ID, cur.Email, cur.CreatedAt, cur.Version+1
		p.UpdatedAt = dbTime(p.UpdatedAt)
		if p.ImageID != cur.ImageID {
			if err := checkAvatar(ctx, tx, id, p.ImageID); err != nil {
				return err
			}
		}
		// The row is locked, so the version guard always holds; it states
		// the optimistic-concurrency rule in the statement itself.
		res, err := tx.ExecContext(ctx, "UPDATE profiles SET display_name = ?, bio = ?, image_id = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?",
			p.DisplayName, p.Bio, p.ImageID, nullTime(p.UpdatedAt), p.Version, id, cur.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return domain.Errorf(domain.Conflict, "the profile changed concurrently")
		}
		b.add(id, domain.EntityProfile, id, false)
		out = p
		return nil
	})
	if err != nil {
		return domain.Profile{}, err
	}
	return out, nil
}

// DeleteUser removes, in one transaction, the profile and everything the
// user owns: posts with their comments, notifications and media; the user's
// comments on other posts (decrementing their counts); notifications to
// and from the user; the user's media and media admission row; the
// user's devices, notification settings, post mutes and idempotency
// records, and everyone's mutes of the user's posts. It returns the
// removed media. The user's token revocation record is kept, so the
// deleted account's tokens stay refused. An unknown user is not an error.
// Feed: tombstones for every removed entity to every user whose feed
// showed it, and a post change for each other post whose count dropped.
func (s *Store) DeleteUser(ctx context.Context, id string) ([]domain.Media, error) {
	if !validID(id) {
		return nil, nil
	}
	var removed []domain.Media
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		removed = nil
		// Locks in the order every other write takes them: profile,
		// (media admission,) posts, comments, notifications, media.
		var exists int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM profiles WHERE id = ? FOR UPDATE", id).Scan(&exists)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		// CreateMedia's admission row of the user: before the media, the
		// order CreateMedia locks them in.
		if _, err := tx.ExecContext(ctx, "DELETE FROM media_admission WHERE owner_id = ?", id); err != nil {
			return err
		}
		postIDs, err := queryRows(ctx, tx, scanString, "SELECT id FROM posts WHERE author_id = ? ORDER BY id FOR UPDATE", id)
		if err != nil {
			return err
		}
		type commentRef struct{ id, author, post, postAuthor string }
		scanRef := func(r *sql.Rows) (commentRef, error) {
			var c commentRef
			err := r.Scan(&c.id, &c.author, &c.post, &c.postAuthor)
			return c, err
		}
		// Comments on the user's posts.
		onOwn, err := queryIn(ctx, tx, scanRef, "SELECT id, author_id, post_id, ? FROM comments WHERE post_id IN (IN) ORDER BY id FOR UPDATE", []any{id}, postIDs)
		if err != nil {
			return err
		}
		// The user's comments on other posts, with those posts locked.
		onOthers, err := queryRows(ctx, tx, scanRef,
			"SELECT c.id, c.author_id, c.post_id, p.author_id FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.author_id = ? AND p.author_id <> ? ORDER BY c.id FOR UPDATE", id, id)
		if err != nil {
			return err
		}
		var commentIDs []string
		for _, c := range onOwn {
			commentIDs = append(commentIDs, c.id)
			b.add(c.postAuthor, domain.EntityComment, c.id, true)
			b.add(c.author, domain.EntityComment, c.id, true)
		}
		drops := map[string]int64{}
		var dropped []string
		for _, c := range onOthers {
			commentIDs = append(commentIDs, c.id)
			b.add(c.author, domain.EntityComment, c.id, true)
			b.add(c.postAuthor, domain.EntityComment, c.id, true)
			b.add(c.postAuthor, domain.EntityPost, c.post, false)
			if drops[c.post] == 0 {
				dropped = append(dropped, c.post)
			}
			drops[c.post]++
		}
		// Notifications: to the user, caused by the user, and those of
		// every removed comment. Three indexed reads (an OR would scan and
		// lock the whole table).
		notes, err := queryRows(ctx, tx, scanNoteRef, "SELECT id, user_id FROM notifications WHERE user_id = ? FOR UPDATE", id)
		if err != nil {
			return err
		}
		byActor, err := queryRows(ctx, tx, scanNoteRef, "SELECT id, user_id FROM notifications WHERE actor_id = ? FOR UPDATE", id)
		if err != nil {
			return err
		}
		byComment, err := queryIn(ctx, tx, scanNoteRef, "SELECT id, user_id FROM notifications WHERE comment_id IN (IN) FOR UPDATE", nil, commentIDs)
		if err != nil {
			return err
		}
		var noteIDs []string
		seen := map[string]bool{}
		for _, n := range append(append(notes, byActor...), byComment...) {
			if !seen[n.id] {
				seen[n.id] = true
				noteIDs = append(noteIDs, n.id)
				b.add(n.user, domain.EntityNotification, n.id, true)
			}
		}
		removed, err = queryRows(ctx, tx, scanMedia, "SELECT "+mediaCols+" FROM media WHERE owner_id = ? ORDER BY id FOR UPDATE", id)
		if err != nil {
			return err
		}

		if err := execIn(ctx, tx, "DELETE FROM notifications WHERE id IN (IN)", nil, noteIDs); err != nil {
			return err
		}
		if err := execIn(ctx, tx, "DELETE FROM comments WHERE id IN (IN)", nil, commentIDs); err != nil {
			return err
		}
		if len(dropped) > 0 {
			// One statement for every post that lost comments.
			var cases strings.Builder
			args := make([]any, 0, 3*len(dropped))
			for _, pid := range dropped {
				cases.WriteString(" WHEN ? THEN ?")
				args = append(args, pid, drops[pid])
			}
			q := "UPDATE posts SET comment_count = comment_count - CASE id" + cases.String() + " ELSE 0 END WHERE id IN (IN)"
			if err := execIn(ctx, tx, q, args, dropped); err != nil {
				return err
			}
		}
		// The user's posts with everyone's mutes of them, in one statement.
		if _, err := tx.ExecContext(ctx, "DELETE p, m FROM posts p LEFT JOIN post_mutes m ON m.post_id = p.id WHERE p.author_id = ?", id); err != nil {
			return err
		}
		for _, pid := range postIDs {
			b.add(id, domain.EntityPost, pid, true)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM media WHERE owner_id = ?", id); err != nil {
			return err
		}
		for _, m := range removed {
			b.pin(entityKey(m.ID))
		}
		// Push state: the settings row first (the order PutDevice locks
		// it in: settings, then devices), the devices, the user's mutes;
		// then the user's Idempotency-Key records.
		for _, q := range []string{
			"DELETE FROM notification_settings WHERE user_id = ?",
			"DELETE FROM devices WHERE user_id = ?",
			"DELETE FROM post_mutes WHERE user_id = ?",
			"DELETE FROM idempotency_keys WHERE user_id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		b.pin(userKey(id))
		if exists == 1 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM profiles WHERE id = ?", id); err != nil {
				return err
			}
			b.add(id, domain.EntityProfile, id, true)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}
