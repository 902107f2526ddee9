package mysqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.OneTimeTokens = (*Store)(nil)

// Column bounds of one_time_tokens.
const (
	maxTokenHash    = 191 // bytes
	maxTokenPurpose = 64  // characters
)

// oneTimeTokenPruneBatch is how many tokens one DELETE of
// PruneOneTimeTokens removes.
const oneTimeTokenPruneBatch = 1000

// neverValid stands for a zero ExpiresAt (a token that expired before
// anything): DATETIME(6) NOT NULL cannot hold Go's zero time on every
// server.
var neverValid = time.Unix(0, 0).UTC()

// PutOneTimeToken stores t in one INSERT on the writer (ExpiresAt at
// microsecond precision; a zero ExpiresAt stores a token that is already
// expired). Returns Conflict for a hash already stored, Invalid for an
// empty hash, purpose or user id (or a hash over 191 bytes, a purpose
// over 64 characters, a user id that is not 1 to 64 printable ASCII
// characters).
func (s *Store) PutOneTimeToken(ctx context.Context, t domain.OneTimeToken) error {
	switch {
	case t.Hash == "" || len(t.Hash) > maxTokenHash:
		return domain.Errorf(domain.Invalid, "token hash must be 1 to %d bytes", maxTokenHash)
	case t.Purpose == "" || len([]rune(t.Purpose)) > maxTokenPurpose:
		return domain.Errorf(domain.Invalid, "token purpose must be 1 to %d characters", maxTokenPurpose)
	}
	if err := checkNewID("user", t.UserID); err != nil {
		return err
	}
	expires := dbTime(t.ExpiresAt)
	if expires.IsZero() {
		expires = neverValid
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.execRetry(ctx, "INSERT INTO one_time_tokens (hash, purpose, user_id, auth_time, expires_at) VALUES (?, ?, ?, ?, ?)",
		[]byte(t.Hash), t.Purpose, t.UserID, nullTime(t.AuthTime), expires)
	return translate(err, "token already exists")
}

// TakeOneTimeToken removes and returns the token with hash and purpose if
// it has not expired at now (ExpiresAt after now): a writer transaction
// that reads the token with a locking read matching all three and deletes
// it (BEGIN, SELECT ... FOR UPDATE, DELETE, COMMIT). Of concurrent
// takers, the first locks the row and the others wait for it, then read
// the latest committed state (no row) and get NotFound. Returns NotFound
// for an unknown, used, expired or other-purpose token (which is left in
// place).
func (s *Store) TakeOneTimeToken(ctx context.Context, hash, purpose string, now time.Time) (domain.OneTimeToken, error) {
	if hash == "" || len(hash) > maxTokenHash || purpose == "" {
		return domain.OneTimeToken{}, domain.Errorf(domain.NotFound, "token not found")
	}
	var out domain.OneTimeToken
	err := s.tx(ctx, "", func(tx querier, _ *feedBatch) error {
		var h []byte
		var auth, expires sql.NullTime
		var t domain.OneTimeToken
		err := tx.QueryRowContext(ctx, "SELECT hash, purpose, user_id, auth_time, expires_at FROM one_time_tokens WHERE hash = ? AND purpose = ? AND expires_at > ? FOR UPDATE",
			[]byte(hash), purpose, dbTime(now)).Scan(&h, &t.Purpose, &t.UserID, &auth, &expires)
		if err != nil {
			return notFound(err, "token not found")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM one_time_tokens WHERE hash = ?", h); err != nil {
			return err
		}
		t.Hash, t.AuthTime, t.ExpiresAt = string(h), fromNull(auth), fromNull(expires)
		out = t
		return nil
	})
	if err != nil {
		return domain.OneTimeToken{}, err
	}
	return out, nil
}

// PruneOneTimeTokens removes the tokens that expired before before, at
// most 1000 per DELETE (each an index range on expires_at with its own
// timeout) until none is left, and returns how many it removed. On an
// error it returns how many the statements before it removed and
// Unavailable (or Internal).
func (s *Store) PruneOneTimeTokens(ctx context.Context, before time.Time) (int, error) {
	if before.IsZero() {
		return 0, nil
	}
	before = dbTime(before)
	return s.deleteInBatches(ctx, s.execRetry, "DELETE FROM one_time_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?", before, oneTimeTokenPruneBatch)
}
