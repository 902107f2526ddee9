// Package system provides the real clock and id generator, plus a settable
// clock for tests.
package system

import (
	"sync"
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

// FakeClock is a clock that only moves when told. Safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ ports.Clock = (*FakeClock)(nil)

// NewFakeClock returns a clock set to t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t.UTC()} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}
