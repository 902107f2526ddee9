package mysqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/cloudpost/cloudpost/core/domain"
)

const mediaCols = "id, owner_id, purpose, content_type, size, status, failure_reason, variants, post_id, claimed_at, created_at, updated_at"

func scanMediaRow(r rowScanner) (domain.Media, error) {
	var m domain.Media
	var purpose, status, variants string
	var post sql.NullString
	var claimed, created, updated sql.NullTime
	if err := r.Scan(&m.ID, &m.OwnerID, &purpose, &m.ContentType, &m.Size, &status, &m.FailureReason, &variants,
		&post, &claimed, &created, &updated); err != nil {
		return domain.Media{}, err
	}
	m.Purpose, m.Status, m.PostID = domain.MediaPurpose(purpose), domain.MediaStatus(status), post.String
	m.ClaimedAt, m.CreatedAt, m.UpdatedAt = fromNull(claimed), fromNull(created), fromNull(updated)
	if err := json.Unmarshal([]byte(variants), &m.Variants); err != nil {
		return domain.Media{}, err
	}
	if len(m.Variants) == 0 {
		m.Variants = nil
	}
	return m, nil
}

func scanMedia(r *sql.Rows) (domain.Media, error) { return scanMediaRow(r) }

func getMedia(ctx context.Context, q querier, id, lock string) (domain.Media, error) {
	m, err := scanMediaRow(q.QueryRowContext(ctx, "SELECT "+mediaCols+" FROM media WHERE id = ?"+lock, id))
	return m, notFound(err, "media item not found")
}

// variantsJSON encodes the variant names for the variants column.
func variantsJSON(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always encodes
	return string(b)
}

func normMedia(m domain.Media) domain.Media {
	m.Variants = cloneIDs(m.Variants)
	m.ClaimedAt, m.CreatedAt, m.UpdatedAt = dbTime(m.ClaimedAt), dbTime(m.CreatedAt), dbTime(m.UpdatedAt)
	return m
}

// CreateMedia inserts m. Returns Conflict for a duplicate id, Invalid when
// m.PostID is set (media are attached through CreatePost and UpdatePost) or
// the id cannot be stored.
func (s *Store) CreateMedia(ctx context.Context, m domain.Media) (domain.Media, error) {
	if m.PostID != "" {
		return domain.Media{}, domain.Errorf(domain.Invalid, "a new media item cannot be attached to a post")
	}
	if err := checkNewID("media", m.ID); err != nil {
		return domain.Media{}, err
	}
	m = normMedia(m)
	// One statement, no transaction: a new item is in no feed.
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.writer.ExecContext(ctx, "INSERT INTO media ("+mediaCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
		m.ID, m.OwnerID, string(m.Purpose), m.ContentType, m.Size, string(m.Status), m.FailureReason, variantsJSON(m.Variants),
		nullTime(m.ClaimedAt), nullTime(m.CreatedAt), nullTime(m.UpdatedAt))
	if err != nil {
		return domain.Media{}, translate(err, "media item already exists")
	}
	if s.pins != nil {
		s.pins.pin(entityKey(m.ID))
	}
	return m, nil
}

// GetMedia returns the item. Returns NotFound.
func (s *Store) GetMedia(ctx context.Context, id string) (domain.Media, error) {
	if !validID(id) {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media item not found")
	}
	return readOne(ctx, s, []string{entityKey(id)}, func(ctx context.Context, db *sql.DB) (domain.Media, error) {
		return getMedia(ctx, db, id, "")
	})
}

// GetMediaBatch returns the items that exist among ids, each once, in no
// particular order (one statement per 500 ids).
func (s *Store) GetMediaBatch(ctx context.Context, ids []string) ([]domain.Media, error) {
	return readBatch(ctx, s, validIDs(ids), func(ctx context.Context, db *sql.DB, ids []string) ([]domain.Media, error) {
		return queryIn(ctx, db, scanMedia, "SELECT "+mediaCols+" FROM media WHERE id IN (IN)", nil, ids)
	}, func(m domain.Media) string { return m.ID })
}

// UpdateMedia locks the item, calls fn with it and saves it (ID, OwnerID,
// PostID and CreatedAt keep their stored values: attachment belongs to the
// post operations). An error from fn is returned unchanged and nothing is
// saved. Returns NotFound. Feed: post change for the owner when the item
// is attached to a post, profile change when it is the owner's avatar.
func (s *Store) UpdateMedia(ctx context.Context, id string, fn func(m *domain.Media) error) (domain.Media, error) {
	if !validID(id) {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media item not found")
	}
	var out domain.Media
	err := s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		cur, err := getMedia(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		scratch := cur
		scratch.Variants = cloneIDs(cur.Variants)
		if err := call(func() error { return fn(&scratch) }); err != nil {
			return err
		}
		m := normMedia(scratch)
		m.ID, m.OwnerID, m.PostID, m.CreatedAt = cur.ID, cur.OwnerID, cur.PostID, cur.CreatedAt
		if _, err := tx.ExecContext(ctx, "UPDATE media SET purpose = ?, content_type = ?, size = ?, status = ?, failure_reason = ?, variants = ?, claimed_at = ?, updated_at = ? WHERE id = ?",
			string(m.Purpose), m.ContentType, m.Size, string(m.Status), m.FailureReason, variantsJSON(m.Variants),
			nullTime(m.ClaimedAt), nullTime(m.UpdatedAt), id); err != nil {
			return err
		}
		if m.PostID != "" {
			b.add(m.OwnerID, domain.EntityPost, m.PostID, false)
		}
		var avatar int
		err = tx.QueryRowContext(ctx, "SELECT 1 FROM profiles WHERE id = ? AND image_id = ?", m.OwnerID, id).Scan(&avatar)
		switch {
		case err == nil:
			b.add(m.OwnerID, domain.EntityProfile, m.OwnerID, false)
		case err != sql.ErrNoRows:
			return err
		}
		b.pin(entityKey(id))
		out = m
		return nil
	})
	if err != nil {
		return domain.Media{}, err
	}
	return out, nil
}

// DeleteMedia locks the owner's profile and the item, calls fn (may be
// nil) with the item (its error is returned unchanged and nothing is
// deleted), and removes the item. Returns NotFound, Conflict while the
// item is attached to a post or is the owner's avatar (only the owner's
// profile can use it: UpdateProfile checks ownership).
func (s *Store) DeleteMedia(ctx context.Context, id string, fn func(m domain.Media) error) (domain.Media, error) {
	if !validID(id) {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media item not found")
	}
	var out domain.Media
	err := s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		var owner string
		if err := tx.QueryRowContext(ctx, "SELECT owner_id FROM media WHERE id = ?", id).Scan(&owner); err != nil {
			return notFound(err, "media item not found")
		}
		// Profile before item: the order UpdateProfile locks them in.
		var image string
		err := tx.QueryRowContext(ctx, "SELECT image_id FROM profiles WHERE id = ? FOR UPDATE", owner).Scan(&image)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		m, err := getMedia(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		// Authorise first, so a caller who may not delete the item learns
		// nothing about where it is used.
		if fn != nil {
			if err := call(func() error { return fn(m) }); err != nil {
				return err
			}
		}
		if m.PostID != "" {
			return domain.Errorf(domain.Conflict, "media item is attached to a post")
		}
		if image == id {
			return domain.Errorf(domain.Conflict, "media item is a profile picture")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM media WHERE id = ?", id); err != nil {
			return err
		}
		b.pin(entityKey(id))
		out = m
		return nil
	})
	if err != nil {
		return domain.Media{}, err
	}
	return out, nil
}
