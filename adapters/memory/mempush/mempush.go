// Package mempush is the in-memory push channel: it records every push per
// device instead of sending it (tests read them back; `make run` logs
// them), and can be told that a device is gone, as a real push service
// would say. It serves every platform.
package mempush

import (
	"context"
	"log/slog"
	"sync"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// maxKept bounds the pushes kept per device on a long-running local server.
const maxKept = 1000

// Push records pushes. Safe for concurrent use.
type Push struct {
	log *slog.Logger

	mu       sync.Mutex
	released map[string]bool // addresses unregistered and not registered again
	dead     map[string]bool // addresses the "service" says are gone
	sent     map[string][]domain.PushMessage
	fail     int // the next fail Sends return Unavailable
}

var _ ports.Push = (*Push)(nil)

// New returns a recorder that logs each push at info level to log (nil:
// discard).
func New(log *slog.Logger) *Push {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Push{log: log, released: map[string]bool{}, dead: map[string]bool{}, sent: map[string][]domain.PushMessage{}}
}

// Register marks d's address as reachable (again). It never fails.
func (p *Push) Register(_ context.Context, d domain.Device) (domain.Device, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.released, d.Address())
	delete(p.dead, d.Address())
	return d, nil
}

// Send records m for d. Returns NotFound for a device released or killed,
// Unavailable while FailNext has failures left. A device it never saw
// registered is accepted: with several instances, another process's
// recorder may have registered it.
func (p *Push) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	p.mu.Lock()
	addr := d.Address()
	switch {
	case p.fail > 0:
		p.fail--
		p.mu.Unlock()
		return domain.Errorf(domain.Unavailable, "mempush: failing on purpose")
	case p.released[addr] || p.dead[addr]:
		p.mu.Unlock()
		return domain.Errorf(domain.NotFound, "mempush: the device is gone")
	}
	m.NotificationIDs = append([]string(nil), m.NotificationIDs...)
	list := append(p.sent[addr], m)
	if len(list) > maxKept {
		list = list[1:]
	}
	p.sent[addr] = list
	p.mu.Unlock()
	p.log.InfoContext(ctx, "push recorded (not sent: memory push channel)", "deviceId", d.ID, "userId", d.UserID, "platform", string(d.Platform), "collapseId", m.CollapseID, "title", m.Title)
	return nil
}

// Unregister forgets d's address. It never fails.
func (p *Push) Unregister(_ context.Context, d domain.Device) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.released[d.Address()] = true
	return nil
}

// Sent returns the pushes recorded for d's address, oldest first.
func (p *Push) Sent(d domain.Device) []domain.PushMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]domain.PushMessage(nil), p.sent[d.Address()]...)
}

// Total returns how many pushes were recorded, for every device.
func (p *Push) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.sent {
		n += len(l)
	}
	return n
}

// Kill makes the next sends to d's address fail with NotFound, as a push
// service does for an unregistered token, until d is registered again.
func (p *Push) Kill(d domain.Device) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead[d.Address()] = true
}

// FailNext makes the next n sends fail with Unavailable.
func (p *Push) FailNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = n
}
