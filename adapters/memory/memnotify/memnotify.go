// Package memnotify is the in-memory notifier: it records every dispatched
// notification (tests read them back) and logs it, instead of pushing to a
// device.
package memnotify

import (
	"context"
	"log/slog"
	"sync"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// maxKept bounds the memory a long-running local server spends on history.
const maxKept = 10000

// Notifier records dispatched notifications. Safe for concurrent use.
type Notifier struct {
	log  *slog.Logger
	mu   sync.Mutex
	sent []domain.Notification
}

var _ ports.Notifier = (*Notifier)(nil)

// New returns a notifier that logs at debug level to log (nil: discard).
func New(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{log: log}
}

// Dispatch records n. It never fails.
func (n *Notifier) Dispatch(ctx context.Context, note domain.Notification) error {
	n.mu.Lock()
	if len(n.sent) == maxKept {
		n.sent = append(n.sent[:0], n.sent[1:]...)
	}
	n.sent = append(n.sent, note)
	n.mu.Unlock()
	n.log.DebugContext(ctx, "notification dispatched", "notificationId", note.ID, "to", note.UserID, "type", string(note.Type))
	return nil
}

// Sent returns the notifications dispatched to userID ("" for all), oldest first.
func (n *Notifier) Sent(userID string) []domain.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []domain.Notification
	for _, s := range n.sent {
		if userID == "" || s.UserID == userID {
			out = append(out, s)
		}
	}
	return out
}
