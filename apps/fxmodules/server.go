package fxmodules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/mediaqueue"
	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/core/limits"
	"github.com/cloudpost/cloudpost/core/live"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/notifications"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/core/sessions"
	"github.com/cloudpost/cloudpost/ports"
)

// Endpoint is where the server listens once started; the memory blob store
// builds its presigned URLs from it.
type Endpoint struct {
	cfg  config.Config
	addr atomic.Pointer[string]
}

// BaseURL is the public base URL: CLOUDPOST_PUBLIC_URL, else the address the
// listener actually bound (useful with port 0), else the configured one.
func (e *Endpoint) BaseURL() string {
	if e.cfg.PublicURL != "" {
		return e.cfg.BaseURL()
	}
	if a := e.addr.Load(); a != nil {
		return "http://" + *a
	}
	return e.cfg.BaseURL()
}

// Addr is the bound address ("" before start).
func (e *Endpoint) Addr() string {
	if a := e.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// LocalAuthRoutes are the routes only the local identity provider has: the
// dev mailbox and its JWKS. Auth modules provide it (zero for Cognito).
type LocalAuthRoutes struct {
	DevMail httpapi.DevMailbox
	JWKS    func(ctx context.Context) ([]byte, error)
}

// BlobRoute is the app's own blob route (memory blobs); nil Handler when the
// blobs live in S3. Blob modules provide it.
type BlobRoute struct {
	Handler http.Handler
}

// Server returns the options of the Echo server app for cfg: adapters chosen
// by cfg, the core, the media queue, the HTTP server and the feed janitor.
// Its log goes to stderr through newBufferedLogger, flushed as the app
// stops.
// Stopping the app closes the listener at once; call its *Drain's Drain
// first (apps/server does on SIGTERM) so that no client loses a request.
func Server(cfg config.Config) fx.Option {
	return fx.Options(
		fx.Supply(cfg),
		fx.Provide(
			func(lc fx.Lifecycle, cfg config.Config) *slog.Logger {
				log, flush := newBufferedLogger(cfg, os.Stderr)
				lc.Append(fx.StopHook(flush))
				return log
			},
			func(cfg config.Config) *Endpoint { return &Endpoint{cfg: cfg} },
			func(cfg config.Config, log *slog.Logger) *mediaqueue.Queue {
				return mediaqueue.New(mediaqueue.Config{Workers: cfg.MediaWorkers}, log)
			},
			func(q *mediaqueue.Queue) MediaTrigger { return func(owner, id string) { q.Enqueue(owner, id) } },
			newEcho,
			newDrain,
		),
		Adapters(cfg),
		Core,
		serverPush,
		fx.Invoke(startQueue, startJanitor, startMediaSweep, startHTTP),
		fx.WithLogger(quietFxLogger),
	)
}

type echoIn struct {
	fx.In
	Cfg           config.Config
	Log           *slog.Logger
	Accounts      *accounts.Service
	Profiles      *profiles.Service
	Media         *media.Service
	Posts         *posts.Service
	Comments      *comments.Service
	Notifications *notifications.Service
	Feed          *feed.Service
	Devices       *devices.Service
	Live          *live.Hub `optional:"true"`
	Limits        *limits.Service
	Sessions      *sessions.Service
	Idempotency   *idempotency.Service
	Verifier      ports.TokenVerifier
	Storage       ports.Storage
	LocalAuth     LocalAuthRoutes
	BlobRoute     BlobRoute
	Routes        []httpapi.RouteSet
	Ready         []httpapi.ReadyCheck `group:"ready"`
}

func newEcho(in echoIn) *echo.Echo {
	ready := append([]httpapi.ReadyCheck{{Name: "storage", Check: in.Storage.Ping}}, in.Ready...)
	return httpapi.New(httpapi.Deps{
		Accounts: in.Accounts, Profiles: in.Profiles, Media: in.Media, Posts: in.Posts, Comments: in.Comments,
		Notifications: in.Notifications, Feed: in.Feed, Devices: in.Devices, Live: in.Live, Limits: in.Limits, Sessions: in.Sessions, Idempotency: in.Idempotency, Verifier: in.Verifier,
		Ready: ready, DevMail: in.LocalAuth.DevMail, JWKS: in.LocalAuth.JWKS, Blobs: in.BlobRoute.Handler, Routes: in.Routes,
		Log: in.Log, Config: httpapi.Config{
			CORSOrigins: in.Cfg.CORSOrigins, BlobBodyLimit: in.Cfg.MaxUploadBytes, TrustedProxies: in.Cfg.TrustedProxies,
			JSONReadTimeout: in.Cfg.JSONReadTimeout, WebPushPublicKey: in.Cfg.Push.VAPIDPublicKey,
			Stream: httpapi.StreamConfig{Heartbeat: in.Cfg.Push.StreamHeartbeat, MaxAge: in.Cfg.Push.StreamMaxAge},
		},
	})
}

func startQueue(lc fx.Lifecycle, q *mediaqueue.Queue, m *media.Service) {
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { q.Start(m.Process); return nil },
		OnStop:  q.Stop,
	})
}

// startJanitor prunes the sync feed, the ended rate-limit windows, push
// devices not seen for 270 days, expired stream tickets and idempotency
// keys older than a day every hour.
func startJanitor(lc fx.Lifecycle, f *feed.Service, l *limits.Service, d *devices.Service, idem *idempotency.Service, store ports.Storage, clock ports.Clock, log *slog.Logger) {
	every(lc, time.Hour, false, func(ctx context.Context) {
		if err := f.Prune(ctx); err != nil {
			log.Warn("sync feed prune failed", "err", err)
		}
		if _, err := l.Prune(ctx); err != nil {
			log.Warn("rate limit counters prune failed", "err", err)
		}
		if n, err := d.Prune(ctx); err != nil {
			log.Warn("device prune failed", "err", err)
		} else if n > 0 {
			log.Info("devices not seen for 270 days removed", "count", n)
		}
		if _, err := store.PruneOneTimeTokens(ctx, clock.Now()); err != nil {
			log.Warn("stream ticket prune failed", "err", err)
		}
		if _, err := idem.Prune(ctx); err != nil {
			log.Warn("idempotency key prune failed", "err", err)
		}
	})
}

// startMediaSweep hands the queue what no trigger will process (ids the
// queue could not take, work of a process that died, uploads of an
// instance that stopped) and expires uploads that never arrived: once at
// start, then every CLOUDPOST_MEDIA_SWEEP_INTERVAL. It starts after the
// queue, so what it finds is processed at once.
func startMediaSweep(lc fx.Lifecycle, m *media.Service, q *mediaqueue.Queue, cfg config.Config, log *slog.Logger) {
	every(lc, cfg.MediaSweepInterval, true, func(ctx context.Context) {
		stats, err := m.Sweep(ctx, func(owner, id string) { q.Enqueue(owner, id) })
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("media sweep failed", "err", err, "visited", stats.Visited)
		case stats.Processed > 0 || stats.Expired > 0:
			log.Info("media sweep", "visited", stats.Visited, "queued", stats.Processed, "expired", stats.Expired)
		}
	})
}

// every runs job every interval (and once at start when atStart) on one
// goroutine from the app's start to its stop, which cancels a job under way
// and waits for it.
func every(lc fx.Lifecycle, interval time.Duration, atStart bool, job func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				if atStart {
					job(ctx)
				}
				t := time.NewTicker(interval)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						job(ctx)
					}
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error { cancel(); <-done; return nil },
	})
}

func startHTTP(lc fx.Lifecycle, e *echo.Echo, ep *Endpoint, drain *Drain, hub *live.Hub, cfg config.Config, log *slog.Logger) {
	// Added here, not in newEcho: the Lambda app shares newEcho and never drains.
	e.Use(drain.middleware)
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads of up to MaxUploadBytes go through here locally
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Open notification streams end as shutdown begins (clients resume
	// elsewhere with Last-Event-ID); Shutdown would wait for them otherwise.
	srv.RegisterOnShutdown(hub.Close)
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("CLOUDPOST_HTTP_ADDR: cannot listen on %s: %w", cfg.HTTPAddr, err)
			}
			addr := ln.Addr().String()
			ep.addr.Store(&addr)
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", "err", err)
				}
			}()
			base := ep.BaseURL()
			log.Info("cloudpost listening", "url", base, "storage", cfg.Storage, "blob", cfg.Blob, "auth", cfg.Auth)
			if cfg.Auth == config.AuthLocal {
				log.Info("dev mailbox (confirmation and reset codes)", "url", base+"/v1/dev/mail?to=<email>")
			}
			return nil
		},
		// Shutdown stops accepting, closes idle connections, then waits for
		// requests in flight. Whatever is still open when ctx ends is cut, so
		// the app's stop ends within its budget.
		OnStop: func(ctx context.Context) error {
			drain.draining.Store(true) // /readyz fails for what is left, drained or not
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
				return fmt.Errorf("http server shutdown: %w", err)
			}
			return nil
		},
	})
}

// Drain takes the server out of service before it stops. While it drains,
// the server serves as usual, except that GET /readyz answers 503 (a
// problem) so load balancers stop routing to it, and every response
// carries "Connection: close" so keep-alive clients open their next
// connection elsewhere. Without it, stopping closes idle keep-alive
// connections under clients that are writing a request on them: that
// request fails with a reset.
type Drain struct {
	delay    time.Duration
	log      *slog.Logger
	draining atomic.Bool
}

func newDrain(cfg config.Config, log *slog.Logger) *Drain {
	return &Drain{delay: cfg.ShutdownDrain, log: log}
}

// Drain starts draining and returns after CLOUDPOST_SHUTDOWN_DRAIN, or
// sooner when ctx ends; the server keeps draining until the app stops.
// Stop the app next. Calling it again waits again.
func (d *Drain) Drain(ctx context.Context) {
	if !d.draining.Swap(true) {
		d.log.Info("draining before shutdown: /readyz answers 503, connections close after each response", "for", d.delay)
	}
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Draining reports whether the server is draining (or stopping).
func (d *Drain) Draining() bool { return d.draining.Load() }

// middleware applies the drain to every request.
func (d *Drain) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !d.draining.Load() {
			return next(c)
		}
		// net/http closes the connection once a response says so; closing
		// it any other way could race with the client's next request.
		c.Response().Header().Set(echo.HeaderConnection, "close")
		if c.Path() == "/readyz" {
			return domain.Errorf(domain.Unavailable, "the server is shutting down")
		}
		return next(c)
	}
}
