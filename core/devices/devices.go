// Package devices runs the push device use cases: a signed-in app or
// browser registers where it receives pushes, lists and removes its
// devices; the janitor prunes devices not seen for domain.DeviceRetention.
package devices

import (
	"context"
	"log/slog"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// pruneBatch is how many devices one prune step removes.
const pruneBatch = 500

// Service implements the device use cases.
type Service struct {
	store    ports.Storage
	channels map[domain.Platform]ports.Push
	clock    ports.Clock
	log      *slog.Logger
}

// New returns a device service that registers devices with the push
// channel of their platform. log may be nil.
func New(store ports.Storage, channels map[domain.Platform]ports.Push, clock ports.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, channels: channels, clock: clock, log: log}
}

// Platforms lists the platforms this server can push to.
func (s *Service) Platforms() []domain.Platform {
	var out []domain.Platform
	for _, p := range domain.Platforms {
		if s.channels[p] != nil {
			out = append(out, p)
		}
	}
	return out
}

// Register creates or replaces the caller's device d (its ID chosen by the
// client; UserID is set from p): it is registered with its platform's
// push service, then stored. A token or subscription that another device
// (of anyone) held moves to this one. Returns the device and whether it
// was created. Returns Invalid for a bad device or a platform this server
// does not push to, Conflict beyond domain.MaxDevicesPerUser devices, and
// the push service's errors (Invalid, Unavailable).
func (s *Service) Register(ctx context.Context, p domain.Principal, d domain.Device) (domain.Device, bool, error) {
	d.UserID = p.UserID
	if err := domain.ValidateDevice(d); err != nil {
		return domain.Device{}, false, err
	}
	ch := s.channels[d.Platform]
	if ch == nil {
		return domain.Device{}, false, domain.Errorf(domain.Invalid, "this server does not push to %s devices", d.Platform)
	}
	// The channel handle of an earlier registration of this device is
	// reused (SNS updates the endpoint instead of making another).
	if prev, err := s.find(ctx, p.UserID, d.ID); err == nil && prev.Platform == d.Platform {
		d.ChannelRef = prev.ChannelRef
	}
	reg, err := ch.Register(ctx, d)
	if err != nil {
		return domain.Device{}, false, err
	}
	now := s.clock.Now()
	reg.UserID, reg.ID, reg.SeenAt, reg.CreatedAt = p.UserID, d.ID, now, now
	return s.store.PutDevice(ctx, reg)
}

func (s *Service) find(ctx context.Context, userID, id string) (domain.Device, error) {
	list, err := s.store.ListDevices(ctx, userID)
	if err != nil {
		return domain.Device{}, err
	}
	for _, d := range list {
		if d.ID == id {
			return d, nil
		}
	}
	return domain.Device{}, domain.Errorf(domain.NotFound, "device not found")
}

// List returns the caller's devices ordered by id.
func (s *Service) List(ctx context.Context, p domain.Principal) ([]domain.Device, error) {
	return s.store.ListDevices(ctx, p.UserID)
}

// Delete removes the caller's device and releases it at its push service.
// Returns Invalid for a bad id, NotFound.
func (s *Service) Delete(ctx context.Context, p domain.Principal, id string) error {
	if err := domain.ValidateDeviceID(id); err != nil {
		return err
	}
	d, err := s.store.DeleteDevice(ctx, p.UserID, id)
	if err != nil {
		return err
	}
	s.release(ctx, d)
	return nil
}

// ReleaseAll releases every device of the user at its push service (the
// rows go with the account: DeleteUser). Account deletion calls it first.
func (s *Service) ReleaseAll(ctx context.Context, userID string) {
	list, err := s.store.ListDevices(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "devices not released", "userId", userID, "err", err)
		return
	}
	for _, d := range list {
		s.release(ctx, d)
	}
}

// Prune removes the devices not registered again for
// domain.DeviceRetention and releases them. Returns how many it removed
// and the storage's errors.
func (s *Service) Prune(ctx context.Context) (int, error) {
	before := s.clock.Now().Add(-domain.DeviceRetention)
	total := 0
	for {
		gone, err := s.store.PruneDevices(ctx, before, pruneBatch)
		if err != nil {
			return total, err
		}
		for _, d := range gone {
			s.release(ctx, d)
		}
		total += len(gone)
		if len(gone) < pruneBatch {
			return total, nil
		}
	}
}

// release is best effort: an SNS endpoint left behind only costs a row at
// AWS, and registering the token again reuses it.
func (s *Service) release(ctx context.Context, d domain.Device) {
	ch := s.channels[d.Platform]
	if ch == nil {
		return
	}
	if err := ch.Unregister(ctx, d); err != nil {
		s.log.WarnContext(ctx, "device not released at its push service", "deviceId", d.ID, "platform", string(d.Platform), "err", err)
	}
}
