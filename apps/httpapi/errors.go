package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// ProblemContentType is the media type of error bodies (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemDetails is an RFC 9457 problem document with cloudpost's domain code
// and the request id.
type ProblemDetails struct {
	// Type is "about:blank": Title is the HTTP status text, Code says more.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail is the client-safe message ("internal error" for Internal).
	Detail string `json:"detail"`
	// Code is the domain error code (domain.Code).
	Code      domain.Code `json:"code"`
	RequestID string      `json:"requestId"`
}

// statusByCode is the one table from domain codes to HTTP statuses.
var statusByCode = map[domain.Code]int{
	domain.Invalid:              http.StatusBadRequest,
	domain.NotFound:             http.StatusNotFound,
	domain.Conflict:             http.StatusConflict,
	domain.Unauthenticated:      http.StatusUnauthorized,
	domain.Forbidden:            http.StatusForbidden,
	domain.UserNotConfirmed:     http.StatusForbidden,
	domain.TooLarge:             http.StatusRequestEntityTooLarge,
	domain.UnsupportedMediaType: http.StatusUnsupportedMediaType,
	domain.PreconditionFailed:   http.StatusPreconditionFailed,
	domain.Unprocessable:        http.StatusUnprocessableEntity,
	domain.TooManyRequests:      http.StatusTooManyRequests,
	domain.Unavailable:          http.StatusServiceUnavailable,
	domain.Internal:             http.StatusInternalServerError,
}

// StatusOf returns the HTTP status of a domain error code; 500 for an
// unknown code.
func StatusOf(code domain.Code) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeOfStatus maps the statuses Echo and the middleware produce on their
// own (404 route, 405 method, 413 body) back to a domain code.
func codeOfStatus(status int) domain.Code {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed:
		return domain.Invalid
	case http.StatusUnauthorized:
		return domain.Unauthenticated
	case http.StatusForbidden:
		return domain.Forbidden
	case http.StatusNotFound:
		return domain.NotFound
	case http.StatusConflict:
		return domain.Conflict
	case http.StatusPreconditionFailed:
		return domain.PreconditionFailed
	case http.StatusRequestEntityTooLarge:
		return domain.TooLarge
	case http.StatusUnsupportedMediaType:
		return domain.UnsupportedMediaType
	case http.StatusTooManyRequests:
		return domain.TooManyRequests
	case http.StatusServiceUnavailable:
		return domain.Unavailable
	}
	if status >= 400 && status < 500 {
		return domain.Invalid
	}
	return domain.Internal
}

// defaultRetryAfter is sent with 429 and 503 when the error carries no hint.
const defaultRetryAfter = time.Second

// Problem returns the problem document for err and the headers that must
// accompany it: Content-Type, WWW-Authenticate for 401, Retry-After for 429
// and 503 (and for a 409 whose error carries a hint). Any error that is not
// a *domain.Error (and any Internal one) is an Internal problem whose detail
// is only "internal error": log err yourself.
// Echo's *echo.HTTPError values (unknown route, wrong method, body too
// large) keep their status.
func Problem(err error, requestID string) (ProblemDetails, http.Header) {
	var code domain.Code
	var status int
	detail := domain.ErrorMessage(err)
	var he *echo.HTTPError
	if errors.As(err, &he) && !isDomainError(err) {
		status = he.Code
		code = codeOfStatus(status)
		detail = echoDetail(he)
	} else {
		code = domain.ErrorCode(err)
		status = StatusOf(code)
	}
	if status >= 500 && code == domain.Internal {
		detail = "internal error"
	}
	h := http.Header{}
	h.Set("Content-Type", ProblemContentType)
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", "Bearer")
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusConflict:
		ra := domain.RetryAfter(err)
		if ra <= 0 && status != http.StatusConflict {
			ra = defaultRetryAfter
		}
		// Only a conflict that passes (a request with the same
		// Idempotency-Key still running) says when to retry. Retry-After is
		// whole seconds; round up so clients never retry early.
		if ra > 0 {
			h.Set("Retry-After", strconv.FormatInt(int64((ra+time.Second-1)/time.Second), 10))
		}
	}
	return ProblemDetails{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: detail, Code: code, RequestID: requestID,
	}, h
}

func isDomainError(err error) bool {
	var de *domain.Error
	return errors.As(err, &de)
}

// echoDetail turns an Echo error into a client-safe sentence.
func echoDetail(he *echo.HTTPError) string {
	switch he.Code {
	case http.StatusNotFound:
		return "no such route"
	case http.StatusMethodNotAllowed:
		return "method not allowed on this route"
	case http.StatusRequestEntityTooLarge:
		return "request body is too large"
	}
	if he.Code >= 500 {
		return "internal error"
	}
	if msg, ok := he.Message.(string); ok && msg != "" {
		return msg
	}
	return http.StatusText(he.Code)
}

// StatusClientClosedRequest is logged for a request whose client went away
// before the answer (nginx's convention; never seen by a client).
const StatusClientClosedRequest = 499

// handleError is Echo's HTTPErrorHandler: every error becomes a problem.
func (a *api) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(c.Request().Context().Err(), context.Canceled) {
		// The client hung up: nobody reads an answer and it is not a
		// server fault, so no error log; the access log shows nginx's 499.
		c.Response().WriteHeader(StatusClientClosedRequest)
		return
	}
	rid := responseRequestID(c)
	p, h := Problem(err, rid)
	if p.Status >= 500 {
		// The cause stays in the logs; the client only gets the request id.
		a.log.ErrorContext(c.Request().Context(), "request failed",
			"requestId", rid, "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", p.Status, "code", p.Code, "err", err)
	}
	for k, v := range h {
		c.Response().Header()[k] = v
	}
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(p.Status)
		return
	}
	body, mErr := json.Marshal(p)
	if mErr != nil { // cannot happen: only strings and ints
		body = fmt.Appendf(nil, `{"status":%d}`, p.Status)
	}
	c.Response().WriteHeader(p.Status)
	_, _ = c.Response().Write(body)
}

// refuseBinder stops accidental use of Echo's lenient binder: handlers use
// decodeJSON, which rejects unknown fields and trailing data.
type refuseBinder struct{}

func (refuseBinder) Bind(any, echo.Context) error {
	return domain.Errorf(domain.Internal, "echo binder is disabled; use decodeJSON")
}
