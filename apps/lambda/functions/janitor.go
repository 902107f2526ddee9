package functions

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/ports"
)

// JanitorHandler is the `janitor` handler, run on a schedule: the delivery
// relay (pushes whose queue message was lost, retries the relay scheduled,
// pushes held for quiet hours or coalescing), the media sweep (what the
// server's sweep ticker does: process uploads whose S3 event was lost or
// whose processing died, expire uploads that never arrived), the sync feed
// prune, and the prunes of ended rate-limit windows, devices not seen for
// domain.DeviceRetention, expired one-time tokens and idempotency keys
// older than a day (the server's hourly ticker).
type JanitorHandler struct {
	relay   *delivery.Relay
	feed    *feed.Service
	media   *media.Service
	limits  *limits.Service
	devices *devices.Service
	idem    *idempotency.Service
	store   ports.Storage
	clock   ports.Clock
	log     *slog.Logger
}

// NewJanitorHandler returns the janitor handler.
func NewJanitorHandler(r *delivery.Relay, f *feed.Service, m *media.Service, l *limits.Service, d *devices.Service,
	idem *idempotency.Service, store ports.Storage, clock ports.Clock, log *slog.Logger) *JanitorHandler {
	return &JanitorHandler{relay: r, feed: f, media: m, limits: l, devices: d, idem: idem, store: store, clock: clock, log: log}
}

// sweepReserve is the part of the invocation's time left for the prunes
// after the relay and the media sweep.
const sweepReserve = 30 * time.Second

// tokenGrace is how long past its expiry a one-time token (a stream
// ticket) is kept before the janitor removes it; an expired token is
// refused either way.
const tokenGrace = time.Hour

// Invoke implements lambda.Handler: it ignores the (scheduled) event, runs
// the delivery relay once (it claims every notification that is due), then
// the media sweep, processing what it finds in this invocation one item
// after the other until the deadline nears (the next run takes the rest),
// then prunes feed entries older than CLOUDPOST_SYNC_RETENTION, ended
// rate-limit windows, stale devices (released at their push service) and
// one-time tokens expired for more than an hour and idempotency keys
// older than a day. Each step runs even when
// an earlier one failed. Returns the storage or blob errors (Unavailable)
// so the schedule's retry runs it again; a failed image or push is not an
// error (it is marked failed, or retried by the relay's schedule).
func (h *JanitorHandler) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	sctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(ctx, dl.Add(-sweepReserve))
		defer cancel()
	}
	st, relayErr := h.relay.RunOnce(sctx)
	if errors.Is(relayErr, context.DeadlineExceeded) && ctx.Err() == nil {
		relayErr = nil // out of time for this run; the next one continues
	}
	if relayErr != nil {
		h.log.ErrorContext(ctx, "push relay failed", "err", relayErr)
	}
	h.log.InfoContext(ctx, "push relay", "claimed", st.Claimed, "sent", st.Sent, "skipped", st.Skipped, "deferred", st.Deferred,
		"retried", st.Retried, "failed", st.Failed, "pushes", st.Pushes, "devicesGone", st.DevicesGone)
	var processErrs int
	stats, sweepErr := h.media.Sweep(sctx, func(_, id string) {
		if sctx.Err() != nil {
			return
		}
		if err := h.media.Process(sctx, id); err != nil {
			processErrs++
			h.log.WarnContext(ctx, "media processing failed; the next sweep retries it", "mediaId", id, "err", err)
		}
	})
	if errors.Is(sweepErr, context.DeadlineExceeded) && ctx.Err() == nil {
		sweepErr = nil // out of time for this run; the next one continues
	}
	if sweepErr != nil {
		h.log.ErrorContext(ctx, "media sweep failed", "err", sweepErr)
	}
	h.log.InfoContext(ctx, "media sweep", "visited", stats.Visited, "processed", stats.Processed-processErrs, "retryLater", processErrs, "expired", stats.Expired)
	pruneErr := h.feed.Prune(ctx)
	if pruneErr != nil {
		h.log.ErrorContext(ctx, "sync feed prune failed", "err", pruneErr)
	} else {
		h.log.InfoContext(ctx, "sync feed pruned")
	}
	pruned, limitsErr := h.limits.Prune(ctx)
	if limitsErr != nil {
		h.log.ErrorContext(ctx, "rate limit counters prune failed", "err", limitsErr)
	} else {
		h.log.InfoContext(ctx, "rate limit counters pruned", "deleted", pruned)
	}
	gone, devicesErr := h.devices.Prune(ctx)
	if devicesErr != nil {
		h.log.ErrorContext(ctx, "devices prune failed", "err", devicesErr)
	} else {
		h.log.InfoContext(ctx, "devices pruned", "deleted", gone)
	}
	expired, tokensErr := h.store.PruneOneTimeTokens(ctx, h.clock.Now().Add(-tokenGrace))
	if tokensErr != nil {
		h.log.ErrorContext(ctx, "one-time tokens prune failed", "err", tokensErr)
	} else {
		h.log.InfoContext(ctx, "one-time tokens pruned", "deleted", expired)
	}
	keys, idemErr := h.idem.Prune(ctx)
	if idemErr != nil {
		h.log.ErrorContext(ctx, "idempotency keys prune failed", "err", idemErr)
	} else {
		h.log.InfoContext(ctx, "idempotency keys pruned", "deleted", keys)
	}
	if err := errors.Join(relayErr, sweepErr, pruneErr, limitsErr, devicesErr, tokensErr, idemErr); err != nil {
		return nil, err
	}
	return []byte("null"), nil
}
