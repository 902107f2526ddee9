package httpapi

import (
	"context"
	"net/http"
	"slices"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Operational routes: GET /healthz, /readyz, /.well-known/jwks.json and
// /v1/dev/mail.

func (a *api) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

// readyz runs every readiness check concurrently, each with a short timeout,
// and answers 200 when all pass, else 503. A failed check shows its
// client-safe message; the cause is logged.
func (a *api) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	rid := responseRequestID(c) // read here: the checks run on other goroutines
	results := make([]string, len(a.Ready))
	var wg sync.WaitGroup
	for i, rc := range a.Ready {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			if err := runCheck(cctx, rc.Check); err != nil {
				a.log.WarnContext(ctx, "readiness check failed", "check", rc.Name, "requestId", rid, "err", err)
				results[i] = "fail: " + domain.ErrorMessage(err)
				return
			}
			results[i] = "ok"
		})
	}
	wg.Wait()
	out := readyResponse{Status: "ok", Checks: make(map[string]string, len(a.Ready))}
	status := http.StatusOK
	for i, rc := range a.Ready {
		out.Checks[rc.Name] = results[i]
		if results[i] != "ok" {
			out.Status, status = "unavailable", http.StatusServiceUnavailable
		}
	}
	if status != http.StatusOK {
		c.Response().Header().Set(echo.HeaderRetryAfter, "5")
	}
	return c.JSON(status, out)
}

// runCheck runs one readiness check; a panic (it runs outside the request
// goroutine, where the recover middleware cannot catch it) is a failure.
func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = domain.Errorf(domain.Internal, "readiness check panicked: %v", r)
		}
	}()
	return check(ctx)
}

func (a *api) jwks(c echo.Context) error {
	b, err := a.JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	// Verifiers may cache the keys briefly.
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", b)
}

// devMail lists the local outbox of one address, newest first.
func (a *api) devMail(c echo.Context) error {
	to, err := domain.NormalizeEmail(c.QueryParam("to"))
	if err != nil {
		return domain.Errorf(domain.Invalid, "query parameter to must be an email address")
	}
	msgs := slices.Clone(a.DevMail.Mail(to))
	slices.SortStableFunc(msgs, func(x, y DevMessage) int { return y.SentAt.Compare(x.SentAt) })
	out := devMailResponse{Messages: make([]devMessageDTO, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, devMessageDTO{To: m.To, Subject: m.Subject, Code: m.Code, SentAt: formatTime(m.SentAt)})
	}
	return c.JSON(http.StatusOK, out)
}

type devMailResponse struct {
	Messages []devMessageDTO `json:"messages"`
}

type devMessageDTO struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Code    string `json:"code"`
	SentAt  string `json:"sentAt"`
}

type statusResponse struct {
	Status string `json:"status"`
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}
