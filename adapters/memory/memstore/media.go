package memstore

import (
	"context"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// CreateMedia inserts m once admit (may be nil) allows it. admit is called
// under the store lock with how many of m.OwnerID's items are pending or
// processing and the earliest CreatedAt among them (zero when none, or
// when none has one), so concurrent creations are serialised and a cap
// admit enforces holds; it must not call back into the store. An error
// from admit is returned unchanged and nothing is inserted. Returns
// Conflict for a duplicate id (without asking admit), Invalid when
// m.PostID is set (media are attached through CreatePost and UpdatePost).
// With an idempotency claim in ctx (ports.WithIdempotencyClaim) the
// claim's record is marked committed with m.ID under the same lock;
// Conflict, and nothing inserted (admit is not asked), when the claim is
// no longer held.
func (s *Store) CreateMedia(ctx context.Context, m domain.Media, admit func(inFlight int, oldest time.Time) error) (domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Media{}, err
	}
	if m.PostID != "" {
		return domain.Media{}, domain.Errorf(domain.Invalid, "a new media item cannot be attached to a post")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.media[m.ID]; ok {
		return domain.Media{}, domain.Errorf(domain.Conflict, "media item already exists")
	}
	claim, claimed, err := s.checkClaimLocked(ctx)
	if err != nil {
		return domain.Media{}, err
	}
	if admit != nil {
		n, oldest := s.inFlightLocked(m.OwnerID)
		if err := admit(n, oldest); err != nil {
			return domain.Media{}, err
		}
	}
	if claimed {
		s.markClaimLocked(claim, m.ID)
	}
	m = cloneMedia(m)
	s.putMediaLocked(m)
	indexAdd(s.mediaByOwner, m.OwnerID, m.ID)
	return cloneMedia(m), nil
}

// inFlight reports whether an item in status st still awaits processing:
// what CreateMedia's admit counts and ListStaleMedia visits.
func inFlight(st domain.MediaStatus) bool {
	return st == domain.MediaPending || st == domain.MediaProcessing
}

// inFlightLocked returns how many of owner's items are pending or
// processing and the earliest non-zero CreatedAt among them. Callers hold
// s.mu.
func (s *Store) inFlightLocked(owner string) (int, time.Time) {
	n, oldest := 0, time.Time{}
	for _, id := range s.mediaByOwner[owner] {
		m := s.media[id]
		if !inFlight(m.Status) {
			continue
		}
		n++
		if !m.CreatedAt.IsZero() && (oldest.IsZero() || m.CreatedAt.Before(oldest)) {
			oldest = m.CreatedAt
		}
	}
	return n, oldest
}

// putMediaLocked stores m and keeps the in-flight index in step with its
// status. Callers hold s.mu.
func (s *Store) putMediaLocked(m domain.Media) {
	s.media[m.ID] = m
	if inFlight(m.Status) {
		s.inFlight = insertID(s.inFlight, m.ID)
	} else {
		s.inFlight = dropID(s.inFlight, m.ID)
	}
}

// GetMedia returns the item. Returns NotFound.
func (s *Store) GetMedia(ctx context.Context, id string) (domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Media{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.media[id]
	if !ok {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media item not found")
	}
	return cloneMedia(m), nil
}

// GetMediaBatch returns the items that exist among ids, each once, in the
// order of ids.
func (s *Store) GetMediaBatch(ctx context.Context, ids []string) ([]domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []domain.Media
	for _, id := range uniqueIDs(ids) {
		if m, ok := s.media[id]; ok {
			out = append(out, cloneMedia(m))
		}
	}
	return out, nil
}

// UpdateMedia calls fn with a copy of the item under the store lock and
// saves it (ID, OwnerID, PostID and CreatedAt keep their stored values:
// attachment belongs to the post operations). An error from fn is returned
// unchanged and nothing is saved. Returns NotFound. Feed: post change for
// the owner when the item is attached to a post, profile change when it is
// the owner's avatar.
func (s *Store) UpdateMedia(ctx context.Context, id string, fn func(m *domain.Media) error) (domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Media{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.media[id]
	if !ok {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media item not found")
	}
	scratch := cloneMedia(cur)
	if err := fn(&scratch); err != nil {
		return domain.Media{}, err
	}
	// Copy again: fn may keep the pointer it was given and change it later.
	m := cloneMedia(scratch)
	m.ID, m.OwnerID, m.PostID, m.CreatedAt = cur.ID, cur.OwnerID, cur.PostID, cur.CreatedAt
	s.putMediaLocked(m)
	var b feedBatch
	if m.PostID != "" {
		b.add(m.OwnerID, domain.EntityPost, m.PostID, false)
	}
	if p, ok := s.profiles[m.OwnerID]; ok && p.ImageID == id {
		b.add(m.OwnerID, domain.EntityProfile, m.OwnerID, false)
	}
	s.commit(&b)
	return cloneMedia(m), nil
}

// DeleteMedia calls fn (may be nil) with the item under the store lock; its
// error is returned unchanged and nothing is deleted. Otherwise it removes
// the item and returns it. Returns NotFound, Conflict while the item is
// attached to a post or is a profile's avatar.
func (s *Store) DeleteMedia(ctx context.Context, id string, fn func(m domain.Media) error) (domain.Media, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Media{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.media[id]
	if !ok {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media item not found")
	}
	// Authorise first, so a caller who may not delete the item learns
	// nothing about where it is used.
	if fn != nil {
		if err := fn(cloneMedia(m)); err != nil {
			return domain.Media{}, err
		}
	}
	if m.PostID != "" {
		return domain.Media{}, domain.Errorf(domain.Conflict, "media item is attached to a post")
	}
	// Only the owner's profile can use it as avatar (UpdateProfile checks
	// ownership).
	if p, ok := s.profiles[m.OwnerID]; ok && p.ImageID == id {
		return domain.Media{}, domain.Errorf(domain.Conflict, "media item is a profile picture")
	}
	s.deleteMediaLocked(id)
	return cloneMedia(m), nil
}

// deleteMediaLocked removes the item row. Callers hold s.mu.
func (s *Store) deleteMediaLocked(id string) {
	m := s.media[id]
	delete(s.media, id)
	indexDrop(s.mediaByOwner, m.OwnerID, id)
	s.inFlight = dropID(s.inFlight, id)
}

// maxStaleLimit bounds the page of ListStaleMedia (a sweep, not a client
// list, so larger than domain.MaxPageLimit).
const maxStaleLimit = 1000

// ListStaleMedia returns up to limit items that are pending or processing
// and whose UpdatedAt is before before (a zero UpdatedAt counts as before
// any time), ordered by id, with ID > after (empty: from the first), and
// whether more follow. Returns Invalid for a limit outside 1..1000.
func (s *Store) ListStaleMedia(ctx context.Context, before time.Time, after string, limit int) ([]domain.Media, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > maxStaleLimit {
		return nil, false, domain.Errorf(domain.Invalid, "limit must be between 1 and %d", maxStaleLimit)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.inFlight
	if after != "" {
		ids = ids[searchAfter(ids, after):]
	}
	var out []domain.Media
	for _, id := range ids {
		m := s.media[id]
		if !m.UpdatedAt.Before(before) {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, cloneMedia(m))
	}
	return out, false, nil
}
