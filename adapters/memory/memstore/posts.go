package memstore

import (
	"context"
	"slices"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// CreatePost inserts p with Version 1 and CommentCount 0 and attaches
// p.MediaIDs to it. Returns Invalid for a media list domain.CheckMediaIDs
// refuses (an id listed twice, more than domain.MaxMediaPerPost), Conflict
// for a duplicate id or a media item attached to another post, NotFound for
// a missing media item, Forbidden for media owned by someone else; nothing
// is written on error. Feed: post change for the author. With an
// idempotency claim in ctx (ports.WithIdempotencyClaim) the claim's record
// is marked committed with p.ID under the same lock; Conflict, and nothing
// written, when the claim is no longer held.
func (s *Store) CreatePost(ctx context.Context, p domain.Post) (domain.Post, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Post{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.posts[p.ID]; ok {
		return domain.Post{}, domain.Errorf(domain.Conflict, "post already exists")
	}
	p = clonePost(p)
	if err := s.checkAttach(p.AuthorID, p.ID, p.MediaIDs); err != nil {
		return domain.Post{}, err
	}
	claim, claimed, err := s.checkClaimLocked(ctx)
	if err != nil {
		return domain.Post{}, err
	}
	if claimed {
		s.markClaimLocked(claim, p.ID)
	}
	p.Version, p.CommentCount = 1, 0
	s.setAttachments(p.ID, nil, p.MediaIDs) // removes nothing: there was no list
	s.posts[p.ID] = p
	s.postIDs = insertID(s.postIDs, p.ID)
	indexAdd(s.postsByAuthor, p.AuthorID, p.ID)
	var b feedBatch
	b.add(p.AuthorID, domain.EntityPost, p.ID, false)
	s.commit(&b)
	return clonePost(p), nil
}

// checkAttach validates that the media list may be attached to post postID
// of author: domain.CheckMediaIDs, then every item exists, is the author's
// and is on no other post. Callers hold s.mu.
func (s *Store) checkAttach(author, postID string, mediaIDs []string) error {
	if err := domain.CheckMediaIDs(mediaIDs); err != nil {
		return err
	}
	for _, mid := range mediaIDs {
		m, ok := s.media[mid]
		switch {
		case !ok:
			return domain.Errorf(domain.NotFound, "media item not found")
		case m.OwnerID != author:
			return domain.Errorf(domain.Forbidden, "media item belongs to someone else")
		case m.PostID != "" && m.PostID != postID:
			return domain.Errorf(domain.Conflict, "media item is attached to another post")
		}
	}
	return nil
}

// setAttachments makes new the media of post postID, whose media were old:
// it deletes the items of old that new does not list and returns them as
// they were (still naming the post), and attaches the items of new.
// Callers hold s.mu and have run checkAttach on new.
func (s *Store) setAttachments(postID string, old, new []string) []domain.Media {
	var removed []domain.Media
	for _, mid := range old {
		if !slices.Contains(new, mid) {
			removed = append(removed, cloneMedia(s.media[mid]))
			s.deleteMediaLocked(mid)
		}
	}
	for _, mid := range new {
		m := s.media[mid]
		m.PostID = postID
		s.media[mid] = m
	}
	return removed
}

// GetPost returns the post. Returns NotFound.
func (s *Store) GetPost(ctx context.Context, id string) (domain.Post, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Post{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.posts[id]
	if !ok {
		return domain.Post{}, domain.Errorf(domain.NotFound, "post not found")
	}
	return clonePost(p), nil
}

// GetPostWithMedia returns the post and its media items in MediaIDs
// order, under one read lock. Returns NotFound.
func (s *Store) GetPostWithMedia(ctx context.Context, id string) (domain.Post, []domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Post{}, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.posts[id]
	if !ok {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	var items []domain.Media
	for _, mid := range p.MediaIDs {
		if m, ok := s.media[mid]; ok {
			items = append(items, cloneMedia(m))
		}
	}
	return clonePost(p), items, nil
}

// GetPosts returns the posts that exist among ids, each once, in the order
// of ids.
func (s *Store) GetPosts(ctx context.Context, ids []string) ([]domain.Post, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Post
	for _, id := range uniqueIDs(ids) {
		if p, ok := s.posts[id]; ok {
			out = append(out, clonePost(p))
		}
	}
	return out, nil
}

// UpdatePost calls fn with a copy of the post under the store lock and saves
// it with Version+1 (ID, AuthorID, CreatedAt and CommentCount keep their
// stored values); media attachments follow MediaIDs: the items MediaIDs no
// longer lists are deleted and returned (as they were, still naming the
// post) so the caller can delete their blobs. An error from fn is returned
// unchanged and nothing is saved. Returns NotFound, and for the new media
// list the errors of CreatePost; nothing is written on error. Feed: post
// change for the author.
func (s *Store) UpdatePost(ctx context.Context, id string, fn func(p *domain.Post) error) (domain.Post, []domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Post{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.posts[id]
	if !ok {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	scratch := clonePost(cur)
	if err := fn(&scratch); err != nil {
		return domain.Post{}, nil, err
	}
	// Copy again: fn may keep the pointer it was given and change it later.
	p := clonePost(scratch)
	p.ID, p.AuthorID, p.CreatedAt, p.CommentCount = cur.ID, cur.AuthorID, cur.CreatedAt, cur.CommentCount
	p.Version = cur.Version + 1
	if err := s.checkAttach(p.AuthorID, p.ID, p.MediaIDs); err != nil {
		return domain.Post{}, nil, err
	}
	removed := s.setAttachments(p.ID, cur.MediaIDs, p.MediaIDs)
	s.posts[id] = p
	var b feedBatch
	b.add(p.AuthorID, domain.EntityPost, p.ID, false)
	s.commit(&b)
	return clonePost(p), removed, nil
}

// DeletePost calls fn (may be nil) with the post under the store lock to
// authorise; its error is returned unchanged and nothing is deleted. Then it
// deletes the post, its comments and their notifications, its media rows
// and everyone's mutes of it, and returns the deleted post and media.
// Returns NotFound. Feed: tombstones for the post (author), each comment
// (post author and comment author) and each notification (recipient).
func (s *Store) DeletePost(ctx context.Context, id string, fn func(p domain.Post) error) (domain.Post, []domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Post{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[id]
	if !ok {
		return domain.Post{}, nil, domain.Errorf(domain.NotFound, "post not found")
	}
	if fn != nil {
		if err := fn(clonePost(p)); err != nil {
			return domain.Post{}, nil, err
		}
	}
	var b feedBatch
	removed := s.deletePostLocked(id, &b)
	s.commit(&b)
	return clonePost(p), removed, nil
}

// deletePostLocked removes an existing post with its comments, their
// notifications, its media and its mutes, records the tombstones in b and returns the
// removed media. Callers hold s.mu.
func (s *Store) deletePostLocked(id string, b *feedBatch) []domain.Media {
	p := s.posts[id]
	for _, cid := range cloneIDs(s.commentsByPost[id]) {
		c := s.comments[cid]
		for _, nid := range cloneIDs(s.notifsByComment[cid]) {
			s.deleteNotificationLocked(nid, b)
		}
		delete(s.comments, cid)
		indexDrop(s.commentsByAuthor, c.AuthorID, cid)
		b.add(p.AuthorID, domain.EntityComment, cid, true)
		b.add(c.AuthorID, domain.EntityComment, cid, true)
	}
	delete(s.commentsByPost, id)
	for _, user := range s.mutesByPost[id] {
		indexDrop(s.mutesByUser, user, id)
	}
	delete(s.mutesByPost, id)
	removed := s.setAttachments(id, p.MediaIDs, nil)
	delete(s.posts, id)
	s.postIDs = dropID(s.postIDs, id)
	indexDrop(s.postsByAuthor, p.AuthorID, id)
	b.add(p.AuthorID, domain.EntityPost, id, true)
	return removed
}

// ListPosts returns up to q.Limit posts newest first (by id) with ID <
// q.Before (when set), of q.AuthorID (when set), and whether more follow.
// Returns Invalid for a limit outside 1..100.
func (s *Store) ListPosts(ctx context.Context, q ports.PostQuery) ([]domain.Post, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return nil, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.postIDs
	if q.AuthorID != "" {
		ids = s.postsByAuthor[q.AuthorID]
	}
	page, more := newestBefore(ids, q.Before, q.Limit)
	out := make([]domain.Post, len(page))
	for i, id := range page {
		out[i] = clonePost(s.posts[id])
	}
	return out, more, nil
}
