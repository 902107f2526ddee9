package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
)

// MediaHandler runs the image pipeline for S3 ObjectCreated events on keys
// under uploads/ (the `media` handler). The pipeline writes only under
// variants/, which the bucket's notification does not watch, so a run
// cannot trigger itself.
type MediaHandler struct {
	media *media.Service
	log   *slog.Logger
}

// NewMediaHandler returns the media handler.
func NewMediaHandler(m *media.Service, log *slog.Logger) *MediaHandler {
	return &MediaHandler{media: m, log: log}
}

// Handle processes every ObjectCreated record whose (URL-decoded) key is an
// upload key, one after the other. Processing is idempotent (the service
// claims the item), so a duplicate delivery is harmless. Keys outside
// uploads/ and other event types are logged and skipped. Permanent
// failures (not an image, wrong size or type) mark the item failed and
// count as done; the returned error joins the retryable failures
// (Unavailable storage or blobs, an upload not visible yet), so Lambda
// retries the event.
func (h *MediaHandler) Handle(ctx context.Context, ev events.S3Event) error {
	var errs []error
	for _, rec := range ev.Records {
		if err := h.record(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *MediaHandler) record(ctx context.Context, rec events.S3EventRecord) error {
	bucket := rec.S3.Bucket.Name
	// S3 event keys are URL-encoded with '+' for spaces.
	key, err := url.QueryUnescape(rec.S3.Object.Key)
	if err != nil {
		h.log.WarnContext(ctx, "media event skipped: undecodable key", "bucket", bucket, "key", rec.S3.Object.Key)
		return nil
	}
	if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
		h.log.InfoContext(ctx, "media event skipped: not an object creation", "event", rec.EventName, "bucket", bucket, "key", key)
		return nil
	}
	_, mediaID, ok := domain.ParseUploadKey(key)
	if !ok {
		h.log.InfoContext(ctx, "media event skipped: key is not an upload", "bucket", bucket, "key", key)
		return nil
	}
	if err := h.media.Process(ctx, mediaID); err != nil {
		h.log.WarnContext(ctx, "media processing failed; the event will be retried", "mediaId", mediaID, "key", key, "err", err)
		return fmt.Errorf("media %s: %w", mediaID, err)
	}
	h.log.InfoContext(ctx, "media event handled", "mediaId", mediaID, "key", key)
	return nil
}

// Invoke implements lambda.Handler. An event that is not an S3 event is
// logged and dropped (retrying it cannot help).
func (h *MediaHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.S3Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		h.log.ErrorContext(ctx, "media event dropped: not an S3 event", "err", err)
		return []byte("null"), nil
	}
	if err := h.Handle(ctx, ev); err != nil {
		return nil, err
	}
	return []byte("null"), nil
}
