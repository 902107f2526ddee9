package ports

import (
	"context"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// IdempotencyKeys stores the outcome of requests sent with an
// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), so that a
// retry never repeats a write. The write itself marks its record
// committed in its own transaction (see IdempotencyClaim), which is what
// makes a retry after a lost response safe.
type IdempotencyKeys interface {
	// ClaimIdempotencyKey inserts r (UserID, Key, Fingerprint, Token,
	// CreatedAt, LeaseUntil; State is set to running) and returns it with
	// true, unless a record of (r.UserID, r.Key) exists: then it returns
	// that record and false, except that a running record with the same
	// Fingerprint whose LeaseUntil is before r.CreatedAt is taken over (its
	// Token and LeaseUntil become r's) and returned with true. Keys and
	// fingerprints compare exactly; times are kept to the millisecond.
	// Returns Invalid for an empty user, a key ValidateIdempotencyKey
	// refuses, or a fingerprint or token the store cannot keep (over 255
	// and 64 characters).
	ClaimIdempotencyKey(ctx context.Context, r domain.IdempotencyRecord) (domain.IdempotencyRecord, bool, error)
	// CompleteIdempotencyKey stores resp on the record of (userID, key)
	// claimed with token (running or committed; it becomes done). Returns
	// Conflict if the record is no longer held with token or is done
	// already, NotFound if it does not exist.
	CompleteIdempotencyKey(ctx context.Context, userID, key, token string, resp domain.StoredResponse) error
	// ReleaseIdempotencyKey deletes the running record of (userID, key)
	// claimed with token, so that a retry runs the request again (it
	// failed before its write). Committed and done records and other
	// tokens' are kept; releasing one of them, or nothing, is no error.
	ReleaseIdempotencyKey(ctx context.Context, userID, key, token string) error
	// PruneIdempotencyKeys deletes the records created before before and
	// returns how many.
	PruneIdempotencyKeys(ctx context.Context, before time.Time) (int, error)
}

// IdempotencyClaim names a claimed record. CreatePost, CreateComment and
// CreateMedia called with a context carrying one (WithIdempotencyClaim)
// mark the record committed, with the id of what they create, in their own
// transaction; if the claim is no longer held (a retry took it over) they
// return Conflict and write nothing. Other writes ignore it.
type IdempotencyClaim struct {
	UserID, Key, Token string
}

type idempotencyClaimKey struct{}

// WithIdempotencyClaim returns ctx carrying c.
func WithIdempotencyClaim(ctx context.Context, c IdempotencyClaim) context.Context {
	return context.WithValue(ctx, idempotencyClaimKey{}, c)
}

// IdempotencyClaimFrom returns the claim ctx carries, if any.
func IdempotencyClaimFrom(ctx context.Context) (IdempotencyClaim, bool) {
	c, ok := ctx.Value(idempotencyClaimKey{}).(IdempotencyClaim)
	return c, ok
}
