package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Helpers shared by the handlers of every resource file: ops.go, auth.go,
// profiles.go, media.go, posts.go, comments.go, notifications.go and
// sync.go. Each of those holds its routes' handlers, then their DTOs.
//
// The DTOs are the JSON shapes of the API (see openapi.yaml). They are
// separate from the domain types and mapped explicitly, so a domain change
// never silently changes the wire format.

// caller returns the principal of an authenticated route.
func caller(c echo.Context) (domain.Principal, error) {
	p, ok := PrincipalFrom(c)
	if !ok {
		// Only reachable if a route forgot the auth middleware.
		return domain.Principal{}, domain.Errorf(domain.Internal, "route %s has no authentication", c.Path())
	}
	return p, nil
}

func noContent(c echo.Context, status int) error { return c.NoContent(status) }

// deleteAs deletes {id} with del on the caller's behalf and answers 204.
func deleteAs(c echo.Context, what string, del func(context.Context, domain.Principal, string) error) error {
	p, id, err := callerAndID(c, what)
	if err != nil {
		return err
	}
	if err := del(c.Request().Context(), p, id); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

// timeLayout is RFC 3339 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// page is a list answer; NextCursor is null on the last page.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func newPage[T any](items []T, next string) page[T] {
	if items == nil {
		items = []T{}
	}
	p := page[T]{Items: items}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}
