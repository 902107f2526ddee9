package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.Devices = (*Store)(nil)

// deviceKey identifies a stored device: ids are unique per user.
type deviceKey struct{ user, id string }

// PutDevice registers d: it creates the device or replaces the user's
// device with that id, keeping its CreatedAt (d.CreatedAt is stored on
// creation, d.SeenAt always). Any other device with the same Address, of
// this user or another, is removed at the same time, so an address
// belongs to one device of one user. Returns the stored device and
// whether it was created. Returns Invalid for an empty user or device id,
// Conflict when the user already has domain.MaxDevicesPerUser devices
// besides this one and the one it takes the address from (nothing is
// written then), Unavailable for a cancelled context.
func (s *Store) PutDevice(ctx context.Context, d domain.Device) (domain.Device, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Device{}, false, err
	}
	if d.UserID == "" || d.ID == "" {
		return domain.Device{}, false, domain.Errorf(domain.Invalid, "device user id and id must not be empty")
	}
	d = cloneDevice(d)
	key, addr := deviceKey{d.UserID, d.ID}, d.Address()
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.devices[d.UserID]
	cur, exists := mine[d.ID]
	holder, held := s.deviceByAddr[addr]
	held = held && holder != key
	if !exists {
		others := len(mine)
		if held && holder.user == d.UserID {
			others-- // that device goes: its address moves here
		}
		if others >= domain.MaxDevicesPerUser {
			return domain.Device{}, false, domain.Errorf(domain.Conflict, "at most %d devices per user", domain.MaxDevicesPerUser)
		}
	}
	if held {
		s.dropDeviceLocked(holder)
	}
	if exists {
		d.CreatedAt = cur.CreatedAt
		if old := cur.Address(); old != addr {
			delete(s.deviceByAddr, old)
		}
	}
	if s.devices[d.UserID] == nil {
		s.devices[d.UserID] = map[string]domain.Device{}
	}
	s.devices[d.UserID][d.ID] = d
	s.deviceByAddr[addr] = key
	return cloneDevice(d), !exists, nil
}

// dropDeviceLocked removes a stored device and frees its address. Callers
// hold s.mu for writing.
func (s *Store) dropDeviceLocked(k deviceKey) domain.Device {
	d := s.devices[k.user][k.id]
	delete(s.devices[k.user], k.id)
	if len(s.devices[k.user]) == 0 {
		delete(s.devices, k.user)
	}
	if s.deviceByAddr[d.Address()] == k {
		delete(s.deviceByAddr, d.Address())
	}
	return d
}

// ListDevices returns the user's devices ordered by id. Returns
// Unavailable for a cancelled context.
func (s *Store) ListDevices(ctx context.Context, userID string) ([]domain.Device, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]domain.Device, 0, len(s.devices[userID]))
	for _, d := range s.devices[userID] {
		out = append(out, cloneDevice(d))
	}
	slices.SortFunc(out, func(a, b domain.Device) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteDevice removes the user's device and returns it. Returns NotFound,
// Unavailable for a cancelled context.
func (s *Store) DeleteDevice(ctx context.Context, userID, deviceID string) (domain.Device, error) {
	if err := checkCtx(ctx); err != nil {
		return domain.Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.devices[userID][deviceID]; !ok {
		return domain.Device{}, domain.Errorf(domain.NotFound, "device not found")
	}
	return cloneDevice(s.dropDeviceLocked(deviceKey{userID, deviceID})), nil
}

// DeleteDeadDevice removes the device d.UserID/d.ID if it still has d's
// address (one registered again with another token or subscription is
// kept) and reports whether it removed it. Returns Unavailable for a
// cancelled context.
func (s *Store) DeleteDeadDevice(ctx context.Context, d domain.Device) (bool, error) {
	if err := checkCtx(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.devices[d.UserID][d.ID]
	if !ok || cur.Address() != d.Address() {
		return false, nil
	}
	s.dropDeviceLocked(deviceKey{d.UserID, d.ID})
	return true, nil
}

// PruneDevices removes up to limit devices last seen before before, the
// longest unseen first, and returns them. Returns Invalid for a limit
// below 1, Unavailable for a cancelled context.
func (s *Store) PruneDevices(ctx context.Context, before time.Time, limit int) ([]domain.Device, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, domain.Errorf(domain.Invalid, "limit must be at least 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var stale []domain.Device
	for _, mine := range s.devices {
		for _, d := range mine {
			if d.SeenAt.Before(before) {
				stale = append(stale, d)
			}
		}
	}
	slices.SortFunc(stale, func(a, b domain.Device) int {
		if c := a.SeenAt.Compare(b.SeenAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.UserID, b.UserID); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	stale = stale[:min(len(stale), limit)]
	for i, d := range stale {
		s.dropDeviceLocked(deviceKey{d.UserID, d.ID})
		stale[i] = cloneDevice(d)
	}
	return stale, nil
}
