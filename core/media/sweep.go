package media

import (
	"context"
	"errors"

	"github.com/cloudpost/cloudpost/core/domain"
)

// SweepStats counts what one sweep did.
type SweepStats struct {
	// Visited items were pending or processing and untouched for
	// Config.SweepSettle.
	Visited int
	// Processed items had their bytes and were handed to process.
	Processed int
	// Expired items never received their bytes and were failed as expired.
	Expired int
}

// sweepPage is how many items one storage read of the sweep returns.
const sweepPage = 200

// Sweep finds what no trigger will process: items pending or processing
// that nobody touched for Config.SweepSettle (a queue dropped them, a
// process died, an event was lost). Items whose upload is there are handed
// to process (a queue's Enqueue, or Process itself); items whose upload
// never arrived and whose upload URL expired more than Config.ExpiryGrace
// ago are failed with domain.ReasonExpired, and any bytes that arrived
// late are deleted. Run it at start-up and periodically; several
// instances may run it at once (processing claims the item). Returns the
// first storage or blob error (Unavailable) after visiting what it could.
func (s *Service) Sweep(ctx context.Context, process func(ownerID, mediaID string)) (SweepStats, error) {
	var (
		stats SweepStats
		first error
	)
	now := s.clock.Now()
	for after := ""; ; {
		items, more, err := s.store.ListStaleMedia(ctx, now.Add(-s.cfg.SweepSettle), after, sweepPage)
		if err != nil {
			return stats, err
		}
		for _, m := range items {
			after = m.ID
			stats.Visited++
			_, err := s.blobs.Stat(ctx, domain.UploadKey(m.OwnerID, m.ID))
			switch {
			case err == nil:
				stats.Processed++
				process(m.OwnerID, m.ID)
			case !domain.IsCode(err, domain.NotFound):
				if first == nil {
					first = err
				}
			case now.After(m.CreatedAt.Add(s.cfg.UploadExpiry + s.cfg.ExpiryGrace)):
				expired, err := s.expire(ctx, m.ID)
				if err != nil && first == nil {
					first = err
				}
				if expired {
					stats.Expired++
				}
			}
		}
		if !more || ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	return stats, first
}

// expire fails a still pending item whose upload never arrived, then
// deletes whatever arrived in the meantime (its URL has expired, so no
// more can).
func (s *Service) expire(ctx context.Context, id string) (bool, error) {
	m, err := s.store.UpdateMedia(ctx, id, func(m *domain.Media) error {
		if m.Status != domain.MediaPending {
			return errNotClaimable
		}
		m.Status, m.FailureReason, m.UpdatedAt = domain.MediaFailed, domain.ReasonExpired, s.clock.Now()
		return nil
	})
	if errors.Is(err, errNotClaimable) || domain.IsCode(err, domain.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.log.InfoContext(ctx, "media upload expired", "mediaId", m.ID, "ownerId", m.OwnerID)
	if err := s.blobs.Delete(ctx, objectKeys(m)...); err != nil {
		s.log.WarnContext(ctx, "stray bytes of an expired upload not deleted", "mediaId", m.ID, "err", err)
	}
	return true, nil
}
