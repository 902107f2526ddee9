package functions

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/media"
)

// JanitorHandler is the `janitor` handler, run on a schedule: the media
// sweep (what the server's sweep ticker does: process uploads whose S3
// event was lost or whose processing died, expire uploads that never
// arrived), the sync feed prune and the prune of ended rate-limit windows
// (the server's hourly ticker).
type JanitorHandler struct {
	feed   *feed.Service
	media  *media.Service
	limits *limits.Service
	log    *slog.Logger
}

// NewJanitorHandler returns the janitor handler.
func NewJanitorHandler(f *feed.Service, m *media.Service, l *limits.Service, log *slog.Logger) *JanitorHandler {
	return &JanitorHandler{feed: f, media: m, limits: l, log: log}
}

// sweepReserve is the part of the invocation's time left for the feed
// prune after the media sweep.
const sweepReserve = 30 * time.Second

// Invoke implements lambda.Handler: it ignores the (scheduled) event, runs
// the media sweep, processing what it finds in this invocation one item
// after the other until the deadline nears (the next run takes the rest),
// then prunes feed entries older than CLOUDPOST_SYNC_RETENTION. Returns
// the storage or blob error (Unavailable) so the schedule's retry runs it
// again; a failed image is not an error (it is marked failed).
func (h *JanitorHandler) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	sctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(ctx, dl.Add(-sweepReserve))
		defer cancel()
	}
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
	if err := errors.Join(sweepErr, pruneErr, limitsErr); err != nil {
		return nil, err
	}
	return []byte("null"), nil
}
