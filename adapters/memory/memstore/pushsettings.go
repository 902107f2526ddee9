package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.PushSettings = (*Store)(nil)

// GetNotificationSettings returns the user's push settings, the zero value
// (the defaults) when none are stored. Returns Unavailable for a cancelled
// context.
func (s *Store) GetNotificationSettings(ctx context.Context, userID string) (domain.NotificationSettings, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.NotificationSettings{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneSettings(s.settings[userID]), nil
}

// UpdateNotificationSettings calls fn with a copy of the user's settings
// (the zero value when none are stored) under the store lock, so
// concurrent updates are serialised, and stores what fn left. An error
// from fn is returned unchanged and nothing is stored. Returns Invalid for
// an empty user id, Unavailable for a cancelled context.
func (s *Store) UpdateNotificationSettings(ctx context.Context, userID string, fn func(st *domain.NotificationSettings) error) (domain.NotificationSettings, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.NotificationSettings{}, err
	}
	if userID == "" {
		return domain.NotificationSettings{}, domain.Errorf(domain.Invalid, "user id must not be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scratch := cloneSettings(s.settings[userID])
	if err := fn(&scratch); err != nil {
		return domain.NotificationSettings{}, err
	}
	// Copy again: fn may keep the pointer it was given and change it later.
	st := cloneSettings(scratch)
	s.settings[userID] = st
	return cloneSettings(st), nil
}

// MutePost records that userID wants no pushes about postID; muting again
// is not an error. The time is not kept (nothing reads it). Deleting the
// post or the user removes the mute. Returns NotFound for an unknown post,
// Unavailable for a cancelled context.
func (s *Store) MutePost(ctx context.Context, userID, postID string, _ time.Time) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.posts[postID]; !ok {
		return domain.Errorf(domain.NotFound, "post not found")
	}
	indexAdd(s.mutesByUser, userID, postID)
	indexAdd(s.mutesByPost, postID, userID)
	return nil
}

// UnmutePost removes userID's mute of postID; an absent one is not an
// error. Returns Unavailable for a cancelled context.
func (s *Store) UnmutePost(ctx context.Context, userID, postID string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	indexDrop(s.mutesByUser, userID, postID)
	indexDrop(s.mutesByPost, postID, userID)
	return nil
}

// IsPostMuted reports whether userID muted postID. Returns Unavailable for
// a cancelled context.
func (s *Store) IsPostMuted(ctx context.Context, userID, postID string) (bool, error) {
	if err := checkCtx(ctx); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, found := slices.BinarySearch(s.mutesByUser[userID], postID)
	return found, nil
}

// ListMutedPosts returns up to limit ids of the posts the user muted, by id
// ascending with ID > after (empty: from the first), and whether more
// follow. Returns Invalid for a limit outside 1..100, Unavailable for a
// cancelled context.
func (s *Store) ListMutedPosts(ctx context.Context, userID, after string, limit int) ([]string, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.mutesByUser[userID]
	start := 0
	if after != "" {
		start = searchAfter(ids, after)
	}
	end := min(start+limit, len(ids))
	return cloneIDs(ids[start:end]), end < len(ids), nil
}
