package ports

import "time"

// Clock tells the time. Tests use a fake one.
type Clock interface {
	// Now returns the current time (UTC).
	Now() time.Time
}

// IDs makes new ids.
type IDs interface {
	// NewID returns a new unique id whose string order is its creation order
	// within one process (UUIDv7 text form), so ids work as keyset cursors.
	NewID() string
}
