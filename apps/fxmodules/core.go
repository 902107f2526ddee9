// Package fxmodules assembles cloudpost with fx: the core services module, the
// adapter modules picked by configuration, and the server app. The core
// itself knows nothing of fx; these providers only call its constructors.
package fxmodules

import (
	"io"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/notifications"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/ports"
)

// MediaTrigger starts processing of a media item of an owner when its
// bytes arrive or the client reports its upload complete (nil: the blob
// store's own event does it).
type MediaTrigger func(ownerID, mediaID string)

// Core provides every core use-case service. It needs the ports, a
// config.Config, a *slog.Logger and a MediaTrigger.
var Core = fx.Module("core",
	fx.Provide(
		newMedia,
		newProfiles,
		posts.New,
		newComments,
		newNotifications,
		newFeed,
		newAccounts,
		newLimits,
		newSessions,
		newDevices,
		newRelay,
		newIdempotency,
	),
)

func newIdempotency(store ports.Storage, clock ports.Clock, ids ports.IDs) *idempotency.Service {
	return idempotency.New(store, clock, ids, idempotency.Config{})
}

func newMedia(store ports.Storage, blobs ports.Blobs, images ports.Images, ids ports.IDs, clock ports.Clock, log *slog.Logger, cfg config.Config, trigger MediaTrigger) *media.Service {
	return media.New(store, blobs, images, ids, clock, log, media.Config{
		MaxUploadBytes:  cfg.MaxUploadBytes,
		UploadExpiry:    cfg.UploadExpiry,
		DownloadExpiry:  cfg.DownloadExpiry,
		URLCacheEntries: cfg.URLCacheEntries,
		MaxInFlight:     cfg.MaxPendingUploads,
		OnComplete:      trigger,
	})
}

func newAccounts(identity ports.Identity, verifier ports.TokenVerifier, p *profiles.Service, l *limits.Service, s *sessions.Service, d *devices.Service) *accounts.Service {
	return accounts.New(identity, verifier, p, l, s, d)
}

func newProfiles(store ports.Storage, identity ports.Identity, m *media.Service, clock ports.Clock, log *slog.Logger) *profiles.Service {
	return profiles.New(store, identity, m, clock, log)
}

func newComments(store ports.Storage, p *profiles.Service, n ports.Notifier, ids ports.IDs, clock ports.Clock, log *slog.Logger) *comments.Service {
	return comments.New(store, p, n, ids, clock, log)
}

func newNotifications(store ports.Storage, clock ports.Clock) *notifications.Service {
	return notifications.New(store, clock)
}

func newFeed(store ports.Storage, p *profiles.Service, clock ports.Clock, cfg config.Config) *feed.Service {
	return feed.New(store, p, clock, feed.Config{Retention: cfg.SyncRetention})
}

func newLimits(store ports.Storage, clock ports.Clock, cfg config.Config) *limits.Service {
	return limits.New(store, clock, cfg.Limits.Policy())
}

func newSessions(store ports.Storage, clock ports.Clock, cfg config.Config) *sessions.Service {
	return sessions.New(store, clock, sessions.Config{CacheTTL: cfg.RevocationCacheTTL})
}

// NewLogger returns the process logger configured by cfg (stderr), each
// record written at once. The server app (Server) buffers its log instead.
func NewLogger(cfg config.Config) *slog.Logger {
	return slog.New(newHandler(cfg, os.Stderr))
}

// newHandler returns the handler cfg asks for, writing to w.
func newHandler(cfg config.Config, w io.Writer) slog.Handler {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}
