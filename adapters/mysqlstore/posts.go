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

// postScan holds the postCols of a row as scanned.
type postScan struct {
	p                domain.Post
	media            string
	created, updated sql.NullTime
}

// dest returns the Scan destinations, in postCols order.
func (x *postScan) dest() []any {
	return []any{&x.p.ID, &x.p.AuthorID, &x.p.Body, &x.media, &x.p.CommentCount, &x.created, &x.updated, &x.p.Version}
}

// post converts the scanned row.
func (x *postScan) post() domain.Post {
	p := x.p
	p.CreatedAt, p.UpdatedAt = fromNull(x.created), fromNull(x.updated)
	if x.media != "" {
		p.MediaIDs = strings.Split(x.media, ",")
	}
	return p
}

func scanPost(r rowScanner) (domain.Post, error) {
	var x postScan
	err := r.Scan(x.dest()...)
	return x.post(), err
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
//
// With an idempotency claim in ctx (ports.WithIdempotencyClaim) the
// claim's record is marked committed with p.ID in the same transaction,
// folded into the statement that attaches the media (claimUpdate: no
// extra round trip); Conflict, and nothing written, when the claim is no
// longer held.
func (s *Store) CreatePost(ctx context.Context, p domain.Post) (domain.Post, error) {
	if err := checkNewID("post", p.ID); err != nil {
		return domain.Post{}, err
	}
	p.MediaIDs = cloneIDs(p.MediaIDs)
	p.Version, p.CommentCount = 1, 0
	p.CreatedAt, p.UpdatedAt = dbTime(p.CreatedAt), dbTime(p.UpdatedAt)
	if err := domain.CheckMediaIDs(p.MediaIDs); err != nil {
		return domain.Post{}, err
	}
	// INSERT, then the media and the feed head in one UPDATE, the changes,
	// COMMIT: four round trips.
	err := s.tx(ctx, "post already exists", func(tx querier, b *feedBatch) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO posts (id, author_id, body, media_ids, comment_count, created_at, updated_at, version) VALUES (?, ?, ?, ?, 0, ?, ?, 1)",
			p.ID, p.AuthorID, p.Body, strings.Join(p.MediaIDs, ","), nullTime(p.CreatedAt), nullTime(p.UpdatedAt)); err != nil {
			return err
		}
		if len(p.MediaIDs) > 0 {
			b.update(attachMedia(p.AuthorID, p.ID, p.MediaIDs, nil))
		}
		if u, ok := claimUpdate(ctx, p.ID); ok {
			b.update(u)
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

// checkAttach explains why media of mediaIDs cannot be attached to post
// postID of author: an item is missing (NotFound), someone else's
// (Forbidden) or on another post (Conflict); nil when none of these holds.
// It runs after attachMedia's update changed fewer rows than expected.
func checkAttach(ctx context.Context, q querier, author, postID string, mediaIDs []string) error {
	type ref struct {
		owner string
		post  sql.NullString
	}
	found := map[string]ref{}
	if ids := validIDs(mediaIDs); len(ids) > 0 {
		rows, err := q.QueryContext(ctx, "SELECT id, owner_id, post_id FROM media WHERE id IN ("+placeholders(len(ids))+")", anys(ids)...)
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

// attachMedia is the update that points the items of mediaIDs (checked by
// domain.CheckMediaIDs) at post postID in display order, for the post's
// feed reservation: only items of author that are on no post or on this
// one change, so a missing, foreign or taken item leaves the reservation
// short and checkAttach names it. cur is the post's media list before
// (items still at their index do not change). Items of the post that
// mediaIDs does not list must have been removed first.
func attachMedia(author, postID string, mediaIDs, cur []string) rowUpdate {
	u := rowUpdate{table: "media m", diagnose: func(ctx context.Context, q querier) error {
		return checkAttach(ctx, q, author, postID, mediaIDs)
	}}
	u.set = "m.post_id = ?, m.post_pos = CASE m.id" + strings.Repeat(" WHEN ? THEN ?", len(mediaIDs)) + " END"
	u.setArgs = append(u.setArgs, postID)
	for i, id := range mediaIDs {
		u.setArgs = append(u.setArgs, id, i)
		if i >= len(cur) || cur[i] != id {
			u.rows++
		}
	}
	u.where = "m.id IN (" + placeholders(len(mediaIDs)) + ") AND m.owner_id = ? AND (m.post_id IS NULL OR m.post_id = ?)"
	u.whereArgs = append(anys(mediaIDs), author, postID)
	return u
}

// lockPostWithMedia reads post id and its media items in display order,
// locking them (the post first, then its media: the order every write
// takes), in one statement. Returns NotFound.
func lockPostWithMedia(ctx context.Context, tx querier, id string) (domain.Post, []domain.Media, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+postCols+", "+mediaColsOf("m")+
		" FROM posts p LEFT JOIN media m ON m.post_id = p.id WHERE p.id = ? ORDER BY m.post_pos FOR UPDATE", id)
	if err != nil {
		return domain.Post{}, nil, err
	}
	defer rows.Close()
	var p domain.Post
	var media []domain.Media
	found := false
	for rows.Next() {
		var x postScan
		var m mediaScan
		if err := rows.Scan(append(x.dest(), m.dest()...)...); err != nil {
			return domain.Post{}, nil, err
		}
		p, found = x.post(), true
		if m.id.Valid {
			item, err := m.media()
			if err != nil {
				return domain.Post{}, nil, err
			}
			media = append(media, item)
		}
	}
	if err := rows.Err(); err != nil {
		return domain.Post{}, nil, err
	}
	if !found {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	return p, media, nil
}

// deleteMediaRows deletes the media rows of items (one statement, none
// when empty) and pins them. The rows go in the transaction that drops
// them from their post, so no reader, post or profile can refer to them
// afterwards: what is left is for the caller to delete, their blobs.
func deleteMediaRows(ctx context.Context, tx querier, b *feedBatch, items []domain.Media) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	for i, m := range items {
		ids[i] = m.ID
		b.pin(entityKey(m.ID))
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM media WHERE id IN ("+placeholders(len(ids))+")", anys(ids)...)
	return err
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
	// The post and its media locked and read, the media it drops deleted
	// (when any), the post, the media it attaches and the feed head in one
	// UPDATE, the change, COMMIT: at most five round trips.
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		removed = nil // the transaction may run again
		cur, curMedia, err := lockPostWithMedia(ctx, tx, id)
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
		b.update(rowUpdate{table: "posts p", set: "p.body = ?, p.media_ids = ?, p.updated_at = ?, p.version = ?",
			setArgs: []any{p.Body, strings.Join(p.MediaIDs, ","), nullTime(p.UpdatedAt), p.Version},
			where:   "p.id = ?", whereArgs: []any{id}, rows: 1})
		if !slices.Equal(cur.MediaIDs, p.MediaIDs) {
			if err := domain.CheckMediaIDs(p.MediaIDs); err != nil {
				return err
			}
			for _, m := range curMedia {
				if !slices.Contains(p.MediaIDs, m.ID) {
					removed = append(removed, m)
				}
			}
			if err := deleteMediaRows(ctx, tx, b, removed); err != nil {
				return err
			}
			if len(p.MediaIDs) > 0 {
				b.update(attachMedia(p.AuthorID, id, p.MediaIDs, cur.MediaIDs))
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
// rows and everyone's mutes of it, and returns the deleted post and media
// (in display order). Returns NotFound. Feed: tombstones for the post
// (author), each comment (post author and comment author) and each
// notification (recipient).
func (s *Store) DeletePost(ctx context.Context, id string, fn func(p domain.Post) error) (domain.Post, []domain.Media, error) {
	if !validID(id) {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	var post domain.Post
	var removed []domain.Media
	// One read that locks everything it deletes, one multi-table DELETE,
	// the feed head, the changes, COMMIT: five round trips (two more for a
	// post so large that the DELETE's join would be).
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		p, media, comments, mutes, err := lockPostTree(ctx, tx, id)
		if err != nil {
			return err
		}
		if fn != nil {
			if err := call(func() error { return fn(p) }); err != nil {
				return err
			}
		}
		if max(1, len(comments))*max(1, len(media))*max(1, mutes) <= maxDeleteJoin {
			if _, err := tx.ExecContext(ctx, "DELETE p, c, n, md, mu FROM posts p"+
				" LEFT JOIN comments c ON c.post_id = p.id LEFT JOIN notifications n ON n.comment_id = c.id"+
				" LEFT JOIN media md ON md.post_id = p.id LEFT JOIN post_mutes mu ON mu.post_id = p.id WHERE p.id = ?", id); err != nil {
				return err
			}
		} else {
			for _, q := range []string{
				"DELETE c, n FROM comments c LEFT JOIN notifications n ON n.comment_id = c.id WHERE c.post_id = ?",
				"DELETE FROM media WHERE post_id = ?",
				"DELETE p, mu FROM posts p LEFT JOIN post_mutes mu ON mu.post_id = p.id WHERE p.id = ?",
			} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
		}
		for _, m := range media {
			b.pin(entityKey(m.ID))
		}
		for _, c := range comments {
			b.add(p.AuthorID, domain.EntityComment, c.id, true)
			b.add(c.author, domain.EntityComment, c.id, true)
			if c.note.id != "" {
				b.add(c.note.user, domain.EntityNotification, c.note.id, true)
			}
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

// maxDeleteJoin bounds the rows of DeletePost's one-statement DELETE,
// whose join multiplies comments, media and mutes (a variable for a test).
var maxDeleteJoin = 20000

// commentRef names a comment, its author and its notification (if any).
type commentRef struct {
	id, author string
	note       noteRef
}

// lockPostTree reads post id with what deleting it deletes, locking each
// row (the post, its media, its comments, their notifications, in that
// order), in one statement: the media in display order, the comments by
// id, and the number of mutes of the post. Returns NotFound.
func lockPostTree(ctx context.Context, tx querier, id string) (domain.Post, []domain.Media, []commentRef, int, error) {
	// The three parts share one column list (postCols, then mediaCols):
	// comment rows carry the comment in the post's id and author columns
	// and its notification in the media item's, the mute count in
	// comment_count; the other columns hold placeholders of the right type.
	rows, err := tx.QueryContext(ctx, "(SELECT 'p', "+postCols+", "+mediaColsOf("m")+
		" FROM posts p LEFT JOIN media m ON m.post_id = p.id WHERE p.id = ? FOR UPDATE)"+
		" UNION ALL (SELECT 'c', c.id, c.author_id, '', '', 0, NULL, NULL, 0, n.id, n.user_id"+strings.Repeat(", NULL", 12)+
		" FROM comments c LEFT JOIN notifications n ON n.comment_id = c.id WHERE c.post_id = ? FOR UPDATE)"+
		" UNION ALL (SELECT 'u', '', '', '', '', COUNT(*), NULL, NULL, 0"+strings.Repeat(", NULL", 14)+" FROM post_mutes WHERE post_id = ?)",
		id, id, id)
	if err != nil {
		return domain.Post{}, nil, nil, 0, err
	}
	defer rows.Close()
	var p domain.Post
	var media []domain.Media
	var comments []commentRef
	var mutes int
	found := false
	for rows.Next() {
		var kind string
		var x postScan
		var m mediaScan
		if err := rows.Scan(append(append([]any{&kind}, x.dest()...), m.dest()...)...); err != nil {
			return domain.Post{}, nil, nil, 0, err
		}
		switch kind {
		case "p":
			p, found = x.post(), true
			if m.id.Valid {
				item, err := m.media()
				if err != nil {
					return domain.Post{}, nil, nil, 0, err
				}
				media = append(media, item)
			}
		case "c":
			comments = append(comments, commentRef{id: x.p.ID, author: x.p.AuthorID, note: noteRef{id: m.id.String, user: m.owner.String}})
		case "u":
			mutes = int(x.p.CommentCount)
		}
	}
	if err := rows.Err(); err != nil {
		return domain.Post{}, nil, nil, 0, err
	}
	if !found {
		return domain.Post{}, nil, nil, 0, domain.Errorf(domain.NotFound, "post not found")
	}
	slices.SortFunc(media, func(a, b domain.Media) int {
		return slices.Index(p.MediaIDs, a.ID) - slices.Index(p.MediaIDs, b.ID)
	})
	slices.SortFunc(comments, func(a, b commentRef) int { return strings.Compare(a.id, b.id) })
	return p, media, comments, mutes, nil
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
