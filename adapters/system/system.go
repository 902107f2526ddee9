// Package system provides the real clock and id generator (the settable
// clock of the tests is internal/fakeclock).
package system

import (
	"time"

	"github.com/google/uuid"

	"github.com/cloudpost/cloudpost/ports"
)

// Clock is the wall clock, in UTC.
type Clock struct{}

var _ ports.Clock = Clock{}

// Now returns time.Now in UTC.
func (Clock) Now() time.Time { return time.Now().UTC() }

// IDs makes UUIDv7 ids. google/uuid keeps them monotonic within a process,
// also for ids made in the same millisecond.
type IDs struct{}

var _ ports.IDs = IDs{}

// NewID returns a new UUIDv7 in its canonical text form.
func (IDs) NewID() string { return uuid.Must(uuid.NewV7()).String() }
