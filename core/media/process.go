package media

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// sniffLen is how many leading bytes confirm the real type of an upload.
const sniffLen = 512

// ReasonReplaced is the FailureReason of an item whose upload changed after
// the pipeline had verified it.
const ReasonReplaced = "the upload was replaced after it was processed"

// Process runs the image pipeline for a media item once: it claims the
// item, reads the stored upload, checks it against what was declared (size,
// content type, magic bytes), makes the variants, stores them under
// variants/<id>/ and marks the item ready with the ETag and SHA-256 of the
// bytes it verified. Bytes that are not a valid image of the declared type
// mark it failed with a reason, a permanent outcome (nil), and are dropped.
// A trigger for an item already ready re-checks that its upload is still
// the one processed and fails the item if not; items failed or being
// processed are left alone (nil), so duplicate triggers are harmless.
// Returns an error only for retryable failures (blobs or storage
// unavailable, the upload not there yet); the claim is then released so a
// retry can run.
func (s *Service) Process(ctx context.Context, id string) error {
	m, claimed, err := s.claim(ctx, id)
	if domain.IsCode(err, domain.NotFound) {
		s.log.InfoContext(ctx, "media processing skipped: item is gone", "mediaId", id)
		return nil
	}
	if err != nil {
		return err
	}
	if !claimed {
		if m.Status == domain.MediaReady {
			return s.verify(ctx, m)
		}
		return nil
	}
	res, err := s.makeVariants(ctx, m)
	if err != nil {
		s.release(ctx, id)
		return err
	}
	if res.reason != "" {
		s.log.InfoContext(ctx, "media failed", "mediaId", id, "reason", res.reason)
		return s.fail(ctx, m, res.reason)
	}
	names := make([]string, 0, len(res.variants))
	for _, v := range res.variants {
		o := ports.Object{Key: domain.VariantKey(m.ID, v.Name), ContentType: v.ContentType, Size: int64(len(v.Data)), MaxAge: s.cfg.DownloadExpiry}
		if err := s.blobs.Put(ctx, o, bytes.NewReader(v.Data)); err != nil {
			s.release(ctx, id)
			return err
		}
		names = append(names, v.Name)
	}
	_, err = s.store.UpdateMedia(ctx, id, func(m *domain.Media) error {
		m.Status, m.FailureReason, m.Variants, m.UpdatedAt = domain.MediaReady, "", names, s.clock.Now()
		m.ETag, m.Checksum = res.etag, res.checksum
		return nil
	})
	if domain.IsCode(err, domain.NotFound) {
		return nil // deleted while processing; its blobs were deleted with it
	}
	return err
}

// claim moves a pending item (or one whose claim timed out) to processing.
// It returns the item as stored either way.
func (s *Service) claim(ctx context.Context, id string) (domain.Media, bool, error) {
	var cur domain.Media
	m, err := s.store.UpdateMedia(ctx, id, func(m *domain.Media) error {
		cur = *m
		now := s.clock.Now()
		stale := m.Status == domain.MediaProcessing && now.Sub(m.ClaimedAt) > s.cfg.ClaimTimeout
		if m.Status != domain.MediaPending && !stale {
			return errNotClaimable
		}
		m.Status, m.ClaimedAt, m.UpdatedAt = domain.MediaProcessing, now, now
		return nil
	})
	if errors.Is(err, errNotClaimable) {
		return cur, false, nil
	}
	return m, err == nil, err
}

// release puts a claimed item back to pending, even when ctx has ended
// (a timed-out attempt must not hold its claim until ClaimTimeout).
func (s *Service) release(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
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

// fail marks the item failed with a client-safe reason and drops its bytes.
// The upload is replaced by an empty object rather than deleted, so the
// key stays taken and a replay of its write-once upload URL is refused.
func (s *Service) fail(ctx context.Context, m domain.Media, reason string) error {
	_, err := s.store.UpdateMedia(ctx, m.ID, func(m *domain.Media) error {
		m.Status, m.FailureReason, m.Variants, m.UpdatedAt = domain.MediaFailed, reason, nil, s.clock.Now()
		return nil
	})
	if domain.IsCode(err, domain.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	keys := objectKeys(m)
	if err := s.blobs.Put(ctx, ports.Object{Key: keys[0], ContentType: "application/octet-stream"}, bytes.NewReader(nil)); err != nil {
		s.log.WarnContext(ctx, "bytes of a failed upload not dropped", "mediaId", m.ID, "err", err)
	}
	if err := s.blobs.Delete(ctx, keys[1:]...); err != nil {
		s.log.WarnContext(ctx, "variants of a failed upload not deleted", "mediaId", m.ID, "err", err)
	}
	return nil
}

// verify checks that the upload of a ready item is still the one the
// pipeline verified, and fails the item if it is not. Items processed
// before checksums were recorded have nothing to compare with.
func (s *Service) verify(ctx context.Context, m domain.Media) error {
	if m.Checksum == "" {
		return nil
	}
	key := domain.UploadKey(m.OwnerID, m.ID)
	info, err := s.blobs.Stat(ctx, key)
	if domain.IsCode(err, domain.NotFound) {
		return nil // nothing to serve in its place
	}
	if err != nil {
		return err
	}
	if info.Size == m.Size && info.ETag == m.ETag {
		return nil
	}
	// The ETag alone does not prove other bytes (an encrypted bucket gives
	// every write a new one): compare the content.
	same := false
	if info.Size == m.Size {
		rc, _, err := s.blobs.Open(ctx, key)
		if err != nil && !domain.IsCode(err, domain.NotFound) {
			return err
		}
		if err == nil {
			h := sha256.New()
			n, err := io.Copy(h, io.LimitReader(rc, m.Size+1))
			rc.Close()
			if err != nil {
				return err
			}
			same = n == m.Size && hex.EncodeToString(h.Sum(nil)) == m.Checksum
		}
	}
	if same {
		return nil
	}
	s.log.WarnContext(ctx, "media upload changed after processing; item failed", "mediaId", m.ID, "ownerId", m.OwnerID)
	return s.fail(ctx, m, ReasonReplaced)
}

// processed is the outcome of makeVariants: variants and the identity of
// the bytes they were made from, or a client-safe reason why the upload is
// permanently unusable.
type processed struct {
	variants       []domain.Variant
	etag, checksum string
	reason         string
}

// makeVariants reads the upload once: the declared size and type are
// checked against the object, the magic bytes against the type, and the
// bytes are hashed as the pipeline reads them. A missing upload or a read
// failure is a retryable error.
func (s *Service) makeVariants(ctx context.Context, m domain.Media) (processed, error) {
	rc, info, err := s.blobs.Open(ctx, domain.UploadKey(m.OwnerID, m.ID))
	if domain.IsCode(err, domain.NotFound) {
		return processed{}, domain.Errorf(domain.Unavailable, "upload %s has not arrived yet", m.ID)
	}
	if err != nil {
		return processed{}, err
	}
	defer rc.Close()
	if info.Size != m.Size {
		return processed{reason: fmt.Sprintf("uploaded %d bytes, declared %d", info.Size, m.Size)}, nil
	}
	if ct := info.ContentType; ct != "" && !strings.EqualFold(ct, m.ContentType) {
		return processed{reason: fmt.Sprintf("uploaded content type %s, declared %s", ct, m.ContentType)}, nil
	}
	br := bufio.NewReaderSize(io.LimitReader(rc, m.Size+1), sniffLen)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return processed{}, domain.Wrap(err, domain.Unavailable, "reading the upload failed")
	}
	if sniffed := http.DetectContentType(head); sniffed != m.ContentType {
		return processed{reason: fmt.Sprintf("file is not %s (looks like %s)", m.ContentType, sniffed)}, nil
	}
	h := &hashCounter{h: sha256.New()}
	src := io.TeeReader(br, h)
	variants, err := s.images.MakeVariants(ctx, src, m.ContentType, s.cfg.MaxUploadBytes)
	switch domain.ErrorCode(err) {
	case "":
	case domain.Invalid, domain.TooLarge, domain.UnsupportedMediaType:
		return processed{reason: domain.ErrorMessage(err)}, nil
	case domain.Unavailable:
		return processed{}, err
	default:
		s.log.ErrorContext(ctx, "image pipeline failed", "mediaId", m.ID, "err", err)
		return processed{reason: "the image could not be processed"}, nil
	}
	// The pipeline reads to the end; this only finishes the hash if not.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return processed{}, domain.Wrap(err, domain.Unavailable, "reading the upload failed")
	}
	if h.n != m.Size {
		return processed{}, domain.Errorf(domain.Unavailable, "read %d bytes of upload %s, expected %d", h.n, m.ID, m.Size)
	}
	return processed{variants: variants, etag: info.ETag, checksum: hex.EncodeToString(h.h.Sum(nil))}, nil
}

// hashCounter hashes and counts what is written to it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}
