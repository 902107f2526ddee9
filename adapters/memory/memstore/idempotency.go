package memstore

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// idemKey names an Idempotency-Key record: keys are scoped to their user
// and compared exactly.
type idemKey struct{ user, key string }

// ClaimIdempotencyKey inserts r as a running record and returns it with
// true, unless (r.UserID, r.Key) has a record: then it returns that record
// and false, except that a running record with r.Fingerprint whose
// LeaseUntil is before r.CreatedAt is taken over (Token and LeaseUntil
// become r's) and returned with true. The check and the write happen
// under s.mu, so of concurrent claims exactly one gets true. Returns
// Invalid for an empty user or a key domain.ValidateIdempotencyKey
// refuses, Unavailable for a cancelled ctx.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, r domain.IdempotencyRecord) (domain.IdempotencyRecord, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.IdempotencyRecord{}, false, err
	}
	if r.UserID == "" {
		return domain.IdempotencyRecord{}, false, domain.Errorf(domain.Invalid, "an idempotency key needs a user")
	}
	if err := domain.ValidateIdempotencyKey(r.Key); err != nil {
		return domain.IdempotencyRecord{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey{r.UserID, r.Key}
	cur, ok := s.idem[k]
	switch {
	case !ok:
		r.State, r.ResourceID, r.Response = domain.IdempotencyRunning, "", nil
		s.idem[k] = cloneRecord(r)
		return cloneRecord(r), true, nil
	case cur.State == domain.IdempotencyRunning && cur.Fingerprint == r.Fingerprint && cur.LeaseUntil.Before(r.CreatedAt):
		cur.Token, cur.LeaseUntil = r.Token, r.LeaseUntil
		s.idem[k] = cur
		return cloneRecord(cur), true, nil
	}
	return cloneRecord(cur), false, nil
}

// CompleteIdempotencyKey stores a copy of resp on the record of (userID,
// key) held with token, running or committed, and makes it done. Returns
// NotFound for a missing record, Conflict when another token holds it or
// it is done already, Unavailable for a cancelled ctx.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, key, token string, resp domain.StoredResponse) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey{userID, key}
	cur, ok := s.idem[k]
	if !ok {
		return domain.Errorf(domain.NotFound, "idempotency key not found")
	}
	if cur.Token != token || cur.State == domain.IdempotencyDone {
		return domain.Errorf(domain.Conflict, "another request holds this idempotency key")
	}
	cur.State = domain.IdempotencyDone
	cur.Response = cloneResponse(&resp)
	s.idem[k] = cur
	return nil
}

// ReleaseIdempotencyKey deletes the running record of (userID, key) held
// with token; committed and done records and other tokens' are kept, and
// releasing one of them, or nothing, is no error. Returns Unavailable for
// a cancelled ctx.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key, token string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey{userID, key}
	if cur, ok := s.idem[k]; ok && cur.Token == token && cur.State == domain.IdempotencyRunning {
		delete(s.idem, k)
	}
	return nil
}

// PruneIdempotencyKeys deletes the records created before before and
// returns how many. Returns Unavailable for a cancelled ctx.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	if err := checkCtx(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, r := range s.idem {
		if r.CreatedAt.Before(before) {
			delete(s.idem, k)
			n++
		}
	}
	return n, nil
}

// checkClaimLocked returns the record key of the idempotency claim ctx
// carries (ok false without one), or Conflict when the claim is no longer
// held: its record is gone, held with another token (a retry took it
// over) or already committed. The creating writes call it after their own
// checks and before writing anything, then markClaimLocked under the same
// lock, so the mark and the write are one step for any reader. Callers
// hold s.mu.
func (s *Store) checkClaimLocked(ctx context.Context) (idemKey, bool, error) {
	c, ok := ports.IdempotencyClaimFrom(ctx)
	if !ok {
		return idemKey{}, false, nil
	}
	k := idemKey{c.UserID, c.Key}
	if cur, held := s.idem[k]; !held || cur.Token != c.Token || cur.State != domain.IdempotencyRunning {
		return idemKey{}, false, domain.Errorf(domain.Conflict, "another request with this Idempotency-Key holds it")
	}
	return k, true, nil
}

// markClaimLocked records that the write of claim k created resourceID.
func (s *Store) markClaimLocked(k idemKey, resourceID string) {
	r := s.idem[k]
	r.State, r.ResourceID = domain.IdempotencyCommitted, resourceID
	s.idem[k] = r
}

// cloneRecord copies r deeply enough that nothing the caller gets or
// gave aliases what is stored (the response's header map and body).
func cloneRecord(r domain.IdempotencyRecord) domain.IdempotencyRecord {
	r.Response = cloneResponse(r.Response)
	return r
}

func cloneResponse(r *domain.StoredResponse) *domain.StoredResponse {
	if r == nil {
		return nil
	}
	return &domain.StoredResponse{Status: r.Status, Header: maps.Clone(r.Header), Body: slices.Clone(r.Body)}
}
