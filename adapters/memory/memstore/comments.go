package memstore

import (
	"context"

	"github.com/cloudpost/cloudpost/core/domain"
)

// CreateComment inserts c, increments the post's CommentCount and, when n is
// not nil, inserts the notification n with its push delivery pending and due
// at n.CreatedAt (the store's clock when zero; see ClaimDeliveries),
// atomically. postAuthorID is the post's author. Returns NotFound if the
// post does not exist, Invalid if postAuthorID is not its author, Conflict
// for a duplicate comment or notification id; nothing is written on
// error. Feed: comment change for the comment author and the post author,
// post change for the post author, notification change for n.UserID. With
// an idempotency claim in ctx (ports.WithIdempotencyClaim) the claim's
// record is marked committed with c.ID under the same lock; Conflict, and
// nothing written, when the claim is no longer held.
func (s *Store) CreateComment(ctx context.Context, c domain.Comment, postAuthorID string, n *domain.Notification) (domain.Comment, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Comment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[c.PostID]
	if !ok {
		return domain.Comment{}, domain.Errorf(domain.NotFound, "post not found")
	}
	if p.AuthorID != postAuthorID {
		return domain.Comment{}, domain.Errorf(domain.Invalid, "the post's author is not the one given")
	}
	if _, ok := s.comments[c.ID]; ok {
		return domain.Comment{}, domain.Errorf(domain.Conflict, "comment already exists")
	}
	if n != nil {
		if _, ok := s.notifications[n.ID]; ok {
			return domain.Comment{}, domain.Errorf(domain.Conflict, "notification already exists")
		}
	}
	claim, claimed, err := s.checkClaimLocked(ctx)
	if err != nil {
		return domain.Comment{}, err
	}
	if claimed {
		s.markClaimLocked(claim, c.ID)
	}
	var b feedBatch
	s.comments[c.ID] = c
	indexAdd(s.commentsByPost, c.PostID, c.ID)
	indexAdd(s.commentsByAuthor, c.AuthorID, c.ID)
	p.CommentCount++
	s.posts[p.ID] = p
	b.add(c.AuthorID, domain.EntityComment, c.ID, false)
	b.add(p.AuthorID, domain.EntityComment, c.ID, false)
	b.add(p.AuthorID, domain.EntityPost, p.ID, false)
	if n != nil {
		nn := cloneNotification(*n)
		s.notifications[nn.ID] = nn
		s.addDeliveryLocked(nn)
		indexAdd(s.notifsByUser, nn.UserID, nn.ID)
		if nn.CommentID != "" {
			indexAdd(s.notifsByComment, nn.CommentID, nn.ID)
		}
		b.add(nn.UserID, domain.EntityNotification, nn.ID, false)
	}
	s.commit(&b)
	return c, nil
}

// GetComment returns the comment. Returns NotFound.
func (s *Store) GetComment(ctx context.Context, id string) (domain.Comment, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Comment{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.comments[id]
	if !ok {
		return domain.Comment{}, domain.Errorf(domain.NotFound, "comment not found")
	}
	return c, nil
}

// GetComments returns the comments that exist among ids, each once, in the
// order of ids.
func (s *Store) GetComments(ctx context.Context, ids []string) ([]domain.Comment, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Comment
	for _, id := range uniqueIDs(ids) {
		if c, ok := s.comments[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// DeleteComment calls fn (may be nil) with the comment and its post under
// the store lock to authorise; its error is returned unchanged and nothing
// is deleted. Then it deletes the comment and its notifications and
// decrements the post's CommentCount. Returns NotFound. Feed: comment
// tombstone for the comment author and the post author, notification
// tombstones for their recipients, post change for the post author.
func (s *Store) DeleteComment(ctx context.Context, id string, fn func(c domain.Comment, p domain.Post) error) (domain.Comment, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Comment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if !ok {
		return domain.Comment{}, domain.Errorf(domain.NotFound, "comment not found")
	}
	if fn != nil {
		if err := fn(c, clonePost(s.posts[c.PostID])); err != nil {
			return domain.Comment{}, err
		}
	}
	var b feedBatch
	s.deleteCommentLocked(id, &b)
	s.commit(&b)
	return c, nil
}

// deleteCommentLocked removes an existing comment and its notifications,
// decrements its post's count and records the changes in b. Callers hold
// s.mu.
func (s *Store) deleteCommentLocked(id string, b *feedBatch) {
	c := s.comments[id]
	for _, nid := range cloneIDs(s.notifsByComment[id]) {
		s.deleteNotificationLocked(nid, b)
	}
	delete(s.comments, id)
	indexDrop(s.commentsByPost, c.PostID, id)
	indexDrop(s.commentsByAuthor, c.AuthorID, id)
	p := s.posts[c.PostID]
	p.CommentCount--
	s.posts[p.ID] = p
	b.add(c.AuthorID, domain.EntityComment, id, true)
	b.add(p.AuthorID, domain.EntityComment, id, true)
	b.add(p.AuthorID, domain.EntityPost, p.ID, false)
}

// ListComments returns up to limit comments of the post oldest first (by
// id) with ID > after, and whether more follow. Returns NotFound if the post
// does not exist, Invalid for a limit outside 1..100.
func (s *Store) ListComments(ctx context.Context, postID, after string, limit int) ([]domain.Comment, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.posts[postID]; !ok {
		return nil, false, domain.Errorf(domain.NotFound, "post not found")
	}
	ids := s.commentsByPost[postID]
	start := 0
	if after != "" {
		start = searchAfter(ids, after)
	}
	end := min(start+limit, len(ids))
	out := make([]domain.Comment, 0, end-start)
	for _, id := range ids[start:end] {
		out = append(out, s.comments[id])
	}
	return out, end < len(ids), nil
}
