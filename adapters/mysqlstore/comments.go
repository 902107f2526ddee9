package mysqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
)

const commentCols = "id, post_id, author_id, body, created_at"

func scanComment(r rowScanner) (domain.Comment, error) {
	var c domain.Comment
	var created sql.NullTime
	err := r.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.Body, &created)
	c.CreatedAt = fromNull(created)
	return c, err
}

func scanCommentRows(r *sql.Rows) (domain.Comment, error) { return scanComment(r) }

func getComment(ctx context.Context, q querier, id, lock string) (domain.Comment, error) {
	c, err := scanComment(q.QueryRowContext(ctx, "SELECT "+commentCols+" FROM comments WHERE id = ?"+lock, id))
	return c, notFound(err, "comment not found")
}

// CreateComment inserts c, increments the post's CommentCount and, when n
// is not nil, inserts the notification n with its push delivery pending
// and due at n.CreatedAt (the outbox entry: see ClaimDeliveries), in one
// transaction that first locks the post row (so concurrent comments count
// exactly). postAuthorID is the post's author (authors never change).
// Returns NotFound if the post does not exist, Invalid if postAuthorID is
// not its author, Conflict for a duplicate comment or notification id;
// nothing is written on error. Feed: comment change for the comment
// author and the post author, post change for the post author,
// notification change for n.UserID.
//
// With an idempotency claim in ctx (ports.WithIdempotencyClaim) the
// claim's record is marked committed with c.ID in the same transaction,
// folded into the statement that counts the comment (claimUpdate: no
// extra round trip); Conflict, and nothing written, when the claim is no
// longer held.
func (s *Store) CreateComment(ctx context.Context, c domain.Comment, postAuthorID string, n *domain.Notification) (domain.Comment, error) {
	if !validID(c.PostID) {
		return domain.Comment{}, domain.Errorf(domain.NotFound, "post not found")
	}
	if err := checkNewID("comment", c.ID); err != nil {
		return domain.Comment{}, err
	}
	if n != nil {
		if err := checkNewID("notification", n.ID); err != nil {
			return domain.Comment{}, err
		}
	}
	c.CreatedAt = dbTime(c.CreatedAt)
	// The post (counted) and the feed heads in one UPDATE, the comment,
	// the notification, the changes, COMMIT: five round trips.
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		b.add(c.AuthorID, domain.EntityComment, c.ID, false)
		b.add(postAuthorID, domain.EntityComment, c.ID, false)
		b.add(postAuthorID, domain.EntityPost, c.PostID, false)
		if n != nil {
			b.add(n.UserID, domain.EntityNotification, n.ID, false)
		}
		b.update(rowUpdate{table: "posts p", set: "p.comment_count = p.comment_count + 1",
			where: "p.id = ? AND p.author_id = ?", whereArgs: []any{c.PostID, postAuthorID}, rows: 1,
			diagnose: func(ctx context.Context, q querier) error {
				var author string
				if err := q.QueryRowContext(ctx, "SELECT author_id FROM posts WHERE id = ?", c.PostID).Scan(&author); err != nil {
					return notFound(err, "post not found")
				}
				if author != postAuthorID {
					return domain.Errorf(domain.Invalid, "the post's author is not the one given")
				}
				return nil
			}})
		if u, ok := claimUpdate(ctx, c.ID); ok {
			b.update(u)
		}
		// The post is locked before anything is inserted.
		if err := s.reserve(ctx, tx, b); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO comments ("+commentCols+") VALUES (?, ?, ?, ?, ?)",
			c.ID, c.PostID, c.AuthorID, c.Body, nullTime(c.CreatedAt))
		if duplicateKeyName(err) != "" {
			return domain.Wrap(err, domain.Conflict, "comment already exists")
		}
		if err != nil {
			return err
		}
		if n != nil {
			// The row is also the push's outbox entry: pending, due at its
			// CreatedAt (now when it has none), in the same INSERT.
			due := n.CreatedAt
			if due.IsZero() {
				due = s.now()
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO notifications ("+notificationCols+", push_state, push_next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				n.ID, n.UserID, string(n.Type), n.ActorID, n.PostID, n.CommentID, nullTime(n.CreatedAt), nullTimePtr(n.ReadAt),
				string(domain.DeliveryPending), dbTime(due))
			if duplicateKeyName(err) != "" {
				return domain.Wrap(err, domain.Conflict, "notification already exists")
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return domain.Comment{}, err
	}
	return c, nil
}

// GetComment returns the comment. Returns NotFound.
func (s *Store) GetComment(ctx context.Context, id string) (domain.Comment, error) {
	if !validID(id) {
		return domain.Comment{}, domain.Errorf(domain.NotFound, "comment not found")
	}
	return readOne(ctx, s, []string{entityKey(id)}, func(ctx context.Context, db *sql.DB) (domain.Comment, error) {
		return getComment(ctx, db, id, "")
	})
}

// GetComments returns the comments that exist among ids, each once, in no
// particular order.
func (s *Store) GetComments(ctx context.Context, ids []string) ([]domain.Comment, error) {
	return readBatch(ctx, s, validIDs(ids), func(ctx context.Context, db *sql.DB, ids []string) ([]domain.Comment, error) {
		return queryIn(ctx, db, scanCommentRows, "SELECT "+commentCols+" FROM comments WHERE id IN (IN)", nil, ids)
	}, func(c domain.Comment) string { return c.ID })
}

// noteRef names a notification and its recipient: what its tombstone needs.
type noteRef struct{ id, user string }

func scanNoteRef(r *sql.Rows) (noteRef, error) {
	var n noteRef
	err := r.Scan(&n.id, &n.user)
	return n, err
}

// DeleteComment locks the comment's post and then the comment (the order
// every write takes them in), calls fn (may be nil) with both to
// authorise (its error is returned unchanged and nothing is deleted), then
// deletes the comment and its notifications and decrements the post's
// CommentCount. Returns NotFound. Feed: comment tombstone for the comment
// author and the post author, notification tombstones for their
// recipients, post change for the post author.
func (s *Store) DeleteComment(ctx context.Context, id string, fn func(c domain.Comment, p domain.Post) error) (domain.Comment, error) {
	if !validID(id) {
		return domain.Comment{}, domain.Errorf(domain.NotFound, "comment not found")
	}
	var out domain.Comment
	// One read that locks the post, the comment and its notification, one
	// DELETE of both, the post (counted) and the feed heads in one UPDATE,
	// the changes, COMMIT: five round trips.
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		p, c, note, err := lockComment(ctx, tx, id)
		if err != nil {
			return err
		}
		if fn != nil {
			if err := call(func() error { return fn(c, p) }); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE c, n FROM comments c LEFT JOIN notifications n ON n.comment_id = c.id WHERE c.id = ?", id); err != nil {
			return err
		}
		b.update(rowUpdate{table: "posts p", set: "p.comment_count = p.comment_count - 1", where: "p.id = ?", whereArgs: []any{p.ID}, rows: 1})
		b.add(c.AuthorID, domain.EntityComment, id, true)
		b.add(p.AuthorID, domain.EntityComment, id, true)
		b.add(p.AuthorID, domain.EntityPost, p.ID, false)
		if note.id != "" {
			b.add(note.user, domain.EntityNotification, note.id, true)
		}
		out = c
		return nil
	})
	if err != nil {
		return domain.Comment{}, err
	}
	return out, nil
}

// lockComment reads comment id, its post and its notification (if any),
// locking each row, in one statement: the post first, then the comment
// and its notification (the order every write takes; the subquery that
// finds the post does not lock). Returns NotFound.
func lockComment(ctx context.Context, tx querier, id string) (domain.Post, domain.Comment, noteRef, error) {
	// Both parts use postCols and two more columns: the comment's row
	// carries the comment in the post's id, author, body, media_ids (its
	// post id) and created_at columns, and its notification in the two
	// extra ones.
	rows, err := tx.QueryContext(ctx, "(SELECT 'p', "+postCols+", NULL, NULL FROM posts p WHERE p.id = (SELECT post_id FROM comments WHERE id = ?) FOR UPDATE)"+
		" UNION ALL (SELECT 'c', c.id, c.author_id, c.body, c.post_id, 0, c.created_at, NULL, 0, n.id, n.user_id"+
		" FROM comments c LEFT JOIN notifications n ON n.comment_id = c.id WHERE c.id = ? FOR UPDATE)", id, id)
	if err != nil {
		return domain.Post{}, domain.Comment{}, noteRef{}, err
	}
	defer rows.Close()
	var p domain.Post
	var c domain.Comment
	var note noteRef
	var havePost, haveComment bool
	for rows.Next() {
		var kind string
		var x postScan
		var noteID, noteUser sql.NullString
		if err := rows.Scan(append(append([]any{&kind}, x.dest()...), &noteID, &noteUser)...); err != nil {
			return domain.Post{}, domain.Comment{}, noteRef{}, err
		}
		switch kind {
		case "p":
			p, havePost = x.post(), true
		case "c":
			c = domain.Comment{ID: x.p.ID, AuthorID: x.p.AuthorID, Body: x.p.Body, PostID: x.media, CreatedAt: fromNull(x.created)}
			note, haveComment = noteRef{id: noteID.String, user: noteUser.String}, true
		}
	}
	if err := rows.Err(); err != nil {
		return domain.Post{}, domain.Comment{}, noteRef{}, err
	}
	if !havePost || !haveComment {
		return domain.Post{}, domain.Comment{}, noteRef{}, domain.Errorf(domain.NotFound, "comment not found")
	}
	return p, c, note, nil
}

// ListComments returns up to limit comments of the post oldest first (by
// id) with ID > after, and whether more follow: one keyset statement on
// (post_id, id), plus a check that the post exists when the page is empty.
// Returns NotFound if the post does not exist, Invalid for a limit outside
// 1..100 or an after that is not an id.
func (s *Store) ListComments(ctx context.Context, postID, after string, limit int) ([]domain.Comment, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	if !validID(postID) {
		return nil, false, domain.Errorf(domain.NotFound, "post not found")
	}
	if after != "" && !validID(after) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	type page struct {
		items []domain.Comment
		more  bool
	}
	res, err := readOne(ctx, s, []string{entityKey(postID)}, func(ctx context.Context, db *sql.DB) (page, error) {
		var b strings.Builder
		b.WriteString("SELECT " + commentCols + " FROM comments WHERE post_id = ?")
		args := []any{postID}
		if after != "" {
			b.WriteString(" AND id > ?")
			args = append(args, after)
		}
		b.WriteString(" ORDER BY id LIMIT ?")
		args = append(args, limit+1)
		items, err := queryRows(ctx, db, scanCommentRows, b.String(), args...)
		if err != nil {
			return page{}, err
		}
		if len(items) == 0 {
			var one int
			if err := db.QueryRowContext(ctx, "SELECT 1 FROM posts WHERE id = ?", postID).Scan(&one); err != nil {
				return page{}, notFound(err, "post not found")
			}
		}
		more := len(items) > limit
		if more {
			items = items[:limit]
		}
		return page{items, more}, nil
	})
	return res.items, res.more, err
}
