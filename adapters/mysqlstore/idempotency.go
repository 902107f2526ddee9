package mysqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.IdempotencyKeys = (*Store)(nil)

// idemCols are the columns of idempotency_keys, in scanIdem's order.
const idemCols = "user_id, idem_key, fingerprint, token, state, resource_id, status, headers, body, created_at, lease_until"

// maxFingerprint is the longest fingerprint idempotency_keys stores (the
// core's is a hex SHA-256, 64 characters).
const maxFingerprint = 255

// idempotencyPruneBatch is how many records one DELETE of
// PruneIdempotencyKeys removes, so that pruning never holds many locks.
const idempotencyPruneBatch = 1000

// claimKeySQL inserts a running record or, for an existing one, takes over
// an expired running claim with the same fingerprint. The condition is
// written twice (token, then lease_until): assignments of an upsert run
// left to right and see the values assigned before them, so the
// condition must not read a column already assigned (it reads state,
// fingerprint and lease_until; token is assigned first). The arguments
// are passed again instead of VALUES(col), which MySQL 8.0.20+
// deprecates (its row alias replacement does not run on MariaDB).
const claimKeySQL = "INSERT INTO idempotency_keys (" + idemCols + ") VALUES (?, ?, ?, ?, 'running', NULL, NULL, NULL, NULL, ?, ?)" +
	" ON DUPLICATE KEY UPDATE" +
	" token = IF(state = 'running' AND fingerprint = ? AND lease_until < ?, ?, token)," +
	" lease_until = IF(state = 'running' AND fingerprint = ? AND lease_until < ?, ?, lease_until)"

// idemTime is t as idempotency_keys stores it: UTC, truncated to the
// millisecond of its DATETIME(3) columns here rather than by the server
// (MySQL rounds, MariaDB truncates), so that what Claim returns for a new
// record is what a later read returns.
func idemTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// validIdemRef reports whether (userID, key) can name a stored record.
// Other values cannot exist, and are not sent to the server (a non-ASCII
// string compared with an ascii column is an error on MySQL).
func validIdemRef(userID, key string) bool {
	return validID(userID) && domain.ValidateIdempotencyKey(key) == nil
}

// ClaimIdempotencyKey inserts r as a running record, or returns the
// record of (r.UserID, r.Key) and false; a running record with
// r.Fingerprint whose LeaseUntil is before r.CreatedAt is taken over
// (Token and LeaseUntil become r's) and returned with true. Times are
// stored at millisecond precision.
//
// It is one upsert on the writer (claimKeySQL), plus a primary-key read of
// the record when it inserted none. The upsert is race-free without a
// transaction: of concurrent inserts of one key exactly one inserts (the
// primary key), and the others, like every claim of an existing key,
// take the row's exclusive lock and evaluate the takeover condition on
// its latest committed version (the update of an upsert is a locking
// read, not a snapshot). So concurrent takeovers of one expired claim run
// one after the other, and all but the first find the new, unexpired
// lease and change nothing: exactly one claimer gets true. A deadlock or
// lock wait timeout (the statement rolled back whole) runs it again.
//
// Returns Invalid for a user id that is not 1 to 64 printable ASCII
// characters (empty included), a key domain.ValidateIdempotencyKey
// refuses, a fingerprint or token that cannot be stored (1 to 255 and 1
// to 64 printable ASCII characters); Unavailable when the database cannot
// answer.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, r domain.IdempotencyRecord) (domain.IdempotencyRecord, bool, error) {
	if !validID(r.UserID) {
		return domain.IdempotencyRecord{}, false, domain.Errorf(domain.Invalid, "an idempotency key needs a user id of 1 to 64 printable ASCII characters")
	}
	if err := domain.ValidateIdempotencyKey(r.Key); err != nil {
		return domain.IdempotencyRecord{}, false, err
	}
	if !validID(r.Token) {
		return domain.IdempotencyRecord{}, false, domain.Errorf(domain.Invalid, "an idempotency token must be 1 to 64 printable ASCII characters")
	}
	if !domain.PrintableASCII(r.Fingerprint, maxFingerprint) {
		return domain.IdempotencyRecord{}, false, domain.Errorf(domain.Invalid, "a request fingerprint must be 1 to %d printable ASCII characters", maxFingerprint)
	}
	r.State, r.ResourceID, r.Response = domain.IdempotencyRunning, "", nil
	r.CreatedAt, r.LeaseUntil = idemTime(r.CreatedAt), idemTime(r.LeaseUntil)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	// The record read after the upsert can be gone (its holder released
	// it, or it was pruned, in between): the key is free, claim again.
	for range 3 {
		res, err := s.execRetry(ctx, claimKeySQL, r.UserID, r.Key, r.Fingerprint, r.Token, r.CreatedAt, r.LeaseUntil,
			r.Fingerprint, r.CreatedAt, r.Token, r.Fingerprint, r.CreatedAt, r.LeaseUntil)
		if err != nil {
			return domain.IdempotencyRecord{}, false, translate(err, "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return domain.IdempotencyRecord{}, false, translate(err, "")
		}
		if n == 1 { // inserted (an update counts 2, none 0)
			return r, true, nil
		}
		cur, err := getIdempotencyKey(ctx, s.writer, r.UserID, r.Key)
		if domain.IsCode(err, domain.NotFound) {
			continue
		}
		if err != nil {
			return domain.IdempotencyRecord{}, false, translate(err, "")
		}
		// Taken over (2 rows) and still ours: a later takeover would need
		// our new lease to have ended already.
		return cur, n == 2 && cur.Token == r.Token, nil
	}
	return domain.IdempotencyRecord{}, false, domain.Errorf(domain.Conflict, "the Idempotency-Key changed while it was claimed; try again")
}

// getIdempotencyKey reads the record of (userID, key). Returns NotFound.
func getIdempotencyKey(ctx context.Context, q querier, userID, key string) (domain.IdempotencyRecord, error) {
	var r domain.IdempotencyRecord
	var state string
	var resource, headers sql.NullString
	var status sql.NullInt64
	var body []byte
	err := q.QueryRowContext(ctx, "SELECT "+idemCols+" FROM idempotency_keys WHERE user_id = ? AND idem_key = ?", userID, key).
		Scan(&r.UserID, &r.Key, &r.Fingerprint, &r.Token, &state, &resource, &status, &headers, &body, &r.CreatedAt, &r.LeaseUntil)
	if err != nil {
		return domain.IdempotencyRecord{}, notFound(err, "idempotency key not found")
	}
	r.State, r.ResourceID = domain.IdempotencyState(state), resource.String
	r.CreatedAt, r.LeaseUntil = r.CreatedAt.UTC(), r.LeaseUntil.UTC()
	if status.Valid {
		resp := &domain.StoredResponse{Status: int(status.Int64), Body: body}
		if headers.Valid {
			if err := json.Unmarshal([]byte(headers.String), &resp.Header); err != nil {
				return domain.IdempotencyRecord{}, err
			}
		}
		if resp.Body == nil {
			resp.Body = []byte{}
		}
		r.Response = resp
	}
	return r, nil
}

// CompleteIdempotencyKey stores resp on the record of (userID, key) held
// with token, running or committed, and makes it done: one UPDATE on the
// writer, and when it changed no row a primary-key read that tells a
// missing record (NotFound) from one held by another token or already
// done (Conflict). The headers are stored as a JSON object, the body as
// is. Returns Unavailable when the database cannot answer.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, key, token string, resp domain.StoredResponse) error {
	if !validIdemRef(userID, key) {
		return domain.Errorf(domain.NotFound, "idempotency key not found")
	}
	var headers any // NULL for no headers
	if len(resp.Header) > 0 {
		b, err := json.Marshal(resp.Header)
		if err != nil {
			return domain.Wrap(err, domain.Invalid, "response headers cannot be stored")
		}
		headers = string(b)
	}
	body := resp.Body
	if body == nil {
		body = []byte{} // NULL would read as "no response"
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.execRetry(ctx, "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ?"+
		" WHERE user_id = ? AND idem_key = ? AND token = ? AND state IN ('running', 'committed')",
		resp.Status, headers, body, userID, key, token)
	if err != nil {
		return translate(err, "")
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err, "")
	} else if n == 1 {
		return nil
	}
	if _, err := getIdempotencyKey(ctx, s.writer, userID, key); err != nil {
		return translate(err, "")
	}
	return domain.Errorf(domain.Conflict, "another request with this Idempotency-Key holds it")
}

// ReleaseIdempotencyKey deletes the running record of (userID, key) held
// with token, in one DELETE on the writer; committed and done records and
// other tokens' stay, and deleting nothing is no error. Returns
// Unavailable when the database cannot answer.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key, token string) error {
	if !validIdemRef(userID, key) {
		return nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.execRetry(ctx, "DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? AND token = ? AND state = 'running'", userID, key, token)
	return translate(err, "")
}

// PruneIdempotencyKeys deletes the records created before before, at most
// 1000 per statement (each an index range on created_at, with its own
// timeout) until none is left, and returns how many it deleted. On an
// error it returns how many the statements before it deleted and
// Unavailable (or Internal).
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	if before.IsZero() {
		return 0, nil
	}
	// Stored times are truncated to the millisecond, and so is before:
	// what is deleted was created before before.
	return s.deleteInBatches(ctx, s.writer.ExecContext, "DELETE FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?", idemTime(before), idempotencyPruneBatch)
}

// claimUpdate returns the update that marks the record of the
// idempotency claim ctx carries committed with resourceID, and false when
// ctx carries none. The creating writes (CreatePost, CreateComment,
// CreateMedia) fold it into their feed reservation (feedBatch.update), so
// it costs no round trip and commits with the write. If the claim is no
// longer held (taken over, released, pruned or already committed) the
// reservation comes up short, the transaction rolls back and the write
// returns Conflict, having written nothing.
func claimUpdate(ctx context.Context, resourceID string) (rowUpdate, bool) {
	c, ok := ports.IdempotencyClaimFrom(ctx)
	if !ok {
		return rowUpdate{}, false
	}
	lost := func(context.Context, querier) error {
		return domain.Errorf(domain.Conflict, "another request with this Idempotency-Key holds it")
	}
	if !validIdemRef(c.UserID, c.Key) {
		// No such record can exist; never send the values to the server.
		return rowUpdate{table: "idempotency_keys ik", set: "ik.state = ik.state", where: "FALSE", rows: 1, diagnose: lost}, true
	}
	return rowUpdate{
		table: "idempotency_keys ik", set: "ik.state = 'committed', ik.resource_id = ?", setArgs: []any{resourceID},
		where: "ik.user_id = ? AND ik.idem_key = ? AND ik.token = ? AND ik.state = 'running'", whereArgs: []any{c.UserID, c.Key, c.Token},
		rows: 1,
		diagnose: func(ctx context.Context, q querier) error {
			r, err := getIdempotencyKey(ctx, q, c.UserID, c.Key)
			if domain.IsCode(err, domain.NotFound) || err == nil && (r.Token != c.Token || r.State != domain.IdempotencyRunning) {
				return lost(ctx, q)
			}
			return err // nil: the claim is held, another row was missing
		},
	}, true
}
