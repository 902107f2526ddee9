package mysqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

var _ ports.Devices = (*Store)(nil)

const deviceCols = "user_id, id, platform, token, endpoint, p256dh, auth, locale, channel_ref, created_at, seen_at"

func scanDevice(r *sql.Rows) (domain.Device, error) {
	var d domain.Device
	var platform, p256dh, auth string
	var endpoint sql.NullString
	var created, seen sql.NullTime
	err := r.Scan(&d.UserID, &d.ID, &platform, &d.Token, &endpoint, &p256dh, &auth, &d.Locale, &d.ChannelRef, &created, &seen)
	d.Platform, d.CreatedAt, d.SeenAt = domain.Platform(platform), fromNull(created), fromNull(seen)
	if endpoint.Valid {
		d.Subscription = &domain.WebPushSubscription{Endpoint: endpoint.String, P256dh: p256dh, Auth: auth}
	}
	return d, err
}

// addressHash is the key of devices_address: SHA-256 of d.Address().
func addressHash(d domain.Device) []byte {
	h := sha256.Sum256([]byte(d.Address()))
	return h[:]
}

// subscriptionArgs are the endpoint, p256dh and auth columns of d.
func subscriptionArgs(d domain.Device) (endpoint any, p256dh, auth string) {
	if d.Subscription == nil {
		return nil, "", ""
	}
	return d.Subscription.Endpoint, d.Subscription.P256dh, d.Subscription.Auth
}

// errDeviceRace says that what PutDevice read without locks changed
// before it wrote: its address or id was inserted by a concurrent
// registration (a duplicate key), or the device it updated was deleted.
// The registration runs again and sees the change.
var errDeviceRace = errors.New("device registered or removed concurrently")

// putDeviceTries bounds how often PutDevice runs after errDeviceRace.
const putDeviceTries = 6

// PutDevice registers d: it creates the device or replaces the user's
// device with that id (keeping its CreatedAt; a new device gets
// d.CreatedAt, or d.SeenAt when that is zero), and returns the stored
// device and whether it was created. One writer transaction:
//
//  1. creates (with the defaults) or locks the user's notification_settings
//     row with INSERT ... ON DUPLICATE KEY UPDATE: an exclusive record
//     lock that serialises the user's registrations under REPEATABLE READ
//     and READ COMMITTED alike (see the package doc on media admission
//     for why a row of its own rather than the profile);
//  2. reads, without locks, the device and the device that holds d's
//     address (devices_address, SHA-256 of d.Address()), by primary key
//     and by unique key in one UNION ALL;
//  3. deletes that holder when it is another device, of this user or
//     another (by primary key and address), so a token or subscription
//     moves with whoever registered it last;
//  4. inserts the device, or updates it in place;
//  5. reads the user's devices with a locking read (the latest committed
//     rows), checks that the device is there and refuses the write when
//     the others number domain.MaxDevicesPerUser.
//
// Writing before the locking read, and reading without locks before it,
// is what keeps registrations of different users from deadlocking under
// REPEATABLE READ: a locking read of a key that does not exist (a new
// user's devices, a new address) takes a gap lock, and new users' ids and
// new addresses share gaps, so two registrations that each locked a gap
// would then wait for each other's insert. An insert takes no gap lock,
// and the final read waits only for rows after the user's range (the
// argument of media admission). Should step 2 miss a concurrent change
// (a duplicate key at step 4, or the updated device gone at step 5), the
// transaction runs again after a short jittered wait, up to six times;
// from the second time on it reads the address's holder with a locking
// read (the key exists then), queueing behind whoever registers it.
// Cost: six statements (BEGIN, lock, read, write, locking read, COMMIT),
// seven when an address moves; a rerun reads in two statements.
// Returns Invalid for a user or device id that is empty (or not 1 to 64
// printable ASCII characters), Conflict when the user already has
// domain.MaxDevicesPerUser other devices; nothing is written on error.
func (s *Store) PutDevice(ctx context.Context, d domain.Device) (domain.Device, bool, error) {
	if err := checkNewID("user", d.UserID); err != nil {
		return domain.Device{}, false, err
	}
	if err := checkNewID("device", d.ID); err != nil {
		return domain.Device{}, false, err
	}
	if d.Subscription != nil {
		sub := *d.Subscription
		d.Subscription = &sub
	}
	d.CreatedAt, d.SeenAt = dbTime(d.CreatedAt), dbTime(d.SeenAt)
	if d.CreatedAt.IsZero() {
		d.CreatedAt = d.SeenAt
	}
	hash := addressHash(d)
	endpoint, p256dh, auth := subscriptionArgs(d)
	type row struct {
		user, id string
		created  sql.NullTime
	}
	scanRow := func(r *sql.Rows) (row, error) {
		var x row
		err := r.Scan(&x.user, &x.id, &x.created)
		return x, err
	}
	var out domain.Device
	var created bool
	for try := 1; ; try++ {
		err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO notification_settings (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id", d.UserID); err != nil {
				return err
			}
			var seen []row
			var err error
			if try == 1 {
				seen, err = queryRows(ctx, tx, scanRow, "SELECT user_id, id, created_at FROM devices WHERE user_id = ? AND id = ?"+
					" UNION ALL SELECT user_id, id, created_at FROM devices WHERE address_hash = ?", d.UserID, d.ID, hash)
			} else {
				// Contended: wait for whoever holds the address, by a
				// locking read of its (now existing) key.
				seen, err = queryRows(ctx, tx, scanRow, "SELECT user_id, id, created_at FROM devices WHERE address_hash = ? FOR UPDATE", hash)
				if err == nil {
					var own []row
					own, err = queryRows(ctx, tx, scanRow, "SELECT user_id, id, created_at FROM devices WHERE user_id = ? AND id = ?", d.UserID, d.ID)
					seen = append(seen, own...)
				}
			}
			if err != nil {
				return err
			}
			exists := false
			for _, x := range seen {
				if x.user == d.UserID && x.id == d.ID {
					exists = true
					continue
				}
				if _, err := tx.ExecContext(ctx, "DELETE FROM devices WHERE user_id = ? AND id = ? AND address_hash = ?", x.user, x.id, hash); err != nil {
					return err
				}
			}
			if exists {
				_, err = tx.ExecContext(ctx, "UPDATE devices SET platform = ?, address_hash = ?, token = ?, endpoint = ?, p256dh = ?, auth = ?, locale = ?, channel_ref = ?, seen_at = ?"+
					" WHERE user_id = ? AND id = ?",
					string(d.Platform), hash, d.Token, endpoint, p256dh, auth, d.Locale, d.ChannelRef, nullTime(d.SeenAt), d.UserID, d.ID)
			} else {
				_, err = tx.ExecContext(ctx, "INSERT INTO devices (user_id, id, platform, address_hash, token, endpoint, p256dh, auth, locale, channel_ref, created_at, seen_at)"+
					" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
					d.UserID, d.ID, string(d.Platform), hash, d.Token, endpoint, p256dh, auth, d.Locale, d.ChannelRef, nullTime(d.CreatedAt), nullTime(d.SeenAt))
			}
			if duplicateKeyName(err) != "" {
				return errDeviceRace
			}
			if err != nil {
				return err
			}
			mine, err := queryRows(ctx, tx, scanRow, "SELECT user_id, id, created_at FROM devices WHERE user_id = ? FOR UPDATE", d.UserID)
			if err != nil {
				return err
			}
			dev, found := d, false
			for _, x := range mine {
				if x.id == d.ID {
					found, dev.CreatedAt = true, fromNull(x.created)
				}
			}
			if !found {
				return errDeviceRace
			}
			if len(mine)-1 >= domain.MaxDevicesPerUser {
				return domain.Errorf(domain.Conflict, "a user can register at most %d devices: remove one first", domain.MaxDevicesPerUser)
			}
			b.pin(userKey(d.UserID))
			out, created = dev, !exists
			return nil
		})
		if errors.Is(err, errDeviceRace) {
			if try < putDeviceTries {
				backoff := time.Duration(1<<try) * 2 * time.Millisecond
				select {
				case <-time.After(backoff + rand.N(backoff)):
				case <-ctx.Done():
					return domain.Device{}, false, translate(ctx.Err(), "")
				}
				continue
			}
			e := domain.Wrap(err, domain.Unavailable, "the device was registered concurrently, try again")
			e.RetryAfter = RetryAfter
			return domain.Device{}, false, e
		}
		if err != nil {
			return domain.Device{}, false, err
		}
		return out, created, nil
	}
}

// ListDevices returns the user's devices ordered by id: one statement on
// the primary key, routed like the user's other reads (the writer within
// the read-your-writes window of a registration by this process).
func (s *Store) ListDevices(ctx context.Context, userID string) ([]domain.Device, error) {
	if !validID(userID) {
		return nil, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	out, err := queryRows(ctx, s.readDB(userKey(userID)), scanDevice, "SELECT "+deviceCols+" FROM devices WHERE user_id = ? ORDER BY id", userID)
	return out, translate(err, "")
}

// DeleteDevice removes the user's device and returns it: a writer
// transaction that locks and reads the row, then deletes it. Returns
// NotFound.
func (s *Store) DeleteDevice(ctx context.Context, userID, deviceID string) (domain.Device, error) {
	if !validID(userID) || !validID(deviceID) {
		return domain.Device{}, domain.Errorf(domain.NotFound, "device not found")
	}
	var out domain.Device
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		found, err := queryRows(ctx, tx, scanDevice, "SELECT "+deviceCols+" FROM devices WHERE user_id = ? AND id = ? FOR UPDATE", userID, deviceID)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return domain.Errorf(domain.NotFound, "device not found")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM devices WHERE user_id = ? AND id = ?", userID, deviceID); err != nil {
			return err
		}
		b.pin(userKey(userID))
		out = found[0]
		return nil
	})
	return out, err
}

// DeleteDeadDevice removes d if it still has d's address, in one DELETE on
// the writer (by user, id and address hash: a device registered again
// with a new token in between is kept), and reports whether it removed
// it.
func (s *Store) DeleteDeadDevice(ctx context.Context, d domain.Device) (bool, error) {
	if !validID(d.UserID) || !validID(d.ID) {
		return false, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.execRetry(ctx, "DELETE FROM devices WHERE user_id = ? AND id = ? AND address_hash = ?", d.UserID, d.ID, addressHash(d))
	if err != nil {
		return false, translate(err, "")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, translate(err, "")
	}
	if n > 0 && s.pins != nil {
		s.pins.pin(userKey(d.UserID))
	}
	return n > 0, nil
}

// PruneDevices removes up to limit devices last seen before before (or
// never), least recently seen first (then by user and id), and returns
// them: a writer transaction that reads them along the seen_at index with
// FOR UPDATE SKIP LOCKED (a device being registered again right now is
// passed, not waited for) and deletes them by address hash, 500 per
// statement. Returns Invalid for a limit below 1.
func (s *Store) PruneDevices(ctx context.Context, before time.Time, limit int) ([]domain.Device, error) {
	if limit < 1 {
		return nil, domain.Errorf(domain.Invalid, "limit must be at least 1")
	}
	if before.IsZero() {
		return nil, nil
	}
	before = dbTime(before)
	var out []domain.Device
	err := s.tx(ctx, "", func(tx querier, b *feedBatch) error {
		out = nil
		gone, err := queryRows(ctx, tx, scanDevice, "SELECT "+deviceCols+" FROM devices WHERE (seen_at IS NULL OR seen_at < ?)"+
			" ORDER BY seen_at, user_id, id LIMIT ? FOR UPDATE SKIP LOCKED", before, limit)
		if err != nil || len(gone) == 0 {
			return err
		}
		for chunk := range slices.Chunk(gone, inChunk) {
			hashes := make([]any, len(chunk))
			for i, d := range chunk {
				hashes[i] = addressHash(d)
				b.pin(userKey(d.UserID))
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM devices WHERE address_hash IN ("+placeholders(len(hashes))+")", hashes...); err != nil {
				return err
			}
		}
		out = gone
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
