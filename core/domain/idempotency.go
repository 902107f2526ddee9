package domain

import "time"

// MaxIdempotencyKeyLen bounds an Idempotency-Key.
const MaxIdempotencyKeyLen = 255

// ValidateIdempotencyKey checks an Idempotency-Key value (the string
// itself, without the quotes of its structured-field form): 1 to 255
// visible ASCII characters or spaces. Returns Invalid.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return Errorf(Invalid, "Idempotency-Key must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	if !PrintableASCII(key, MaxIdempotencyKeyLen) {
		return Errorf(Invalid, "Idempotency-Key must be printable ASCII (a UUID is a good key)")
	}
	return nil
}

// PrintableASCII reports whether s is 1 to max printable ASCII characters
// (spaces included).
func PrintableASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// IdempotencyState is how far the request that claimed a key got.
type IdempotencyState string

const (
	// IdempotencyRunning: claimed; its write has not committed.
	IdempotencyRunning IdempotencyState = "running"
	// IdempotencyCommitted: the write committed (ResourceID names what it
	// created); the response is not stored, a replay re-reads the resource.
	IdempotencyCommitted IdempotencyState = "committed"
	// IdempotencyDone: the response is stored (Response).
	IdempotencyDone IdempotencyState = "done"
)

// IdempotencyRecord is what the server keeps, for a day, of a request sent
// with an Idempotency-Key: keys are scoped to the caller (UserID).
type IdempotencyRecord struct {
	UserID string
	Key    string
	// Fingerprint identifies the request (method, route, body): the same
	// key with another request is refused.
	Fingerprint string
	// Token identifies the claim of the request now running under the key.
	Token      string
	State      IdempotencyState
	ResourceID string
	Response   *StoredResponse
	CreatedAt  time.Time
	// LeaseUntil is when a running claim may be taken over by a retry (its
	// request is presumed dead).
	LeaseUntil time.Time
}

// StoredResponse is a response kept for replays: status, the headers that
// matter to a client (Location, ETag, Content-Type) and the body.
type StoredResponse struct {
	Status int
	Header map[string]string
	Body   []byte
}
