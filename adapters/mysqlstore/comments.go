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
// exactly). Returns NotFound if the post does not exist, Conflict for a
// duplicate comment or notification id; nothing is written on error.
// Feed: comment change for the comment author and the post author, post
// change for the post author, notification change for n.UserID.
func (s *Store) CreateComment(ctx context.Context, c domain.Comment, n *domain.Notification) (domain.Comment, error) {
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
	err := s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		var postAuthor string
		err := tx.QueryRowContext(ctx, "SELECT author_id FROM posts WHERE id = ? FOR UPDATE", c.PostID).Scan(&postAuthor)
		if err != nil {
			return notFound(err, "post not found")
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO comments ("+commentCols+") VALUES (?, ?, ?, ?, ?)",
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
		if _, err := tx.ExecContext(ctx, "UPDATE posts SET comment_count = comment_count + 1 WHERE id = ?", c.PostID); err != nil {
			return err
		}
		b.add(c.AuthorID, domain.EntityComment, c.ID, false)
		b.add(postAuthor, domain.EntityComment, c.ID, false)
		b.add(postAuthor, domain.EntityPost, c.PostID, false)
		if n != nil {
			b.add(n.UserID, domain.EntityNotification, n.ID, false)
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

// deleteCommentNotes is the cascade of deleting comments to their
// notifications, for DeletePost and DeleteComment: it locks the
// notifications of the comments that cond selects (a condition on
// comments c, such as "c.post_id = ?", with arg), deletes them (no DELETE
// when there are none) and records a tombstone for each recipient in b.
// The caller holds the comments' post locked and deletes the comments.
func deleteCommentNotes(ctx context.Context, tx *sql.Tx, b *feedBatch, cond string, arg any) error {
	const from = " FROM notifications n JOIN comments c ON c.id = n.comment_id WHERE "
	notes, err := queryRows(ctx, tx, scanNoteRef, "SELECT n.id, n.user_id"+from+cond+" FOR UPDATE", arg)
	if err != nil || len(notes) == 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE n"+from+cond, arg); err != nil {
		return err
	}
	for _, n := range notes {
		b.add(n.user, domain.EntityNotification, n.id, true)
	}
	return nil
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
	err := s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		var postID string
		if err := tx.QueryRowContext(ctx, "SELECT post_id FROM comments WHERE id = ?", id).Scan(&postID); err != nil {
			return notFound(err, "comment not found")
		}
		p, err := getPost(ctx, tx, postID, " FOR UPDATE")
		if domain.IsCode(err, domain.NotFound) {
			return domain.Errorf(domain.NotFound, "comment not found")
		}
		if err != nil {
			return err
		}
		c, err := getComment(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		if c.PostID != postID { // comments never move; this guards the lock order
			return domain.Errorf(domain.NotFound, "comment not found")
		}
		if fn != nil {
			if err := call(func() error { return fn(c, p) }); err != nil {
				return err
			}
		}
		if err := deleteCommentNotes(ctx, tx, b, "c.id = ?", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM comments WHERE id = ?", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE posts SET comment_count = comment_count - 1 WHERE id = ?", postID); err != nil {
			return err
		}
		b.add(c.AuthorID, domain.EntityComment, id, true)
		b.add(p.AuthorID, domain.EntityComment, id, true)
		b.add(p.AuthorID, domain.EntityPost, postID, false)
		out = c
		return nil
	})
	if err != nil {
		return domain.Comment{}, err
	}
	return out, nil
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
