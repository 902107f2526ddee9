package mysqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

const mediaCols = "id, owner_id, purpose, content_type, size, status, failure_reason, variants, post_id, etag, checksum, claimed_at, created_at, updated_at"

// mediaColsOf is mediaCols qualified with a table alias.
func mediaColsOf(alias string) string {
	return alias + "." + strings.ReplaceAll(mediaCols, ", ", ", "+alias+".")
}

// mediaScan holds the mediaCols of a row as scanned, NULL-able: after a
// LEFT JOIN a row may have no media item (then id is NULL).
type mediaScan struct {
	id, owner, purpose, contentType, status, failure, variants, post, etag, checksum sql.NullString
	size                                                                             sql.NullInt64
	claimed, created, updated                                                        sql.NullTime
}

// dest returns the Scan destinations, in mediaCols order.
func (x *mediaScan) dest() []any {
	return []any{&x.id, &x.owner, &x.purpose, &x.contentType, &x.size, &x.status, &x.failure, &x.variants,
		&x.post, &x.etag, &x.checksum, &x.claimed, &x.created, &x.updated}
}

// media converts the scanned row.
func (x *mediaScan) media() (domain.Media, error) {
	m := domain.Media{
		ID: x.id.String, OwnerID: x.owner.String, Purpose: domain.MediaPurpose(x.purpose.String), ContentType: x.contentType.String,
		Size: x.size.Int64, Status: domain.MediaStatus(x.status.String), FailureReason: x.failure.String, PostID: x.post.String,
		ETag: x.etag.String, Checksum: x.checksum.String,
		ClaimedAt: fromNull(x.claimed), CreatedAt: fromNull(x.created), UpdatedAt: fromNull(x.updated),
	}
	if err := json.Unmarshal([]byte(x.variants.String), &m.Variants); err != nil {
		return domain.Media{}, err
	}
	if len(m.Variants) == 0 {
		m.Variants = nil
	}
	return m, nil
}

func scanMediaRow(r rowScanner) (domain.Media, error) {
	var x mediaScan
	if err := r.Scan(x.dest()...); err != nil {
		return domain.Media{}, err
	}
	return x.media()
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

// admissionCountQuery counts an owner's pending and processing items other
// than the one being created (arguments: owner, new id) and finds the
// oldest created_at among them: a locking read covered by the index
// (owner_id, status, created_at), so its shared locks stay on that index.
const admissionCountQuery = "SELECT COUNT(*), MIN(created_at) FROM media FORCE INDEX (media_owner_status)" +
	" WHERE owner_id = ? AND status IN ('" + string(domain.MediaPending) + "', '" + string(domain.MediaProcessing) + "')" +
	" AND id <> ? LOCK IN SHARE MODE"

// staleQuery selects a page of ListStaleMedia (arguments: after, before,
// limit+1, after, before, limit+1, limit+1): one ordered range of the
// (status, id) index per status, each stopping after limit+1 rows, then
// merged (a sort of at most 2(limit+1) rows). A page costs O(limit)
// however many items wait, where "status IN (...) ORDER BY id" would sort
// every waiting item.
var staleQuery = staleBranch(domain.MediaPending) + " UNION ALL " + staleBranch(domain.MediaProcessing) + " ORDER BY id LIMIT ?"

func staleBranch(status domain.MediaStatus) string {
	return "(SELECT " + mediaCols + " FROM media FORCE INDEX (media_status) WHERE status = '" + string(status) +
		"' AND id > ? AND (updated_at IS NULL OR updated_at < ?) ORDER BY id LIMIT ?)"
}

// CreateMedia inserts m once admit (may be nil) allows it. admit is called
// with how many of m.OwnerID's items are pending or processing and the
// earliest created_at among them (zero when none), counted with the
// owner's admission row locked, so a cap that admit enforces holds under
// any concurrency and either isolation level (see the package doc,
// admission). An error from admit is returned unchanged and nothing is
// inserted; admit may be called again when a deadlock reruns the
// transaction. Returns Conflict for a duplicate id (without asking admit),
// Invalid when m.PostID is set (media are attached through CreatePost and
// UpdatePost), the id cannot be stored, or a value is too long or not
// ASCII where it must be (ETag, Checksum).
//
// With an idempotency claim in ctx (ports.WithIdempotencyClaim) the
// claim's record is marked committed with m.ID in the item's transaction,
// so a claim always takes the transactional path; Conflict, and nothing
// inserted, when the claim is no longer held.
//
// Cost: without admit or claim one INSERT and no transaction; with admit
// four statements: lock the admission row, INSERT, count, COMMIT (or
// ROLLBACK when admit refuses); a claim adds its UPDATE (INSERT, UPDATE,
// COMMIT without admit).
func (s *Store) CreateMedia(ctx context.Context, m domain.Media, admit func(inFlight int, oldest time.Time) error) (domain.Media, error) {
	if m.PostID != "" {
		return domain.Media{}, domain.Errorf(domain.Invalid, "a new media item cannot be attached to a post")
	}
	if err := checkNewID("media", m.ID); err != nil {
		return domain.Media{}, err
	}
	if admit != nil && !validID(m.OwnerID) {
		return domain.Media{}, domain.Errorf(domain.Invalid, "media owner id must be 1 to 64 printable ASCII characters")
	}
	m = normMedia(m)
	const insert = "INSERT INTO media (" + mediaCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)"
	args := []any{m.ID, m.OwnerID, string(m.Purpose), m.ContentType, m.Size, string(m.Status), m.FailureReason, variantsJSON(m.Variants),
		m.ETag, m.Checksum, nullTime(m.ClaimedAt), nullTime(m.CreatedAt), nullTime(m.UpdatedAt)}
	claim, claimed := claimUpdate(ctx, m.ID)
	if admit == nil && !claimed {
		// One statement, no transaction: a new item is in no feed.
		ctx, cancel := s.opCtx(ctx)
		defer cancel()
		if _, err := s.writer.ExecContext(ctx, insert, args...); err != nil {
			return domain.Media{}, translate(err, "media item already exists")
		}
		if s.pins != nil {
			s.pins.pin(entityKey(m.ID))
		}
		return m, nil
	}
	err := s.tx(ctx, "media item already exists", func(tx querier, b *feedBatch) error {
		// 1. Serialise the owner's creations on its admission row: the
		// upsert takes an exclusive record lock, held until the
		// transaction ends, whether it inserts the row or finds it.
		if admit != nil {
			if _, err := tx.ExecContext(ctx, "INSERT INTO media_admission (owner_id) VALUES (?) ON DUPLICATE KEY UPDATE owner_id = owner_id", m.OwnerID); err != nil {
				return err
			}
		}
		// 2. Insert before counting, so this transaction takes no insert
		// intention lock after its count's (shared, next-key under
		// REPEATABLE READ) locks: two owners whose index ranges share a
		// gap could otherwise deadlock.
		if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
			return err
		}
		// 3. Count with a locking read: it reads the latest committed
		// rows, not a snapshot, so it sees the previous holder's insert
		// even in the moment between that transaction releasing its locks
		// and becoming visible to new snapshots. The index covers the
		// query, so the shared locks stay on media_owner_status entries.
		if admit != nil {
			var n int
			var oldest sql.NullTime
			if err := tx.QueryRowContext(ctx, admissionCountQuery, m.OwnerID, m.ID).Scan(&n, &oldest); err != nil {
				return err
			}
			if err := call(func() error { return admit(n, fromNull(oldest)) }); err != nil {
				return err
			}
		}
		if claimed {
			b.update(claim) // marked with the reservation, as the write commits
		}
		b.pin(entityKey(m.ID))
		return nil
	})
	if err != nil {
		return domain.Media{}, err
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
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
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
		if _, err := tx.ExecContext(ctx, "UPDATE media SET purpose = ?, content_type = ?, size = ?, status = ?, failure_reason = ?, variants = ?, etag = ?, checksum = ?, claimed_at = ?, updated_at = ? WHERE id = ?",
			string(m.Purpose), m.ContentType, m.Size, string(m.Status), m.FailureReason, variantsJSON(m.Variants),
			m.ETag, m.Checksum, nullTime(m.ClaimedAt), nullTime(m.UpdatedAt), id); err != nil {
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
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
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

// maxStaleLimit bounds the page of ListStaleMedia (a sweep, not a client
// list, so larger than domain.MaxPageLimit).
const maxStaleLimit = 1000

// ListStaleMedia returns up to limit items that are pending or processing
// and whose updated_at is before before (a zero UpdatedAt, stored as NULL,
// counts as before any time), ordered by id, with ID > after (empty: from
// the first), and whether more follow. One statement on the writer (the
// sweep must not miss an item a lagging replica does not have yet), by the
// (status, id) index. Returns Invalid for a limit outside 1..1000 or an
// after that is not an id.
func (s *Store) ListStaleMedia(ctx context.Context, before time.Time, after string, limit int) ([]domain.Media, bool, error) {
	if limit < 1 || limit > maxStaleLimit {
		return nil, false, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxStaleLimit)
	}
	if after != "" && !validID(after) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	if before.IsZero() {
		return nil, false, nil // nothing is before the zero time
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	at := dbTime(before)
	items, err := queryRows(ctx, s.writer, scanMedia, staleQuery, after, at, limit+1, after, at, limit+1, limit+1)
	if err != nil {
		return nil, false, translate(err, "")
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	return items, more, nil
}
