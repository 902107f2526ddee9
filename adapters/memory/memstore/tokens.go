package memstore

import (
	"context"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.OneTimeTokens = (*Store)(nil)

// PutOneTimeToken stores t. Returns Invalid for an empty hash, purpose or
// user id, Conflict for a hash already stored, Unavailable for a cancelled
// context.
func (s *Store) PutOneTimeToken(ctx context.Context, t domain.OneTimeToken) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	if t.Hash == "" || t.Purpose == "" || t.UserID == "" {
		return domain.Errorf(domain.Invalid, "a one-time token needs a hash, a purpose and a user id")
	}
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	if _, ok := s.tokens[t.Hash]; ok {
		return domain.Errorf(domain.Conflict, "one-time token already stored")
	}
	s.tokens[t.Hash] = t
	return nil
}

// TakeOneTimeToken removes and returns the token with hash and purpose if
// it has not expired at now (ExpiresAt after now). Takes are serialised,
// so of concurrent takers one gets it. A token asked for with another
// purpose, or expired, is left in place. Returns NotFound for an unknown,
// used, expired or other-purpose token, Unavailable for a cancelled
// context.
func (s *Store) TakeOneTimeToken(ctx context.Context, hash, purpose string, now time.Time) (domain.OneTimeToken, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.OneTimeToken{}, err
	}
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	t, ok := s.tokens[hash]
	if !ok || t.Purpose != purpose || !t.ExpiresAt.After(now) {
		return domain.OneTimeToken{}, domain.Errorf(domain.NotFound, "token not found")
	}
	delete(s.tokens, hash)
	return t, nil
}

// PruneOneTimeTokens removes the tokens that expired before before and
// returns how many. Returns Unavailable for a cancelled context.
func (s *Store) PruneOneTimeTokens(ctx context.Context, before time.Time) (int, error) {
	if err := checkCtx(ctx); err != nil {
		return 0, err
	}
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	n := 0
	for h, t := range s.tokens {
		if t.ExpiresAt.Before(before) {
			delete(s.tokens, h)
			n++
		}
	}
	return n, nil
}
