package mysqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// postCols reads a post with its attached media ids in display order from
// the posts row alone (posts.media_ids, written with the attachments), so
// reading posts is one primary-key or index lookup without joins.
const postCols = "p.id, p.author_id, p.body, p.media_ids, p.comment_count, p.created_at, p.updated_at, p.version"

func scanPost(r rowScanner) (domain.Post, error) {
	var p domain.Post
	var created, updated sql.NullTime
	var media string
	err := r.Scan(&p.ID, &p.AuthorID, &p.Body, &media, &p.CommentCount, &created, &updated, &p.Version)
	p.CreatedAt, p.UpdatedAt = fromNull(created), fromNull(updated)
	if media != "" {
		p.MediaIDs = strings.Split(media, ",")
	}
	return p, err
}

func scanPostRows(r *sql.Rows) (domain.Post, error) { return scanPost(r) }

// getPost reads one post; lock is "" or " FOR UPDATE".
func getPost(ctx context.Context, q querier, id, lock string) (domain.Post, error) {
	p, err := scanPost(q.QueryRowContext(ctx, "SELECT "+postCols+" FROM posts p WHERE p.id = ?"+lock, id))
	return p, notFound(err, "post not found")
}

// CreatePost inserts p with Version 1 and CommentCount 0 and attaches
// p.MediaIDs to it, in one transaction. Returns Conflict for a duplicate id
// or a media item attached to another post, NotFound for a missing media
// item, Forbidden for media owned by someone else, Invalid for a media
// list domain.CheckMediaIDs refuses (an id listed twice, more than
// domain.MaxMediaPerPost) or an id that cannot be stored; nothing is
// written on error. Feed: post change for the author.
func (s *Store) CreatePost(ctx context.Context, p domain.Post) (domain.Post, error) {
	if err := checkNewID("post", p.ID); err != nil {
		return domain.Post{}, err
	}
	p.MediaIDs = cloneIDs(p.MediaIDs)
	p.Version, p.CommentCount = 1, 0
	p.CreatedAt, p.UpdatedAt = dbTime(p.CreatedAt), dbTime(p.UpdatedAt)
	err := s.tx(ctx, "post already exists", func(tx *sql.Tx, b *feedBatch) error {
		if err := checkAttach(ctx, tx, p.AuthorID, p.ID, p.MediaIDs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO posts (id, author_id, body, media_ids, comment_count, created_at, updated_at, version) VALUES (?, ?, ?, ?, 0, ?, ?, 1)",
			p.ID, p.AuthorID, p.Body, strings.Join(p.MediaIDs, ","), nullTime(p.CreatedAt), nullTime(p.UpdatedAt)); err != nil {
			return err
		}
		if err := attach(ctx, tx, p.ID, p.MediaIDs); err != nil {
			return err
		}
		b.add(p.AuthorID, domain.EntityPost, p.ID, false)
		for _, m := range p.MediaIDs {
			b.pin(entityKey(m))
		}
		return nil
	})
	if err != nil {
		return domain.Post{}, err
	}
	return p, nil
}

func cloneIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	return append([]string(nil), ids...)
}

// checkAttach validates that the media list may be attached to post postID
// of author: domain.CheckMediaIDs, then, with the items locked, every item
// exists, is the author's and is on no other post.
func checkAttach(ctx context.Context, tx *sql.Tx, author, postID string, mediaIDs []string) error {
	if err := domain.CheckMediaIDs(mediaIDs); err != nil || len(mediaIDs) == 0 {
		return err
	}
	type ref struct {
		owner string
		post  sql.NullString
	}
	found := map[string]ref{}
	ids := validIDs(mediaIDs)
	if len(ids) > 0 {
		rows, err := tx.QueryContext(ctx, "SELECT id, owner_id, post_id FROM media WHERE id IN ("+placeholders(len(ids))+") FOR UPDATE", anys(ids)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var r ref
			if err := rows.Scan(&id, &r.owner, &r.post); err != nil {
				return err
			}
			found[id] = r
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, id := range mediaIDs {
		r, ok := found[id]
		switch {
		case !ok:
			return domain.Errorf(domain.NotFound, "media item not found")
		case r.owner != author:
			return domain.Errorf(domain.Forbidden, "media item belongs to someone else")
		case r.post.Valid && r.post.String != postID:
			return domain.Errorf(domain.Conflict, "media item is attached to another post")
		}
	}
	return nil
}

// attach points the items of mediaIDs at postID in display order (one
// statement). Items of the post that mediaIDs does not list must have
// been removed first (deletePostMedia).
func attach(ctx context.Context, tx *sql.Tx, postID string, mediaIDs []string) error {
	if len(mediaIDs) == 0 {
		return nil
	}
	var pos strings.Builder
	args := make([]any, 0, 3*len(mediaIDs)+1)
	for i, id := range mediaIDs {
		pos.WriteString(" WHEN ? THEN ?")
		args = append(args, id, i)
	}
	q := "UPDATE media SET post_pos = CASE id" + pos.String() + " END, post_id = ? WHERE id IN (" + placeholders(len(mediaIDs)) + ")"
	args = append(args, postID)
	_, err := tx.ExecContext(ctx, q, append(args, anys(mediaIDs)...)...)
	return err
}

// deletePostMedia locks and deletes the media rows of post postID that
// keep does not list (all of them when keep is empty) and returns them as
// they were, in display order; the DELETE is skipped when there are none.
// The rows go in the transaction that drops them from the post, so no
// reader, post or profile can refer to them afterwards: what is left is
// for the caller to delete, their blobs.
func deletePostMedia(ctx context.Context, tx *sql.Tx, b *feedBatch, postID string, keep []string) ([]domain.Media, error) {
	where, args := " WHERE post_id = ?", []any{postID}
	if len(keep) > 0 {
		where += " AND id NOT IN (" + placeholders(len(keep)) + ")"
		args = append(args, anys(keep)...)
	}
	media, err := queryRows(ctx, tx, scanMedia, "SELECT "+mediaCols+" FROM media"+where+" ORDER BY post_pos FOR UPDATE", args...)
	if err != nil || len(media) == 0 {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM media"+where, args...); err != nil {
		return nil, err
	}
	for _, m := range media {
		b.pin(entityKey(m.ID))
	}
	return media, nil
}

// GetPost returns the post with its media ids (one statement). Returns
// NotFound.
func (s *Store) GetPost(ctx context.Context, id string) (domain.Post, error) {
	if !validID(id) {
		return domain.Post{}, domain.Errorf(domain.NotFound, "post not found")
	}
	return readOne(ctx, s, []string{entityKey(id)}, func(ctx context.Context, db *sql.DB) (domain.Post, error) {
		return getPost(ctx, db, id, "")
	})
}

// GetPostWithMedia returns the post and its media items in MediaIDs
// order: the post by primary key, then, when it has media, the items by
// primary key (two statements, each routed like GetPost and
// GetMediaBatch). Measured against one LEFT JOIN of the two tables on
// MariaDB: the join saves a third on a post with two images but costs
// half as much again on a post without any, since the server sends and
// the driver parses the metadata of all twenty columns every time.
// Returns NotFound.
func (s *Store) GetPostWithMedia(ctx context.Context, id string) (domain.Post, []domain.Media, error) {
	p, err := s.GetPost(ctx, id)
	if err != nil || len(p.MediaIDs) == 0 {
		return p, nil, err
	}
	items, err := s.GetMediaBatch(ctx, p.MediaIDs)
	if err != nil {
		return domain.Post{}, nil, err
	}
	slices.SortFunc(items, func(a, b domain.Media) int {
		return slices.Index(p.MediaIDs, a.ID) - slices.Index(p.MediaIDs, b.ID)
	})
	return p, items, nil
}

// GetPosts returns the posts that exist among ids, each once, in no
// particular order (one statement per 500 ids).
func (s *Store) GetPosts(ctx context.Context, ids []string) ([]domain.Post, error) {
	return readBatch(ctx, s, validIDs(ids), func(ctx context.Context, db *sql.DB, ids []string) ([]domain.Post, error) {
		return queryIn(ctx, db, scanPostRows, "SELECT "+postCols+" FROM posts p WHERE p.id IN (IN)", nil, ids)
	}, func(p domain.Post) string { return p.ID })
}

// UpdatePost locks the post, calls fn with it and saves it with Version+1
// (ID, AuthorID, CreatedAt and CommentCount keep their stored values);
// media attachments follow MediaIDs: when the list changed, the items it
// no longer lists are deleted in the same transaction (deletePostMedia)
// and returned as they were, still naming the post. An error from fn is
// returned unchanged and nothing is saved. Returns NotFound, and for the
// new media list the errors of CreatePost; nothing is written on error.
// Feed: post change for the author.
func (s *Store) UpdatePost(ctx context.Context, id string, fn func(p *domain.Post) error) (domain.Post, []domain.Media, error) {
	if !validID(id) {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	var out domain.Post
	var removed []domain.Media
	err := s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		removed = nil // the transaction may run again
		cur, err := getPost(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		scratch := cur
		scratch.MediaIDs = cloneIDs(cur.MediaIDs)
		if err := call(func() error { return fn(&scratch) }); err != nil {
			return err
		}
		// Copy: fn may keep the pointer it was given and change it later.
		p := scratch
		p.MediaIDs = cloneIDs(scratch.MediaIDs)
		p.ID, p.AuthorID, p.CreatedAt, p.CommentCount = cur.ID, cur.AuthorID, cur.CreatedAt, cur.CommentCount
		p.Version = cur.Version + 1
		p.UpdatedAt = dbTime(p.UpdatedAt)
		mediaChanged := !slices.Equal(cur.MediaIDs, p.MediaIDs)
		if mediaChanged {
			if err := checkAttach(ctx, tx, p.AuthorID, p.ID, p.MediaIDs); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, "UPDATE posts SET body = ?, media_ids = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?",
			p.Body, strings.Join(p.MediaIDs, ","), nullTime(p.UpdatedAt), p.Version, id, cur.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return domain.Errorf(domain.Conflict, "the post changed concurrently")
		}
		if mediaChanged {
			if removed, err = deletePostMedia(ctx, tx, b, id, p.MediaIDs); err != nil {
				return err
			}
			if err := attach(ctx, tx, id, p.MediaIDs); err != nil {
				return err
			}
		}
		b.add(p.AuthorID, domain.EntityPost, p.ID, false)
		for _, m := range append(cur.MediaIDs, p.MediaIDs...) {
			b.pin(entityKey(m))
		}
		out = p
		return nil
	})
	if err != nil {
		return domain.Post{}, nil, err
	}
	return out, removed, nil
}

// DeletePost locks the post and calls fn (may be nil) with it to
// authorise; its error is returned unchanged and nothing is deleted. Then
// it deletes the post, its comments and their notifications, its media
// rows and everyone's mutes of it (with the post, in one multi-table
// DELETE), and returns the deleted post and media. Returns NotFound. Feed:
// tombstones for the post (author), each comment (post author and comment
// author) and each notification (recipient).
func (s *Store) DeletePost(ctx context.Context, id string, fn func(p domain.Post) error) (domain.Post, []domain.Media, error) {
	if !validID(id) {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	var post domain.Post
	var removed []domain.Media
	err := s.tx(ctx, "", func(tx *sql.Tx, b *feedBatch) error {
		p, err := getPost(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		if fn != nil {
			if err := call(func() error { return fn(p) }); err != nil {
				return err
			}
		}
		type commentRef struct{ id, author string }
		comments, err := queryRows(ctx, tx, func(r *sql.Rows) (commentRef, error) {
			var c commentRef
			err := r.Scan(&c.id, &c.author)
			return c, err
		}, "SELECT id, author_id FROM comments WHERE post_id = ? ORDER BY id FOR UPDATE", id)
		if err != nil {
			return err
		}
		if len(comments) > 0 {
			if err := deleteCommentNotes(ctx, tx, b, "c.post_id = ?", id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM comments WHERE post_id = ?", id); err != nil {
				return err
			}
		}
		media, err := deletePostMedia(ctx, tx, b, id, nil)
		if err != nil {
			return err
		}
		// The post and its mutes in one statement.
		if _, err := tx.ExecContext(ctx, "DELETE p, m FROM posts p LEFT JOIN post_mutes m ON m.post_id = p.id WHERE p.id = ?", id); err != nil {
			return err
		}
		for _, c := range comments {
			b.add(p.AuthorID, domain.EntityComment, c.id, true)
			b.add(c.author, domain.EntityComment, c.id, true)
		}
		b.add(p.AuthorID, domain.EntityPost, id, true)
		post, removed = p, media
		return nil
	})
	if err != nil {
		return domain.Post{}, nil, err
	}
	return post, removed, nil
}

// ListPosts returns up to q.Limit posts newest first (by id) with ID <
// q.Before (when set), of q.AuthorID (when set), and whether more follow:
// one keyset statement on the primary key or (author_id, id). Returns
// Invalid for a limit outside 1..100.
func (s *Store) ListPosts(ctx context.Context, q ports.PostQuery) ([]domain.Post, bool, error) {
	if err := checkLimit(q.Limit); err != nil {
		return nil, false, err
	}
	if q.Before != "" && !validID(q.Before) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	if q.AuthorID != "" && !validID(q.AuthorID) {
		return nil, false, nil // no such author
	}
	var where []string
	var args []any
	key := allPostsKey
	if q.AuthorID != "" {
		where, args, key = append(where, "p.author_id = ?"), append(args, q.AuthorID), userKey(q.AuthorID)
	}
	if q.Before != "" {
		where, args = append(where, "p.id < ?"), append(args, q.Before)
	}
	query := "SELECT " + postCols + " FROM posts p"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY p.id DESC LIMIT ?"
	args = append(args, q.Limit+1)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	page, err := queryRows(ctx, s.readDB(key), scanPostRows, query, args...)
	if err != nil {
		return nil, false, translate(err, "")
	}
	more := len(page) > q.Limit
	if more {
		page = page[:q.Limit]
	}
	return page, more, nil
}
