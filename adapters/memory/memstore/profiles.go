package memstore

import (
	"context"

	"github.com/cloudpost/cloudpost/core/domain"
)

// CreateProfile inserts p with Version 1. Returns Conflict if a profile with
// the same ID or email (compared case-insensitively) exists, NotFound if
// p.ImageID is set but is not a media item owned by p.ID. Feed: profile
// change for p.ID.
func (s *Store) CreateProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Profile{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.profiles[p.ID]; ok {
		return domain.Profile{}, domain.Errorf(domain.Conflict, "profile already exists")
	}
	if _, ok := s.profileByEmail[emailKey(p.Email)]; ok {
		return domain.Profile{}, domain.Errorf(domain.Conflict, "email already in use")
	}
	if err := s.checkAvatar(p.ID, p.ImageID); err != nil {
		return domain.Profile{}, err
	}
	p.Version = 1
	s.profiles[p.ID] = p
	s.profileByEmail[emailKey(p.Email)] = p.ID
	var b feedBatch
	b.add(p.ID, domain.EntityProfile, p.ID, false)
	s.commit(&b)
	return p, nil
}

// GetProfile returns the profile. Returns NotFound.
func (s *Store) GetProfile(ctx context.Context, id string) (domain.Profile, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Profile{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.profiles[id]
	if !ok {
		return domain.Profile{}, domain.Errorf(domain.NotFound, "profile not found")
	}
	return p, nil
}

// UpdateProfile calls fn with a copy of the profile under the store lock and
// saves what fn left with Version+1; ID, Email, CreatedAt and Version keep
// their stored values. An error from fn is returned unchanged and nothing is
// saved. Returns NotFound for an unknown id or when a changed ImageID is not
// a media item owned by the profile. Feed: profile change.
func (s *Store) UpdateProfile(ctx context.Context, id string, fn func(p *domain.Profile) error) (domain.Profile, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Profile{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.profiles[id]
	if !ok {
		return domain.Profile{}, domain.Errorf(domain.NotFound, "profile not found")
	}
	p := cur
	if err := fn(&p); err != nil {
		return domain.Profile{}, err
	}
	p.ID, p.Email, p.CreatedAt, p.Version = cur.ID, cur.Email, cur.CreatedAt, cur.Version+1
	if p.ImageID != cur.ImageID {
		if err := s.checkAvatar(id, p.ImageID); err != nil {
			return domain.Profile{}, err
		}
	}
	s.profiles[id] = p
	var b feedBatch
	b.add(id, domain.EntityProfile, id, false)
	s.commit(&b)
	return p, nil
}

// checkAvatar returns NotFound unless imageID is empty or a media item owned
// by userID. Callers hold s.mu.
func (s *Store) checkAvatar(userID, imageID string) error {
	if imageID == "" {
		return nil
	}
	if m, ok := s.media[imageID]; !ok || m.OwnerID != userID {
		return domain.Errorf(domain.NotFound, "image not found")
	}
	return nil
}

// DeleteUser removes the profile and everything the user owns: posts with
// their comments, notifications and media; the user's comments on other
// posts (decrementing their counts); notifications to and from the user;
// the user's media, devices, push settings, post mutes and idempotency
// records, and everyone's mutes of the user's posts. It returns the
// removed media. The user's token revocation record is kept, so the
// deleted account's tokens stay refused. An unknown user is not an error.
// Feed: tombstones for every removed entity to every user whose feed
// showed it, and a post change for each other post whose count dropped.
func (s *Store) DeleteUser(ctx context.Context, id string) ([]domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var b feedBatch
	var removed []domain.Media
	// The loops range over copies of the indexes they shrink. Posts first:
	// that removes every comment on them, including the
	// user's own, so the next loop only sees comments on others' posts.
	for _, pid := range cloneIDs(s.postsByAuthor[id]) {
		removed = append(removed, s.deletePostLocked(pid, &b)...)
	}
	for _, cid := range cloneIDs(s.commentsByAuthor[id]) {
		s.deleteCommentLocked(cid, &b)
	}
	for _, nid := range cloneIDs(s.notifsByUser[id]) {
		s.deleteNotificationLocked(nid, &b)
	}
	// Notifications the user caused on content that survives (there is no
	// actor index: deleting a user is rare).
	for nid, n := range s.notifications {
		if n.ActorID == id {
			s.deleteNotificationLocked(nid, &b)
		}
	}
	for _, mid := range cloneIDs(s.mediaByOwner[id]) {
		removed = append(removed, cloneMedia(s.media[mid]))
		s.deleteMediaLocked(mid)
	}
	// Push data: devices (freeing their addresses), settings, and the
	// user's mutes (the mutes of the user's posts went with the posts).
	for _, d := range s.devices[id] {
		delete(s.deviceByAddr, d.Address())
	}
	delete(s.devices, id)
	for k := range s.idem {
		if k.user == id {
			delete(s.idem, k)
		}
	}
	delete(s.settings, id)
	for _, pid := range s.mutesByUser[id] {
		indexDrop(s.mutesByPost, pid, id)
	}
	delete(s.mutesByUser, id)
	if p, ok := s.profiles[id]; ok {
		delete(s.profiles, id)
		delete(s.profileByEmail, emailKey(p.Email))
		b.add(id, domain.EntityProfile, id, true)
	}
	s.commit(&b)
	return removed, nil
}
