package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/ports"
)

// HeaderIdempotencyKey is the request header of
// draft-ietf-httpapi-idempotency-key-header.
const HeaderIdempotencyKey = "Idempotency-Key"

// headerReplayed marks an answer that repeats an earlier request's.
const headerReplayed = "Idempotent-Replayed"

// maxStoredBody bounds the response body kept for replays; a larger one is
// not stored and a replay answers from the created resource instead.
const maxStoredBody = 256 << 10

// storedHeaders are the response headers a replay repeats.
var storedHeaders = []string{echo.HeaderLocation, echo.HeaderContentType, "ETag"}

// replayFunc answers, for a request whose write committed but whose
// response was not stored, as the first request would have, with the
// resource it created (id).
type replayFunc func(c echo.Context, id string) error

// idempotent handles the Idempotency-Key header on a creating route (after
// authentication: keys are scoped to the caller). Without the header the
// request runs as usual. With it, the first request runs with its claim in
// the context (its write marks the key committed in the same
// transaction) and its response is stored; a retry with the same key and
// the same body gets that response again (with Idempotent-Replayed: true),
// or, when the first response was never stored (the process or the
// database died after the commit), replay's answer from the created
// resource. The same key with another body is 422, a retry while the
// first request still runs is 409 with Retry-After, a malformed key 400.
// A request that fails before its write frees the key for a retry.
func (a *api) idempotent(replay replayFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			raw := c.Request().Header.Get(HeaderIdempotencyKey)
			if raw == "" || a.Idempotency == nil {
				return next(c)
			}
			p, err := caller(c)
			if err != nil {
				return err
			}
			key, err := parseIdempotencyKey(raw)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err // bodyLimit's 413 or 408
			}
			c.Request().Body = io.NopCloser(bytes.NewReader(body))
			ctx := c.Request().Context()
			// The path, not the route: a comment's key is bound to its post.
			out, err := a.Idempotency.Begin(ctx, p, key, idempotency.Fingerprint(c.Request().Method, c.Request().URL.Path, body))
			switch {
			case err != nil:
				return err
			case out.Replay != nil:
				for name, v := range out.Replay.Header {
					c.Response().Header().Set(name, v)
				}
				c.Response().Header().Set(headerReplayed, "true")
				return c.Blob(out.Replay.Status, out.Replay.Header[echo.HeaderContentType], out.Replay.Body)
			case !out.Run:
				c.Response().Header().Set(headerReplayed, "true")
				return replay(c, out.ResourceID)
			}
			c.SetRequest(c.Request().WithContext(ports.WithIdempotencyClaim(ctx, out.Claim)))
			capture := &captureWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = capture
			err = next(c)
			c.Response().Writer = capture.ResponseWriter
			// The client may be gone: the outcome must be recorded anyway.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			status := c.Response().Status
			if err != nil || !c.Response().Committed || status >= 300 || capture.overflow {
				// Failed before the write (or the write's claim is kept
				// as committed: Abandon leaves it, and a retry replays).
				if aerr := a.Idempotency.Abandon(dctx, out.Claim); aerr != nil {
					a.log.WarnContext(ctx, "idempotency key not released", "err", aerr)
				}
				return err
			}
			resp := domain.StoredResponse{Status: status, Header: map[string]string{}, Body: capture.body.Bytes()}
			for _, name := range storedHeaders {
				if v := c.Response().Header().Get(name); v != "" {
					resp.Header[name] = v
				}
			}
			if ferr := a.Idempotency.Finish(dctx, out.Claim, resp); ferr != nil {
				a.log.WarnContext(ctx, "idempotent response not stored; a retry answers from the created resource", "err", ferr)
			}
			return nil
		}
	}
}

// parseIdempotencyKey reads the header's value: a structured-field string
// ("..." with \" and \\ escapes) as the draft defines it, or, leniently,
// the bare key many clients send. Returns Invalid.
func parseIdempotencyKey(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, `"`) {
		s, err := strconv.Unquote(raw)
		if err != nil || !strings.HasSuffix(raw, `"`) {
			return "", domain.Errorf(domain.Invalid, "Idempotency-Key must be a string such as \"8e03978e-40d5-43e8-bc93-6894a57f9324\"")
		}
		raw = s
	}
	if err := domain.ValidateIdempotencyKey(raw); err != nil {
		return "", err
	}
	return raw, nil
}

// captureWriter copies what the handler writes (up to maxStoredBody).
type captureWriter struct {
	http.ResponseWriter
	body     bytes.Buffer
	overflow bool
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.body.Len()+len(b) > maxStoredBody {
		w.overflow = true
	} else {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes through (http.Flusher).
func (w *captureWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// replayPost answers a retried POST /v1/posts with the post it created.
func (a *api) replayPost(c echo.Context, id string) error {
	post, err := a.Posts.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/posts/"+post.ID)
	return a.writePost(c, http.StatusCreated, post)
}

// replayComment answers a retried POST /v1/posts/{id}/comments with the
// comment it created.
func (a *api) replayComment(c echo.Context, id string) error {
	cm, err := a.Comments.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/comments/"+cm.ID)
	return c.JSON(http.StatusCreated, toComment(cm))
}

// replayUpload answers a retried POST /v1/uploads with the media item it
// created and a fresh (write-once) upload URL.
func (a *api) replayUpload(c echo.Context, id string) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	up, err := a.Media.Reissue(c.Request().Context(), p, id)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/media/"+up.Media.ID)
	return c.JSON(http.StatusCreated, toUpload(up))
}
