package memstore

import (
	"context"
	"slices"
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

// deleteNotificationLocked removes an existing notification and records its
// tombstone for the recipient. Callers hold s.mu.
func (s *Store) deleteNotificationLocked(id string, b *feedBatch) {
	n := s.notifications[id]
	delete(s.notifications, id)
	indexDrop(s.notifsByUser, n.UserID, id)
	if n.CommentID != "" {
		indexDrop(s.notifsByComment, n.CommentID, id)
	}
	b.add(n.UserID, domain.EntityNotification, id, true)
}
