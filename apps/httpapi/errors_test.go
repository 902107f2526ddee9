package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

func TestStatusOf(t *testing.T) {
	want := map[domain.Code]int{
		domain.Invalid: 400, domain.NotFound: 404, domain.Conflict: 409, domain.Unauthenticated: 401,
		domain.Forbidden: 403, domain.UserNotConfirmed: 403, domain.TooLarge: 413, domain.UnsupportedMediaType: 415,
		domain.PreconditionFailed: 412, domain.TooManyRequests: 429, domain.Unavailable: 503, domain.Internal: 500,
		"SomethingNew": 500,
	}
	for code, status := range want {
		if got := httpapi.StatusOf(code); got != status {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, status)
		}
	}
}

func TestProblem(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		code       domain.Code
		detail     string
		retryAfter string
		wwwAuth    string
	}{
		{"invalid", domain.Errorf(domain.Invalid, "body must not be empty"), 400, domain.Invalid, "body must not be empty", "", ""},
		{"wrapped", fmt.Errorf("posts: %w", domain.Errorf(domain.NotFound, "post not found")), 404, domain.NotFound, "post not found", "", ""},
		{"unauthenticated", domain.Errorf(domain.Unauthenticated, "token expired"), 401, domain.Unauthenticated, "token expired", "", "Bearer"},
		{"not confirmed", domain.Errorf(domain.UserNotConfirmed, "confirm first"), 403, domain.UserNotConfirmed, "confirm first", "", ""},
		{"throttled", &domain.Error{Code: domain.TooManyRequests, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, domain.TooManyRequests, "slow down", "2", ""},
		{"unavailable without hint", domain.Errorf(domain.Unavailable, "db down"), 503, domain.Unavailable, "db down", "1", ""},
		{"conflict that passes", &domain.Error{Code: domain.Conflict, Message: "still running", RetryAfter: 59 * time.Second}, 409, domain.Conflict, "still running", "59", ""},
		{"conflict", domain.Errorf(domain.Conflict, "version mismatch"), 409, domain.Conflict, "version mismatch", "", ""},
		{"plain error", errors.New("sql: connection refused at 10.0.0.1"), 500, domain.Internal, "internal error", "", ""},
		{"internal", domain.Wrap(errors.New("x"), domain.Internal, "secret"), 500, domain.Internal, "internal error", "", ""},
		{"echo 404", echo.ErrNotFound, 404, domain.NotFound, "no such route", "", ""},
		{"echo 405", echo.ErrMethodNotAllowed, 405, domain.Invalid, "method not allowed on this route", "", ""},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, 413, domain.TooLarge, "request body is too large", "", ""},
		{"echo 500", echo.NewHTTPError(500, "stack trace here"), 500, domain.Internal, "internal error", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, h := httpapi.Problem(tc.err, "rid-1")
			if p.Status != tc.status || p.Code != tc.code || p.Detail != tc.detail || p.RequestID != "rid-1" ||
				p.Type != "about:blank" || p.Title != http.StatusText(tc.status) {
				t.Errorf("problem %+v", p)
			}
			if h.Get("Content-Type") != httpapi.ProblemContentType || h.Get("Retry-After") != tc.retryAfter || h.Get("WWW-Authenticate") != tc.wwwAuth {
				t.Errorf("headers %v", h)
			}
		})
	}
}
