package ports

import (
	"context"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Push delivers messages to devices through one push service (SNS mobile
// push for FCM and APNs, Web Push, a recorder in tests). The relay picks
// the Push of each device's platform.
type Push interface {
	// Register prepares d to receive and returns it with ChannelRef set
	// when the service needs a handle (SNS: creates the platform endpoint,
	// or updates the one it has so that it carries d's token and is
	// enabled). Registering the same device again is safe. Returns Invalid
	// when the service refuses the token or subscription, Unavailable.
	Register(ctx context.Context, d domain.Device) (domain.Device, error)
	// Send delivers m to d. Returns NotFound when the service says the
	// device is gone for good (token unregistered, endpoint disabled,
	// subscription expired: the caller deletes the device); TooManyRequests
	// (with a retry delay when the service gave one) or Unavailable for
	// failures worth retrying; Invalid when the service refuses the
	// message itself.
	Send(ctx context.Context, d domain.Device, m domain.PushMessage) error
	// Unregister releases what Register made (the SNS endpoint). An
	// unknown or already released device is not an error. Returns
	// Unavailable.
	Unregister(ctx context.Context, d domain.Device) error
}

// Notifier hears of notifications the moment they are committed, so that
// delivery starts at once instead of at the relay's next poll. It is a
// hint: the outbox row is the truth, and a hint that is lost only delays
// the push until a relay polls or the sweep runs.
type Notifier interface {
	// Dispatch announces n (already committed). Returns Unavailable when
	// the hint could not be sent; callers log it and go on.
	Dispatch(ctx context.Context, n domain.Notification) error
}
