// Package media runs the media use cases: issuing presigned uploads,
// confirming and processing uploaded images, and presenting media with
// short-lived download URLs.
package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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
	// OnComplete, when set, is called after the client reports an upload as
	// finished and the item is still pending: it starts processing (a queue
	// on a server with S3). Nil when the arrival of the bytes already starts
	// it (memory blobs, the Lambda S3 event).
	OnComplete func(mediaID string)
}

func (c Config) withDefaults() Config {
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 10 << 20
	}
	if c.UploadExpiry <= 0 {
		c.UploadExpiry = 15 * time.Minute
	}
	if c.DownloadExpiry <= 0 {
		c.DownloadExpiry = time.Hour
	}
	if c.ClaimTimeout <= 0 {
		c.ClaimTimeout = 5 * time.Minute
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
// a presigned upload for exactly that content type and size. Returns Invalid
// for an unknown purpose or a size below 1, UnsupportedMediaType for a type
// outside the allow-list, TooLarge above the limit.
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
	m, err = s.store.CreateMedia(ctx, m)
	if err != nil {
		return Upload{}, err
	}
	return Upload{Media: m, Target: target}, nil
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

// Complete records that the client finished uploading. It is idempotent and
// accepted in every state; while the item is pending it triggers processing
// when Config.OnComplete is set. Returns NotFound for unknown ids, Forbidden
// for items of other users.
func (s *Service) Complete(ctx context.Context, p domain.Principal, id string) (domain.Media, error) {
	m, err := s.store.GetMedia(ctx, id)
	if err != nil {
		return domain.Media{}, err
	}
	if m.OwnerID != p.UserID {
		return domain.Media{}, domain.Errorf(domain.Forbidden, "only the owner may complete this upload")
	}
	if m.Status == domain.MediaPending && s.cfg.OnComplete != nil {
		s.cfg.OnComplete(m.ID)
	}
	return m, nil
}

// CheckAttachable checks that the caller may attach the media ids with the
// purpose: each exists, is owned by the caller, has that purpose, has not
// failed, and, while pending, its bytes have arrived (blob stat). Returns
// Invalid (duplicates, wrong purpose, failed item, upload missing),
// NotFound, Forbidden, or the blob store's error.
func (s *Service) CheckAttachable(ctx context.Context, p domain.Principal, ids []string, purpose domain.MediaPurpose) error {
	if len(ids) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return domain.Errorf(domain.Invalid, "media %s is listed twice", id)
		}
		seen[id] = true
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

// sniffLen is how many leading bytes confirm the real type of an upload.
const sniffLen = 512

// Process runs the image pipeline for a media item once: it claims the
// item, checks the stored object against what was declared (size, content
// type, magic bytes), makes the variants, stores them under
// variants/<id>/ and marks the item ready. Bytes that are not a valid image
// of the declared type mark it failed with a reason; that is a permanent
// outcome and returns nil. Items already ready, failed or being processed
// are left alone (nil), so duplicate triggers are harmless. Returns an error
// only for retryable failures (blob or storage unavailable); the claim is
// then released so a retry can run.
func (s *Service) Process(ctx context.Context, id string) error {
	m, claimed, err := s.claim(ctx, id)
	if err != nil || !claimed {
		if domain.IsCode(err, domain.NotFound) {
			s.log.InfoContext(ctx, "media processing skipped: item is gone", "mediaId", id)
			return nil
		}
		return err
	}
	variants, reason, err := s.makeVariants(ctx, m)
	if err != nil {
		s.release(ctx, id)
		return err
	}
	if reason != "" {
		s.log.InfoContext(ctx, "media failed", "mediaId", id, "reason", reason)
		return s.finish(ctx, id, domain.MediaFailed, reason, nil)
	}
	names := make([]string, 0, len(variants))
	for _, v := range variants {
		if err := s.blobs.Put(ctx, domain.VariantKey(m.ID, v.Name), v.ContentType, bytes.NewReader(v.Data), int64(len(v.Data))); err != nil {
			s.release(ctx, id)
			return err
		}
		names = append(names, v.Name)
	}
	return s.finish(ctx, id, domain.MediaReady, "", names)
}

// claim moves a pending item (or one whose claim timed out) to processing.
func (s *Service) claim(ctx context.Context, id string) (domain.Media, bool, error) {
	var claimed bool
	m, err := s.store.UpdateMedia(ctx, id, func(m *domain.Media) error {
		now := s.clock.Now()
		stale := m.Status == domain.MediaProcessing && now.Sub(m.ClaimedAt) > s.cfg.ClaimTimeout
		if m.Status != domain.MediaPending && !stale {
			return errNotClaimable
		}
		m.Status, m.ClaimedAt, m.UpdatedAt = domain.MediaProcessing, now, now
		claimed = true
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return m, false, nil
	}
	return m, claimed, err
}

var errNotClaimable = errors.New("media is not claimable")

func (s *Service) release(ctx context.Context, id string) {
	_, err := s.store.UpdateMedia(ctx, id, func(m *domain.Media) error {
		if m.Status != domain.MediaProcessing {
			return errNotClaimable
		}
		m.Status, m.ClaimedAt, m.UpdatedAt = domain.MediaPending, time.Time{}, s.clock.Now()
		return nil
	})
	if err != nil && !errors.Is(err, errNotClaimable) {
		s.log.WarnContext(ctx, "media claim not released", "mediaId", id, "err", err)
	}
}

func (s *Service) finish(ctx context.Context, id string, status domain.MediaStatus, reason string, variants []string) error {
	_, err := s.store.UpdateMedia(ctx, id, func(m *domain.Media) error {
		m.Status, m.FailureReason, m.Variants, m.UpdatedAt = status, reason, variants, s.clock.Now()
		return nil
	})
	if domain.IsCode(err, domain.NotFound) {
		return nil // deleted while processing; its blobs were deleted with it
	}
	return err
}

// makeVariants returns the variants, or a client-safe reason why the upload
// is permanently unusable, or a retryable error.
func (s *Service) makeVariants(ctx context.Context, m domain.Media) ([]domain.Variant, string, error) {
	key := domain.UploadKey(m.OwnerID, m.ID)
	info, err := s.blobs.Stat(ctx, key)
	if domain.IsCode(err, domain.NotFound) {
		return nil, "", domain.Errorf(domain.Unavailable, "upload %s has not arrived yet", m.ID)
	}
	if err != nil {
		return nil, "", err
	}
	if info.Size != m.Size {
		return nil, fmt.Sprintf("uploaded %d bytes, declared %d", info.Size, m.Size), nil
	}
	if info.ContentType != "" && info.ContentType != m.ContentType {
		return nil, fmt.Sprintf("uploaded content type %s, declared %s", info.ContentType, m.ContentType), nil
	}
	head, err := s.blobs.ReadHead(ctx, key, sniffLen)
	if err != nil {
		return nil, "", err
	}
	if sniffed := http.DetectContentType(head); sniffed != m.ContentType {
		return nil, fmt.Sprintf("file is not %s (looks like %s)", m.ContentType, sniffed), nil
	}
	rc, _, err := s.blobs.Open(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	variants, err := s.images.MakeVariants(ctx, rc, m.ContentType, s.cfg.MaxUploadBytes)
	switch domain.ErrorCode(err) {
	case "":
		return variants, "", nil
	case domain.Invalid, domain.TooLarge, domain.UnsupportedMediaType:
		return nil, domain.ErrorMessage(err), nil
	default:
		return nil, "", err
	}
}

// View is a media item with the URLs a client uses to show it.
type View struct {
	domain.Media
	// URLs maps "original" and each existing variant name to a short-lived URL.
	URLs map[string]string
}

// Views presents the items among ids that exist, keyed by id. Missing ids
// are left out.
func (s *Service) Views(ctx context.Context, ids []string) (map[string]View, error) {
	out := make(map[string]View, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	items, err := s.store.GetMediaBatch(ctx, slices.Compact(slices.Sorted(slices.Values(ids))))
	if err != nil {
		return nil, err
	}
	return s.ViewsOf(ctx, items)
}

// ViewsOf presents items already read, keyed by id (as Views does).
func (s *Service) ViewsOf(ctx context.Context, items []domain.Media) (map[string]View, error) {
	out := make(map[string]View, len(items))
	for _, m := range items {
		v, err := s.view(ctx, m)
		if err != nil {
			return nil, err
		}
		out[m.ID] = v
	}
	return out, nil
}

// View presents one item.
func (s *Service) View(ctx context.Context, m domain.Media) (View, error) { return s.view(ctx, m) }

func (s *Service) view(ctx context.Context, m domain.Media) (View, error) {
	v := View{Media: m, URLs: make(map[string]string, 1+len(m.Variants))}
	if m.Status == domain.MediaFailed {
		return v, nil
	}
	if m.Status == domain.MediaReady {
		u, err := s.downloadURL(ctx, domain.UploadKey(m.OwnerID, m.ID))
		if err != nil {
			return View{}, err
		}
		v.URLs["original"] = u
	}
	for _, name := range m.Variants {
		u, err := s.downloadURL(ctx, domain.VariantKey(m.ID, name))
		if err != nil {
			return View{}, err
		}
		v.URLs[name] = u
	}
	return v, nil
}

// downloadURL returns a URL valid for at least DownloadExpiry, reused from
// the cache while it is.
func (s *Service) downloadURL(ctx context.Context, key string) (string, error) {
	now := s.clock.Now()
	if u, ok := s.urls.get(key, now); ok {
		return u, nil
	}
	u, err := s.blobs.PresignDownload(ctx, key, s.urls.signFor(s.cfg.DownloadExpiry))
	if err != nil {
		return "", err
	}
	s.urls.put(key, u, now)
	return u, nil
}

// DeleteObjects removes the blobs of the items (original and variants).
// Failures are logged, not returned: the rows are already gone and an orphan
// object is harmless (a bucket lifecycle rule may sweep them).
func (s *Service) DeleteObjects(ctx context.Context, items []domain.Media) {
	if len(items) == 0 {
		return
	}
	keys := make([]string, 0, len(items)*(1+len(domain.VariantNames)))
	for _, m := range items {
		keys = append(keys, domain.UploadKey(m.OwnerID, m.ID))
		for _, v := range domain.VariantNames {
			keys = append(keys, domain.VariantKey(m.ID, v))
		}
	}
	if err := s.blobs.Delete(ctx, keys...); err != nil {
		s.log.WarnContext(ctx, "media objects not deleted", "count", len(keys), "err", err)
	}
}
