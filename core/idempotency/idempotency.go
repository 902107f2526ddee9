// Package idempotency makes retried creating requests safe: a request sent
// with an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) runs
// once per caller and key; a retry gets the first response back. The
// records live in storage (ports.IdempotencyKeys), so this holds across
// server instances and Lambda invocations.
//
// The flow: Begin claims the key (or says what to answer instead), the
// request's write marks the record committed in its own transaction (the
// claim travels in the context: ports.WithIdempotencyClaim), Finish stores
// the response, Abandon drops a claim whose request failed before its
// write. A retry after a response that never arrived (the database died
// between commit and answer) finds the record committed and gets the
// created resource, never a second one.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Defaults of Config.
const (
	DefaultLease = time.Minute
	DefaultTTL   = 24 * time.Hour
)

// Config tunes the service.
type Config struct {
	// Lease is how long a running request holds its key before a retry
	// may take it over (the request is presumed dead): longer than any
	// request runs. Zero: DefaultLease.
	Lease time.Duration
	// TTL is how long a key is remembered. Zero: DefaultTTL.
	TTL time.Duration
}

// Service runs the idempotency protocol over a store.
type Service struct {
	store ports.IdempotencyKeys
	clock ports.Clock
	ids   ports.IDs
	cfg   Config
}

// New returns the service.
func New(store ports.IdempotencyKeys, clock ports.Clock, ids ports.IDs, cfg Config) *Service {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	return &Service{store: store, clock: clock, ids: ids, cfg: cfg}
}

// Fingerprint identifies a request for Begin: its method, route and body.
func Fingerprint(method, route string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + route + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Outcome is what Begin decided.
type Outcome struct {
	// Claim, when Run: run the request with ports.WithIdempotencyClaim(ctx,
	// Claim), then Finish or Abandon.
	Run   bool
	Claim ports.IdempotencyClaim
	// Replay, when not nil: answer with it (the first request's response).
	Replay *domain.StoredResponse
	// ResourceID, when not empty: the first request's write committed but
	// its response was not stored; answer as the first request would have,
	// with the resource it created.
	ResourceID string
}

// Begin claims key for the caller's request identified by fingerprint.
// Returns Invalid for a key domain.ValidateIdempotencyKey refuses,
// Unprocessable when the key was used with another request, Conflict
// (with a RetryAfter hint) while the first request with the key is still
// running, and the store's errors.
func (s *Service) Begin(ctx context.Context, p domain.Principal, key, fingerprint string) (Outcome, error) {
	if err := domain.ValidateIdempotencyKey(key); err != nil {
		return Outcome{}, err
	}
	now := s.clock.Now()
	rec, claimed, err := s.store.ClaimIdempotencyKey(ctx, domain.IdempotencyRecord{
		UserID: p.UserID, Key: key, Fingerprint: fingerprint, Token: s.ids.NewID(),
		CreatedAt: now, LeaseUntil: now.Add(s.cfg.Lease),
	})
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case rec.Fingerprint != fingerprint:
		return Outcome{}, domain.Errorf(domain.Unprocessable, "this Idempotency-Key was used for another request; use a new key for a new request")
	case claimed:
		return Outcome{Run: true, Claim: ports.IdempotencyClaim{UserID: p.UserID, Key: key, Token: rec.Token}}, nil
	case rec.State == domain.IdempotencyDone && rec.Response != nil:
		return Outcome{Replay: rec.Response}, nil
	case rec.State == domain.IdempotencyCommitted || rec.State == domain.IdempotencyDone:
		return Outcome{ResourceID: rec.ResourceID}, nil
	default: // running
		wait := max(rec.LeaseUntil.Sub(now), time.Second)
		return Outcome{}, &domain.Error{Code: domain.Conflict, RetryAfter: wait,
			Message: "a request with this Idempotency-Key is still being processed; retry later"}
	}
}

// Finish stores resp as the answer to replay for claim. Returns the
// store's errors (Conflict when the claim was taken over).
func (s *Service) Finish(ctx context.Context, claim ports.IdempotencyClaim, resp domain.StoredResponse) error {
	return s.store.CompleteIdempotencyKey(ctx, claim.UserID, claim.Key, claim.Token, resp)
}

// Abandon drops claim when its request failed before its write
// committed, so that a retry runs it again; a committed claim is kept.
// Returns the store's errors.
func (s *Service) Abandon(ctx context.Context, claim ports.IdempotencyClaim) error {
	return s.store.ReleaseIdempotencyKey(ctx, claim.UserID, claim.Key, claim.Token)
}

// Prune forgets keys older than Config.TTL and returns how many.
func (s *Service) Prune(ctx context.Context) (int, error) {
	return s.store.PruneIdempotencyKeys(ctx, s.clock.Now().Add(-s.cfg.TTL))
}
