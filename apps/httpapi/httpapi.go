// Package httpapi is cloudpost's JSON/HTTP API on Echo v4: routes, handlers,
// DTOs, the mapping of domain errors to RFC 9457 problems, middleware (request
// id, access log, recover, body limit, CORS, secure headers, bearer auth) and
// the OpenAPI document of every route (internal/apidoc/openapi.yaml, served
// at GET /openapi.yaml).
//
// The package drives the core use cases and knows no adapter: the caller
// (apps/server with fx, apps/lambda, tests) builds the services and passes
// them in Deps. New does no I/O.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/devices"
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

// Default limits applied when Config leaves them zero.
const (
	// DefaultJSONBodyLimit is the largest JSON request body (64 KiB).
	DefaultJSONBodyLimit = 64 << 10
	// DefaultBlobBodyLimit is the largest body of a request to the local blob
	// route (10 MiB, the default upload limit).
	DefaultBlobBodyLimit = 10 << 20
	// BlobPathPrefix is where Deps.Blobs is mounted.
	BlobPathPrefix = "/v1/blobs/"
	// readyTimeout bounds each readiness check.
	readyTimeout = 2 * time.Second
)

// Config holds the HTTP-level settings.
type Config struct {
	// CORSOrigins are the origins browsers may call the API from (exact
	// origins such as "http://localhost:3000", "*" for any, or patterns with
	// '*'). Empty: no CORS headers at all (same-origin only).
	CORSOrigins []string
	// JSONBodyLimit is the largest JSON request body in bytes; larger bodies
	// get 413. Zero: DefaultJSONBodyLimit.
	JSONBodyLimit int64
	// BlobBodyLimit is the largest body accepted on the blob route. Zero:
	// DefaultBlobBodyLimit.
	BlobBodyLimit int64
	// JSONReadTimeout bounds the time a client has to send the body of a
	// request to any route but the blob route (408 after it). Zero:
	// DefaultJSONReadTimeout.
	JSONReadTimeout time.Duration
	// TrustedProxies are the proxies (load balancers) whose
	// X-Forwarded-For entry names the client; empty: the connection's peer
	// is the client (and X-Forwarded-For is ignored).
	TrustedProxies []netip.Prefix
	// Stream tunes GET /v1/notifications/stream.
	Stream StreamConfig
	// WebPushPublicKey is the VAPID public key browsers subscribe with
	// (GET /v1/push/config); empty when Web Push is not configured.
	WebPushPublicKey string
}

// ReadyCheck is one readiness probe run by GET /readyz.
type ReadyCheck struct {
	// Name is the key of the check in the /readyz answer.
	Name string
	// Check returns nil when the dependency is usable.
	Check func(ctx context.Context) error
}

// DevMessage is one message of the local identity provider's outbox.
type DevMessage struct {
	To      string
	Subject string
	Code    string
	SentAt  time.Time
}

// DevMailbox reads the local identity provider's outbox (GET /v1/dev/mail).
type DevMailbox interface {
	// Mail returns the messages sent to the address, in any order.
	Mail(to string) []DevMessage
}

// DevMailboxFunc adapts a function to DevMailbox, so an identity provider
// plugs in without this package importing it, e.g.
//
//	httpapi.DevMailboxFunc(func(to string) []httpapi.DevMessage { ...convert auth.Mail(to)... })
type DevMailboxFunc func(to string) []DevMessage

// Mail calls f.
func (f DevMailboxFunc) Mail(to string) []DevMessage { return f(to) }

// Deps are the services and settings the API is built from. The core
// services and Verifier are required; the optional ones switch routes on.
type Deps struct {
	// The core use cases the handlers drive.
	Accounts      *accounts.Service
	Profiles      *profiles.Service
	Media         *media.Service
	Posts         *posts.Service
	Comments      *comments.Service
	Notifications *notifications.Service
	Feed          *feed.Service
	Devices       *devices.Service
	// Live, when not nil, serves the notification stream and its tickets
	// (servers; not Lambda, whose responses API Gateway buffers).
	Live *live.Hub
	// Idempotency, when not nil, honours Idempotency-Key on the creating
	// routes (POST /v1/uploads, /v1/posts, /v1/posts/{id}/comments).
	Idempotency *idempotency.Service
	// Limits counts requests against the abuse limits; Sessions refuses
	// callers whose sessions were revoked.
	Limits   *limits.Service
	Sessions *sessions.Service
	// Verifier checks bearer access tokens.
	Verifier ports.TokenVerifier
	// Ready are the checks of GET /readyz.
	Ready []ReadyCheck
	// DevMail, when not nil, serves GET /v1/dev/mail (local identity only).
	DevMail DevMailbox
	// JWKS, when not nil, serves GET /.well-known/jwks.json (local issuer only).
	JWKS func(ctx context.Context) ([]byte, error)
	// Blobs, when not nil, is mounted at /v1/blobs/* without bearer auth
	// (memory blob store: presigned URLs carry their own signature).
	Blobs http.Handler
	// Routes are extra route sets registered after the built-in ones, with
	// the same middleware and error handling (e.g. social sign-in with
	// Cognito). Each must be described in openapi.yaml.
	Routes []RouteSet
	// Log receives access logs and internal errors. Nil: slog.Default().
	Log *slog.Logger
	// Config holds the HTTP settings.
	Config Config
}

// RouteSet registers a group of optional routes on the Echo instance.
type RouteSet interface {
	Register(e *echo.Echo)
}

// api holds the dependencies the handlers use.
type api struct {
	Deps
	log *slog.Logger
}

// New returns an Echo instance with every route, the middleware and the
// problem error handler installed. It does no I/O; serve it with
// e.Start, http.Server{Handler: e} or e.ServeHTTP.
func New(d Deps) *echo.Echo {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Config.JSONBodyLimit <= 0 {
		d.Config.JSONBodyLimit = DefaultJSONBodyLimit
	}
	if d.Config.BlobBodyLimit <= 0 {
		d.Config.BlobBodyLimit = DefaultBlobBodyLimit
	}
	if d.Config.JSONReadTimeout <= 0 {
		d.Config.JSONReadTimeout = DefaultJSONReadTimeout
	}
	a := &api{Deps: d, log: d.Log}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.handleError
	// Handlers decode bodies themselves (strict JSON); the default binder is
	// never used, but make sure nobody reaches for it by accident.
	e.Binder = refuseBinder{}
	e.IPExtractor = ipExtractor(d.Config.TrustedProxies)

	// Order matters: the request id exists before anything logs; the access
	// log sees the final status, including recovered panics; CORS answers
	// preflights before auth runs.
	e.Use(requestID, a.accessLog, a.recoverPanics, secureHeaders)
	if len(d.Config.CORSOrigins) > 0 {
		e.Use(corsMiddleware(d.Config.CORSOrigins))
	}
	e.Use(a.bodyLimit)

	a.routes(e)
	for _, r := range d.Routes {
		r.Register(e)
	}
	return e
}

// routes registers every route. Each one is described in openapi.yaml; a
// test keeps the two in step.
func (a *api) routes(e *echo.Echo) {
	// Authentication, then the revocation check, on every authenticated
	// route; limits after them, so they can count per user.
	auth := func(next echo.HandlerFunc) echo.HandlerFunc { return a.authenticate(a.notRevoked(next)) }
	limit := a.limit

	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.GET("/openapi.yaml", serveOpenAPI)
	if a.JWKS != nil {
		e.GET("/.well-known/jwks.json", a.jwks)
	}
	if a.DevMail != nil {
		e.GET("/v1/dev/mail", a.devMail)
	}
	if a.Blobs != nil {
		e.Any(BlobPathPrefix+"*", echo.WrapHandler(a.Blobs))
	}

	e.POST("/v1/auth/signup", a.signUp, limit(limits.SignUp))
	e.POST("/v1/auth/confirm", a.confirm, limit(limits.Codes))
	e.POST("/v1/auth/resend", a.resend, limit(limits.Codes))
	e.POST("/v1/auth/signin", a.signIn, limit(limits.SignIn))
	e.POST("/v1/auth/refresh", a.refresh)
	e.POST("/v1/auth/forgot", a.forgot, limit(limits.Codes))
	e.POST("/v1/auth/reset", a.reset, limit(limits.Codes))
	e.POST("/v1/auth/signout", a.signOut, auth)

	e.GET("/v1/me", a.getMe, auth)
	e.PATCH("/v1/me", a.patchMe, auth)
	e.DELETE("/v1/me", a.deleteMe, auth)
	e.GET("/v1/users/:id", a.getUser, auth)

	// Idempotency-Key before the limits: a replay costs no quota.
	e.POST("/v1/uploads", a.createUpload, auth, a.idempotent(a.replayUpload), limit(limits.Upload))
	e.GET("/v1/media/:id", a.getMedia, auth)
	e.POST("/v1/media/:id/complete", a.completeMedia, auth)

	e.POST("/v1/posts", a.createPost, auth, a.idempotent(a.replayPost), limit(limits.Post))
	e.GET("/v1/posts", a.listPosts, auth)
	e.GET("/v1/posts/:id", a.getPost, auth)
	e.PATCH("/v1/posts/:id", a.patchPost, auth)
	e.DELETE("/v1/posts/:id", a.deletePost, auth)
	e.POST("/v1/posts/:id/comments", a.createComment, auth, a.idempotent(a.replayComment), limit(limits.Comment))
	e.GET("/v1/posts/:id/comments", a.listComments, auth)
	e.DELETE("/v1/comments/:id", a.deleteComment, auth)

	e.GET("/v1/notifications", a.listNotifications, auth, limit(limits.Notifications))
	e.POST("/v1/notifications/read", a.markNotificationsRead, auth, limit(limits.Notifications))
	if a.Live != nil {
		e.POST("/v1/notifications/stream-ticket", a.streamTicket, auth, limit(limits.Notifications))
		e.GET("/v1/notifications/stream", a.stream, a.streamAuth, limit(limits.Notifications))
	}
	e.GET("/v1/me/notification-settings", a.getNotificationSettings, auth)
	e.PATCH("/v1/me/notification-settings", a.patchNotificationSettings, auth)
	e.PUT("/v1/posts/:id/mute", a.mutePost, auth)
	e.DELETE("/v1/posts/:id/mute", a.unmutePost, auth)

	e.GET("/v1/push/config", a.pushConfig)
	e.GET("/v1/devices", a.listDevices, auth)
	e.PUT("/v1/devices/:deviceId", a.putDevice, auth, limit(limits.Devices))
	e.DELETE("/v1/devices/:deviceId", a.deleteDevice, auth)

	e.GET("/v1/sync", a.sync, auth)
}
