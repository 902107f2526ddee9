package media

import (
	"context"
	"slices"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Original is the URLs key of the raw upload, handed to its owner only.
const Original = "original"

// View is a media item with the URLs a client uses to show it.
type View struct {
	domain.Media
	// URLs maps each existing variant name (domain.VariantNames) to a
	// short-lived URL and, for the owner of a ready item only, Original to
	// the raw upload.
	URLs map[string]string
}

// Views presents the items among ids that exist to viewer, keyed by id.
// Missing ids are left out.
func (s *Service) Views(ctx context.Context, viewer domain.Principal, ids []string) (map[string]View, error) {
	if len(ids) == 0 {
		return map[string]View{}, nil
	}
	items, err := s.store.GetMediaBatch(ctx, slices.Compact(slices.Sorted(slices.Values(ids))))
	if err != nil {
		return nil, err
	}
	return s.ViewsOf(ctx, viewer, items)
}

// ViewsOf presents items already read to viewer, keyed by id (as Views does).
func (s *Service) ViewsOf(ctx context.Context, viewer domain.Principal, items []domain.Media) (map[string]View, error) {
	out := make(map[string]View, len(items))
	for _, m := range items {
		v, err := s.View(ctx, viewer, m)
		if err != nil {
			return nil, err
		}
		out[m.ID] = v
	}
	return out, nil
}

// View presents one item to viewer. Everyone gets the pipeline's
// renditions (no metadata); only the owner gets the raw upload, which may
// carry GPS coordinates, as a download served with the content type the
// pipeline verified. Returns the blob store's signing errors.
func (s *Service) View(ctx context.Context, viewer domain.Principal, m domain.Media) (View, error) {
	v := View{Media: m, URLs: make(map[string]string, 1+len(m.Variants))}
	if m.Status == domain.MediaFailed {
		return v, nil
	}
	if m.Status == domain.MediaReady && viewer.UserID != "" && viewer.UserID == m.OwnerID {
		u, err := s.downloadURL(ctx, ports.DownloadPolicy{
			Key: domain.UploadKey(m.OwnerID, m.ID), ContentType: m.ContentType, Attachment: true,
		})
		if err != nil {
			return View{}, err
		}
		v.URLs[Original] = u
	}
	for _, name := range m.Variants {
		u, err := s.downloadURL(ctx, ports.DownloadPolicy{Key: domain.VariantKey(m.ID, name)})
		if err != nil {
			return View{}, err
		}
		v.URLs[name] = u
	}
	return v, nil
}

// downloadURL returns a URL for p valid for at least DownloadExpiry, reused
// from the cache while it is. A key is always presented with the same
// policy, so the key identifies the URL.
func (s *Service) downloadURL(ctx context.Context, p ports.DownloadPolicy) (string, error) {
	now := s.clock.Now()
	if u, ok := s.urls.get(p.Key, now); ok {
		return u, nil
	}
	p.Expires = s.urls.signFor(s.cfg.DownloadExpiry)
	u, err := s.blobs.PresignDownload(ctx, p)
	if err != nil {
		return "", err
	}
	s.urls.put(p.Key, u, now)
	return u, nil
}
