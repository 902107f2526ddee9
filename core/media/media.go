// Package media runs the media use cases: issuing presigned uploads,
// confirming and processing uploaded images, sweeping up what a queue
// missed, and presenting media with short-lived download URLs.
//
// Trust rules: the raw upload is its owner's alone (it may carry GPS
// coordinates); everyone else receives only renditions the pipeline made,
// without metadata. An upload target writes once, the pipeline records the
// size, ETag and SHA-256 of the bytes it verified, and a later mismatch
// fails the item instead of serving other bytes. No item stays pending
// forever: the sweep processes what a queue dropped and expires uploads
// that never arrived.
package media

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Config holds the media rules.
type Config struct {
	// MaxUploadBytes is the largest upload accepted (default 10 MiB).
	MaxUploadBytes int64
	// UploadExpiry is how long a presigned upload is valid (default 15 min).
	UploadExpiry time.Duration
	// ExpiryGrace is how long after its upload URL expired a pending item
	// whose bytes never arrived is failed as expired (default 5 min): an
	// upload that started just before expiry may still be under way.
	ExpiryGrace time.Duration
	// MaxInFlight caps the uploads one user may have pending or processing
	// at once (default 20; negative: no cap). Beyond it CreateUpload
	// answers TooManyRequests.
	MaxInFlight int
	// DownloadExpiry is how long a download URL stays valid at least, from
	// the moment it is handed out (default 1 h). URLs are reused for an
	// eighth of it, so they are signed for 9/8 of it (see urlCache).
	DownloadExpiry time.Duration
	// URLCacheEntries bounds how many signed download URLs are kept for
	// reuse (default 10000, about 10 MB with S3 URLs); negative disables it.
	URLCacheEntries int
	// ClaimTimeout is after how long an unfinished processing claim may be
	// taken over (default 5 min), so a crashed worker does not block an item.
	ClaimTimeout time.Duration
	// SweepSettle is how long an item must have been left untouched before
	// the sweep looks at it (default 1 min), so the sweep leaves alone what
	// a queue is about to process.
	SweepSettle time.Duration
	// OnComplete, when set, is called with the owner and id after the
	// client reports an upload as finished, its bytes are there and the
	// item is still pending: it starts processing (a queue on a server with
	// S3). Nil when the arrival of the bytes already starts it (memory
	// blobs, the Lambda S3 event).
	OnComplete func(ownerID, mediaID string)
}

func (c Config) withDefaults() Config {
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 10 << 20
	}
	if c.UploadExpiry <= 0 {
		c.UploadExpiry = 15 * time.Minute
	}
	if c.ExpiryGrace <= 0 {
		c.ExpiryGrace = 5 * time.Minute
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 20
	}
	if c.DownloadExpiry <= 0 {
		c.DownloadExpiry = time.Hour
	}
	if c.ClaimTimeout <= 0 {
		c.ClaimTimeout = 5 * time.Minute
	}
	if c.SweepSettle <= 0 {
		c.SweepSettle = time.Minute
	}
	if c.URLCacheEntries == 0 {
		c.URLCacheEntries = 10_000
	}
	return c
}

// Service implements the media use cases.
type Service struct {
	store  ports.MediaStore
	blobs  ports.Blobs
	images ports.Images
	ids    ports.IDs
	clock  ports.Clock
	log    *slog.Logger
	cfg    Config
	urls   *urlCache
}

// New returns a media service. log may be nil (slog.Default).
func New(store ports.MediaStore, blobs ports.Blobs, images ports.Images, ids ports.IDs, clock ports.Clock, log *slog.Logger, cfg Config) *Service {
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	return &Service{store: store, blobs: blobs, images: images, ids: ids, clock: clock, log: log, cfg: cfg,
		urls: newURLCache(cfg.DownloadExpiry, cfg.URLCacheEntries)}
}

// Upload is a pending media item and the presigned request to send its bytes.
type Upload struct {
	Media  domain.Media
	Target domain.UploadTarget
}

// CreateUpload records a pending media item owned by the caller and returns
// a presigned upload for exactly that content type and size, usable once.
// Returns Invalid for an unknown purpose or a size below 1,
// UnsupportedMediaType for a type outside the allow-list, TooLarge above
// the limit, TooManyRequests (with RetryAfter: when the caller's oldest
// upload in flight expires at the latest) when the caller already has
// Config.MaxInFlight uploads pending or processing.
func (s *Service) CreateUpload(ctx context.Context, p domain.Principal, purpose domain.MediaPurpose, contentType string, size int64) (Upload, error) {
	if purpose != domain.PurposeAvatar && purpose != domain.PurposePost {
		return Upload{}, domain.Errorf(domain.Invalid, `purpose must be "avatar" or "post"`)
	}
	if !domain.AllowedImageTypes[contentType] {
		return Upload{}, domain.Errorf(domain.UnsupportedMediaType, "content type %q is not allowed; use image/jpeg, image/png, image/webp or image/gif", contentType)
	}
	if size < 1 {
		return Upload{}, domain.Errorf(domain.Invalid, "size must be at least 1 byte")
	}
	if size > s.cfg.MaxUploadBytes {
		return Upload{}, domain.Errorf(domain.TooLarge, "size must be at most %d bytes", s.cfg.MaxUploadBytes)
	}
	now := s.clock.Now()
	m := domain.Media{
		ID: s.ids.NewID(), OwnerID: p.UserID, Purpose: purpose, ContentType: contentType, Size: size,
		Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now,
	}
	target, err := s.blobs.PresignUpload(ctx, ports.UploadPolicy{
		Key: domain.UploadKey(m.OwnerID, m.ID), ContentType: contentType, Size: size, Expires: s.cfg.UploadExpiry,
	})
	if err != nil {
		return Upload{}, err
	}
	m, err = s.store.CreateMedia(ctx, m, s.admit(now))
	if err != nil {
		return Upload{}, err
	}
	return Upload{Media: m, Target: target}, nil
}

// Reissue returns the caller's upload of media item id again, with a new
// presigned URL for the same key (still write-once: bytes already there
// are never replaced), e.g. to answer a retried CreateUpload whose first
// answer was lost. Returns NotFound unless the item is the caller's.
func (s *Service) Reissue(ctx context.Context, p domain.Principal, id string) (Upload, error) {
	m, err := s.store.GetMedia(ctx, id)
	if err != nil {
		return Upload{}, err
	}
	if m.OwnerID != p.UserID {
		return Upload{}, domain.Errorf(domain.NotFound, "media not found")
	}
	target, err := s.blobs.PresignUpload(ctx, ports.UploadPolicy{
		Key: domain.UploadKey(m.OwnerID, m.ID), ContentType: m.ContentType, Size: m.Size, Expires: s.cfg.UploadExpiry,
	})
	if err != nil {
		return Upload{}, err
	}
	return Upload{Media: m, Target: target}, nil
}

// admit enforces Config.MaxInFlight.
func (s *Service) admit(now time.Time) func(int, time.Time) error {
	if s.cfg.MaxInFlight < 0 {
		return nil
	}
	return func(inFlight int, oldest time.Time) error {
		if inFlight < s.cfg.MaxInFlight {
			return nil
		}
		// A slot frees when an upload is processed, or at the latest when
		// the oldest one expires.
		wait := max(oldest.Add(s.cfg.UploadExpiry+s.cfg.ExpiryGrace).Sub(now), time.Second)
		return &domain.Error{
			Code: domain.TooManyRequests, RetryAfter: wait,
			Message: "too many uploads in progress: upload or wait for the ones already started before starting more",
		}
	}
}

// Get returns a media item. The owner sees it in any state; others only once
// it is attached to a post or is an avatar (what profiles and posts show).
// Returns NotFound (also for items the caller may not see).
func (s *Service) Get(ctx context.Context, p domain.Principal, id string) (domain.Media, error) {
	m, err := s.store.GetMedia(ctx, id)
	if err != nil {
		return domain.Media{}, err
	}
	if m.OwnerID != p.UserID && m.PostID == "" && m.Purpose != domain.PurposeAvatar {
		return domain.Media{}, domain.Errorf(domain.NotFound, "media not found")
	}
	return m, nil
}

// Complete records that the client finished uploading. It is idempotent:
// while the item is pending it checks that the bytes are there and
// triggers processing when Config.OnComplete is set; in any other state it
// returns the item as it is. Returns NotFound for unknown ids, Forbidden
// for items of other users, Conflict when the bytes have not arrived.
func (s *Service) Complete(ctx context.Context, p domain.Principal, id string) (domain.Media, error) {
	m, err := s.store.GetMedia(ctx, id)
	if err != nil {
		return domain.Media{}, err
	}
	if m.OwnerID != p.UserID {
		return domain.Media{}, domain.Errorf(domain.Forbidden, "only the owner may complete this upload")
	}
	if m.Status != domain.MediaPending {
		return m, nil
	}
	if _, err := s.blobs.Stat(ctx, domain.UploadKey(m.OwnerID, m.ID)); err != nil {
		if domain.IsCode(err, domain.NotFound) {
			return domain.Media{}, domain.Errorf(domain.Conflict, "the upload has not arrived: send the bytes with the upload request first, then complete it")
		}
		return domain.Media{}, err
	}
	if s.cfg.OnComplete != nil {
		s.cfg.OnComplete(m.OwnerID, m.ID)
	}
	return m, nil
}

// CheckAttachable checks that the caller may attach the media ids with the
// purpose: each exists, is owned by the caller, has that purpose, has not
// failed, and, while pending, its bytes have arrived (blob stat). Returns
// Invalid (a list domain.CheckMediaIDs refuses, wrong purpose, failed
// item, upload missing), NotFound, Forbidden, or the blob store's error.
func (s *Service) CheckAttachable(ctx context.Context, p domain.Principal, ids []string, purpose domain.MediaPurpose) error {
	if len(ids) == 0 {
		return nil
	}
	if err := domain.CheckMediaIDs(ids); err != nil {
		return err
	}
	items, err := s.store.GetMediaBatch(ctx, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]domain.Media, len(items))
	for _, m := range items {
		byID[m.ID] = m
	}
	for _, id := range ids {
		m, ok := byID[id]
		switch {
		case !ok:
			return domain.Errorf(domain.NotFound, "media %s not found", id)
		case m.OwnerID != p.UserID:
			return domain.Errorf(domain.Forbidden, "media %s belongs to another user", id)
		case m.Purpose != purpose:
			return domain.Errorf(domain.Invalid, "media %s has purpose %q, not %q", id, m.Purpose, purpose)
		case m.Status == domain.MediaFailed:
			return domain.Errorf(domain.Invalid, "media %s failed processing: %s", id, m.FailureReason)
		case m.Status == domain.MediaPending || m.Status == domain.MediaProcessing:
			if _, err := s.blobs.Stat(ctx, domain.UploadKey(m.OwnerID, m.ID)); err != nil {
				if domain.IsCode(err, domain.NotFound) {
					return domain.Errorf(domain.Invalid, "media %s has not been uploaded yet", id)
				}
				return err
			}
		}
	}
	return nil
}

// DeleteObjects removes the blobs of the items (upload and variants).
// Failures are logged, not returned: the rows are already gone and an orphan
// object is harmless (a bucket lifecycle rule may sweep them).
func (s *Service) DeleteObjects(ctx context.Context, items []domain.Media) {
	if len(items) == 0 {
		return
	}
	keys := make([]string, 0, len(items)*(1+len(domain.VariantNames)))
	for _, m := range items {
		keys = append(keys, objectKeys(m)...)
	}
	if err := s.blobs.Delete(ctx, keys...); err != nil {
		s.log.WarnContext(ctx, "media objects not deleted", "count", len(keys), "err", err)
	}
}

// objectKeys are every blob key an item may have.
func objectKeys(m domain.Media) []string {
	keys := []string{domain.UploadKey(m.OwnerID, m.ID)}
	for _, v := range domain.VariantNames {
		keys = append(keys, domain.VariantKey(m.ID, v))
	}
	return keys
}

// errNotClaimable aborts an UpdateMedia whose item is not in the expected state.
var errNotClaimable = errors.New("media is not in the expected state")
