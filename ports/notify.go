package ports

import (
	"context"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Notifier pushes a stored notification to its recipient (push service,
// websocket, email...). Delivery is best effort: the notification is already
// stored and visible through the API when Dispatch is called.
type Notifier interface {
	// Dispatch sends n. Returns Unavailable when the channel is down.
	Dispatch(ctx context.Context, n domain.Notification) error
}
