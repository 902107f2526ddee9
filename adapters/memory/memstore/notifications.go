package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// ListNotifications returns up to limit notifications of the user newest
// first (by id) with ID < before (empty: from the newest), and whether more
// follow. Returns Invalid for a limit outside 1..100.
func (s *Store) ListNotifications(ctx context.Context, userID, before string, limit int) ([]domain.Notification, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	page, more := newestBefore(s.notifsByUser[userID], before, limit)
	out := make([]domain.Notification, len(page))
	for i, id := range page {
		out[i] = cloneNotification(s.notifications[id])
	}
	return out, more, nil
}

// GetNotifications returns the user's notifications among ids, each once,
// in the order of ids; other users' ids are ignored.
func (s *Store) GetNotifications(ctx context.Context, userID string, ids []string) ([]domain.Notification, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Notification
	for _, id := range uniqueIDs(ids) {
		if n, ok := s.notifications[id]; ok && n.UserID == userID {
			out = append(out, cloneNotification(n))
		}
	}
	return out, nil
}

// MarkNotificationsRead sets ReadAt = at on the user's unread notifications
// among ids, or on all of them when all is true. Other users' and unknown
// ids are ignored. Feed: notification change for each one marked.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, all bool, at time.Time) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	targets := uniqueIDs(ids)
	if all {
		targets = slices.Clone(s.notifsByUser[userID])
	}
	var b feedBatch
	for _, id := range targets {
		n, ok := s.notifications[id]
		if !ok || n.UserID != userID || n.ReadAt != nil {
			continue
		}
		readAt := at
		n.ReadAt = &readAt
		s.notifications[id] = n
		b.add(userID, domain.EntityNotification, id, false)
	}
	s.commit(&b)
	return nil
}

// deleteNotificationLocked removes an existing notification with its
// outbox entry and records its tombstone for the recipient. Callers hold
// s.mu.
func (s *Store) deleteNotificationLocked(id string, b *feedBatch) {
	n := s.notifications[id]
	delete(s.notifications, id)
	s.dropDeliveryLocked(id)
	indexDrop(s.notifsByUser, n.UserID, id)
	if n.CommentID != "" {
		indexDrop(s.notifsByComment, n.CommentID, id)
	}
	b.add(n.UserID, domain.EntityNotification, id, true)
}

// maxUsersPerCall bounds the users of NotificationsSince and CountUnread,
// and maxSinceLimit the limit of NotificationsSince.
const (
	maxUsersPerCall = 1000
	maxSinceLimit   = 1000
)

// NotificationsAfter returns up to limit notifications of the user oldest
// first (by id) with ID > after (empty: from the oldest), and whether more
// follow. Returns Invalid for a limit outside 1..100 or an after that is
// not an id (1 to 64 printable ASCII characters), Unavailable for a
// cancelled context.
func (s *Store) NotificationsAfter(ctx context.Context, userID, after string, limit int) ([]domain.Notification, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	if after != "" && !validID(after) {
		return nil, false, domain.Errorf(domain.Invalid, "the page bound is not a valid id")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.notifsByUser[userID]
	start := 0
	if after != "" {
		start = searchAfter(ids, after)
	}
	end := min(start+limit, len(ids))
	out := make([]domain.Notification, 0, end-start)
	for _, id := range ids[start:end] {
		out = append(out, cloneNotification(s.notifications[id]))
	}
	return out, end < len(ids), nil
}

// NotificationsSince returns up to limit notifications of any of the users
// created at or after since, oldest first (by CreatedAt, then id). Returns
// Invalid for more than 1000 users or a limit outside 1..1000, Unavailable
// for a cancelled context.
func (s *Store) NotificationsSince(ctx context.Context, userIDs []string, since time.Time, limit int) ([]domain.Notification, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if limit < 1 || limit > maxSinceLimit {
		return nil, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxSinceLimit)
	}
	if len(userIDs) > maxUsersPerCall {
		return nil, domain.Errorf(domain.Invalid, "at most %d users per call", maxUsersPerCall)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Notification
	for _, u := range uniqueIDs(userIDs) {
		for _, id := range s.notifsByUser[u] {
			if n := s.notifications[id]; !n.CreatedAt.Before(since) {
				out = append(out, cloneNotification(n))
			}
		}
	}
	slices.SortFunc(out, func(a, b domain.Notification) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), limit)], nil
}

// CountUnread returns the number of unread notifications of each user;
// users with none are absent from the map. Returns Invalid for more than
// 1000 users, Unavailable for a cancelled context.
func (s *Store) CountUnread(ctx context.Context, userIDs []string) (map[string]int, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if len(userIDs) > maxUsersPerCall {
		return nil, domain.Errorf(domain.Invalid, "at most %d users per call", maxUsersPerCall)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]int, len(userIDs))
	for _, u := range uniqueIDs(userIDs) {
		n := 0
		for _, id := range s.notifsByUser[u] {
			if s.notifications[id].ReadAt == nil {
				n++
			}
		}
		if n > 0 {
			out[u] = n
		}
	}
	return out, nil
}
