package lambdaapp

import (
	"context"
	"log/slog"

	"github.com/cloudpost/cloudpost/core/feed"
)

// JanitorHandler prunes the sync feed (the `janitor` handler, run on a
// schedule): what the server's hourly ticker does.
type JanitorHandler struct {
	feed *feed.Service
	log  *slog.Logger
}

// NewJanitorHandler returns the janitor handler.
func NewJanitorHandler(f *feed.Service, log *slog.Logger) *JanitorHandler {
	return &JanitorHandler{feed: f, log: log}
}

// Invoke implements lambda.Handler: it ignores the (scheduled) event and
// prunes feed entries older than CLOUDPOST_SYNC_RETENTION. Returns the
// store's error (Unavailable) so the schedule's retry runs it again.
func (h *JanitorHandler) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	if err := h.feed.Prune(ctx); err != nil {
		h.log.ErrorContext(ctx, "sync feed prune failed", "err", err)
		return nil, err
	}
	h.log.InfoContext(ctx, "sync feed pruned")
	return []byte("null"), nil
}
