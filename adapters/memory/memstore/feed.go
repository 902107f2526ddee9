package memstore

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// ChangesSince returns up to limit changes of the user with Seq > after, in
// Seq order, and whether more follow. Returns Invalid for a limit below 1.
// Seqs are assigned under the write lock, so a change is never visible
// before one with a lower Seq.
func (s *Store) ChangesSince(ctx context.Context, userID string, after int64, limit int) ([]domain.Change, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if limit < 1 {
		return nil, false, domain.Errorf(domain.Invalid, "limit must be at least 1")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	feed := s.feeds[userID]
	start := sort.Search(len(feed), func(i int) bool { return feed[i].Seq > after })
	end := min(start+limit, len(feed))
	return slices.Clone(feed[start:end]), end < len(feed), nil
}

// Snapshot returns, read under one lock, the user's profile, posts (newest
// first), the comments on those posts and by the user (oldest first), the
// user's notifications (newest first) and the current Seq. Returns NotFound
// if the user has no profile.
func (s *Store) Snapshot(ctx context.Context, userID string) (domain.Snapshot, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.profiles[userID]
	if !ok {
		return domain.Snapshot{}, domain.Errorf(domain.NotFound, "profile not found")
	}
	snap := domain.Snapshot{Profile: &p, Seq: s.seq}
	postIDs := s.postsByAuthor[userID]
	commentIDs := slices.Clone(s.commentsByAuthor[userID])
	for i := len(postIDs) - 1; i >= 0; i-- {
		snap.Posts = append(snap.Posts, clonePost(s.posts[postIDs[i]]))
		commentIDs = append(commentIDs, s.commentsByPost[postIDs[i]]...)
	}
	slices.Sort(commentIDs)
	// The user's comments on own posts are in both lists.
	for _, id := range slices.Compact(commentIDs) {
		snap.Comments = append(snap.Comments, s.comments[id])
	}
	notifIDs := s.notifsByUser[userID]
	for i := len(notifIDs) - 1; i >= 0; i-- {
		snap.Notifications = append(snap.Notifications, cloneNotification(s.notifications[notifIDs[i]]))
	}
	return snap, nil
}

// FeedHorizon returns the highest Seq removed by PruneFeed (0 before any
// pruning): a cursor at or above it still gets every change.
func (s *Store) FeedHorizon(ctx context.Context) (int64, error) {
	if err := checkCtx(ctx); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.horizon, nil
}

// PruneFeed removes every change with At before `before` and raises the
// horizon to the highest Seq it removed. The horizon never goes down.
func (s *Store) PruneFeed(ctx context.Context, before time.Time) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for user, feed := range s.feeds {
		feed = slices.DeleteFunc(feed, func(c domain.Change) bool {
			if c.At.Before(before) {
				s.horizon = max(s.horizon, c.Seq)
				return true
			}
			return false
		})
		if len(feed) == 0 {
			delete(s.feeds, user)
		} else {
			s.feeds[user] = feed
		}
	}
	return nil
}

// searchAfter returns the index of the first id > after in the ascending
// slice ids.
func searchAfter(ids []string, after string) int {
	i, found := slices.BinarySearch(ids, after)
	if found {
		i++
	}
	return i
}
