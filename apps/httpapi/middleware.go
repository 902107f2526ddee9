package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/cloudpost/cloudpost/core/domain"
)

// principalCtxKey is the context key of an already verified principal. The
// type is unexported, so only this package's functions can put values under
// it: nothing an HTTP client sends ends up there.
type principalCtxKey struct{}

// principalKey is the echo.Context key of the verified principal.
const principalKey = "cloudpost.principal"

// WithPrincipal returns a context carrying an already verified principal
// (the Lambda app gets it from the API Gateway authorizer). The auth
// middleware uses it instead of verifying the Authorization header. Only Go
// code can set it: requests from clients never carry context values.
func WithPrincipal(ctx context.Context, p domain.Principal) context.Context {
	return context.WithValue(ctx, principalCtxKey{}, p)
}

// PrincipalFrom returns the caller verified by the auth middleware; ok is
// false on routes without authentication.
func PrincipalFrom(c echo.Context) (domain.Principal, bool) {
	p, ok := c.Get(principalKey).(domain.Principal)
	return p, ok
}

// maxRequestIDLen bounds an incoming X-Request-Id we are willing to echo.
const maxRequestIDLen = 128

// requestID sets X-Request-Id on the response: the incoming one when it is
// sane (1-128 characters of [A-Za-z0-9._:-], so it cannot inject anything
// into headers or logs), else a new random one.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rid := c.Request().Header.Get(echo.HeaderXRequestID)
		if !saneRequestID(rid) {
			rid = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, rid)
		return next(c)
	}
}

func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

func responseRequestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// accessLog writes one structured line per request: method, path (never the
// query string, which may hold emails or cursors), status, latency, request
// id and user id. Headers and bodies (tokens, passwords, codes) are never
// logged. It hands errors to the error handler itself so it logs the final
// status.
func (a *api) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		end := time.Now()
		req, res := c.Request(), c.Response()
		ctx, level, h := req.Context(), slog.LevelInfo, a.log.Handler()
		if res.Status >= 500 {
			level = slog.LevelError
		}
		if !h.Enabled(ctx, level) {
			return nil
		}
		// The record is built here rather than by a.log.LogAttrs, which
		// would walk the stack for a source position no handler logs.
		r := slog.NewRecord(end, level, "request", 0)
		r.AddAttrs(
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Duration("latency", end.Sub(start)),
			slog.Int64("bytes", res.Size),
			slog.String("requestId", res.Header().Get(echo.HeaderXRequestID)),
		)
		if p, ok := PrincipalFrom(c); ok {
			r.AddAttrs(slog.String("userId", p.UserID))
		}
		_ = h.Handle(ctx, r)
		return nil
	}
}

// recoverPanics turns a panic in a handler into an Internal error (a 500
// problem with the request id); the panic value and stack are logged.
// http.ErrAbortHandler is re-raised: it is net/http's way to abort a response.
func (a *api) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			a.log.ErrorContext(c.Request().Context(), "panic in handler",
				"requestId", responseRequestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = domain.Errorf(domain.Internal, "panic: %v", r)
		}()
		return next(c)
	}
}

// The headers secureHeaders sets on every response (canonical names).
var (
	secureHeaderNames  = [...]string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy", "Cache-Control"}
	secureHeaderValues = [len(secureHeaderNames)]string{"nosniff", "DENY", "no-referrer", "default-src 'none'; frame-ancestors 'none'", "no-store"}
)

// secureHeaders sets the headers every API response should carry. HSTS is
// only sent over TLS (it would pin a plain-http dev server to https).
// Responses are not cacheable unless a handler says otherwise (tokens,
// private data).
func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// As Header.Set would, but with one allocation for all the values
		// instead of one each; every header gets a slice of its own
		// (capped, so appending to one copies it).
		values := make([]string, len(secureHeaderValues))
		copy(values, secureHeaderValues[:])
		for i, name := range secureHeaderNames {
			h[name] = values[i : i+1 : i+1]
		}
		if c.Request().TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// corsMiddleware allows the configured origins; preflights are answered
// before authentication.
func corsMiddleware(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:  origins,
		AllowMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowHeaders:  CORSAllowHeaders,
		ExposeHeaders: CORSExposeHeaders,
		MaxAge:        600,
	})
}

// CORSAllowHeaders are the request headers a browser page on an allowed
// origin may send (its preflight names them). deploy/template.yaml's API
// CORS allows the same (a test compares them). If-None-Match: * is signed
// into every upload of the local blob route (it writes once), whose
// preflight this answers too; Last-Event-ID resumes the notification stream.
var CORSAllowHeaders = []string{
	echo.HeaderAuthorization, echo.HeaderContentType, "If-Match", "If-None-Match", echo.HeaderXRequestID,
	HeaderIdempotencyKey, "Last-Event-ID",
}

// CORSExposeHeaders are the response headers a page's script may read.
var CORSExposeHeaders = []string{
	"ETag", echo.HeaderLocation, echo.HeaderXRequestID, echo.HeaderRetryAfter, echo.HeaderWWWAuthenticate,
	headerReplayed, "RateLimit", "RateLimit-Policy",
}

// bodyLimit refuses bodies above the limit with 413: by Content-Length before
// reading, and while reading for chunked bodies (decodeJSON maps the read
// error). Either way the 413 is sent at once and what the client still sends
// is drained within bounds first, so a client that writes its whole body
// before reading gets the answer, not a reset (refuseBody). The blob route
// has its own, larger limit. As the one middleware every route passes, it
// also gives every route but the blob route a short read deadline for the
// body (408 when missed; watchBody) and refuses malformed query strings
// (strictQuery).
func (a *api) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit, timeout := a.Config.JSONBodyLimit, a.jsonReadTimeout()
		if strings.HasPrefix(req.URL.Path, BlobPathPrefix) {
			// Uploads keep the server's ReadTimeout; their presigned query
			// is checked by the blob handler.
			limit, timeout = a.Config.BlobBodyLimit, 0
		} else if err := strictQuery(req.URL.RawQuery); err != nil {
			return err
		}
		if req.ContentLength > limit {
			return refuseBody(c, unsentBody(req), domain.Errorf(domain.TooLarge, "request body must be at most %d bytes", limit))
		}
		w := watchBody(c, limit, timeout)
		return w.settle(c, next(c))
	}
}

// maxTokenLen bounds the bearer tokens passed to the verifier.
const maxTokenLen = 16 << 10

// authenticate requires a verified caller: a principal put in the request
// context by WithPrincipal, else the access token of the Authorization
// header (bearerToken: `Bearer <token>` or a bare JWT) checked by the
// verifier. Returns Unauthenticated (401) for a missing, malformed or
// rejected token (with the verifier's message, e.g. that an id token was
// sent), and the verifier's Unavailable when keys cannot be fetched.
func (a *api) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if p, ok := ctx.Value(principalCtxKey{}).(domain.Principal); ok && p.UserID != "" {
			c.Set(principalKey, p)
			return next(c)
		}
		token, err := bearerToken(c.Request())
		if err != nil {
			return err
		}
		p, err := a.Verifier.Verify(ctx, token)
		if err != nil {
			return err
		}
		if p.UserID == "" {
			return domain.Errorf(domain.Unauthenticated, "the token names no user")
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// bearerToken extracts the token of the one Authorization header:
// `Bearer <token>` (scheme case insensitive, exactly one token), or a bare
// JWT (three non-empty base64url segments), which API Gateway's Cognito
// authorizers accept and so the Flutter client sends. Both are verified
// alike; any other scheme (Basic, Token, ...) is refused. Returns
// Unauthenticated.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values(echo.HeaderAuthorization)
	if len(values) == 0 {
		return "", domain.Errorf(domain.Unauthenticated, "missing bearer token")
	}
	if len(values) > 1 {
		return "", domain.Errorf(domain.Unauthenticated, "more than one Authorization header")
	}
	v := values[0]
	// Neither space nor any other separator fits the base64url alphabet, so
	// "<scheme> <credentials>" is never taken for a bare token (and is told
	// apart by its space without a scan of the whole token).
	bare := !strings.Contains(v, " ") && strings.Count(v, ".") == 2 && v[0] != '.' && v[len(v)-1] != '.' && !strings.Contains(v, "..") &&
		!strings.ContainsFunc(v, func(c rune) bool {
			return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.')
		})
	if bare {
		if len(v) > maxTokenLen {
			return "", domain.Errorf(domain.Unauthenticated, "malformed bearer token")
		}
		return v, nil
	}
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", domain.Errorf(domain.Unauthenticated, `Authorization must be "Bearer <access token>" or the access token alone`)
	}
	if token == "" || len(token) > maxTokenLen || strings.Contains(token, " ") || strings.Contains(token, "\t") {
		return "", domain.Errorf(domain.Unauthenticated, "malformed bearer token")
	}
	return token, nil
}

// rawBearerToken returns the caller's bearer token, "" when the principal
// was injected without one.
func rawBearerToken(c echo.Context) string {
	t, err := bearerToken(c.Request())
	if err != nil {
		return ""
	}
	return t
}
