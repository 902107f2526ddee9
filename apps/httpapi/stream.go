package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// The live notification stream: GET /v1/notifications/stream (Server-Sent
// Events) and POST /v1/notifications/stream-ticket. Only servers mount them
// (Deps.Live); API Gateway buffers Lambda responses, so on Lambda realtime
// is Web Push plus sync.

// Stream defaults.
const (
	DefaultStreamHeartbeat = 20 * time.Second
	DefaultStreamMaxAge    = time.Hour
	// maxReplay bounds what one resume replays; a client further behind
	// gets a "reset" event and reads the inbox.
	maxReplay = 1000
	// DefaultStreamRevocationCheck is how often an open stream checks that
	// its session was not ended (sign-out, password reset, deletion).
	DefaultStreamRevocationCheck = 10 * time.Second
)

// StreamConfig tunes the stream.
type StreamConfig struct {
	// Heartbeat is the interval of the comment lines that keep proxies from
	// closing an idle stream. Zero: DefaultStreamHeartbeat.
	Heartbeat time.Duration
	// MaxAge ends a stream after this long (and at the bearer token's
	// expiry, when sooner); clients reconnect with Last-Event-ID. Zero:
	// DefaultStreamMaxAge.
	MaxAge time.Duration
	// RevocationCheck is how often an open stream checks its session was
	// not ended. Zero: DefaultStreamRevocationCheck.
	RevocationCheck time.Duration
}

func (a *api) streamTicket(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	ticket, exp, err := a.Notifications.StreamTicket(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, streamTicketDTO{Ticket: ticket, ExpiresAt: formatTime(exp)})
}

type streamTicketDTO struct {
	Ticket    string `json:"ticket"`
	ExpiresAt string `json:"expiresAt"`
}

// streamAuth authenticates the stream by its ticket (?ticket=, used up
// here) or, without one, by the bearer token like every route; the
// revocation check follows either way.
func (a *api) streamAuth(next echo.HandlerFunc) echo.HandlerFunc {
	bearer := a.authenticate(a.notRevoked(next))
	ticketed := a.notRevoked(next)
	return func(c echo.Context) error {
		ticket := c.QueryParam("ticket")
		if ticket == "" {
			return bearer(c)
		}
		if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			return domain.Errorf(domain.Invalid, "send either a ticket or an Authorization header, not both")
		}
		p, err := a.Notifications.RedeemStreamTicket(c.Request().Context(), ticket)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return ticketed(c)
	}
}

// stream serves the caller's notifications as Server-Sent Events: each
// notification as `event: notification` with `id:` its id and the inbox
// item as data, the unread count as `event: unread`, a comment line every
// heartbeat. Last-Event-ID (the header EventSource sends when it
// reconnects, or ?lastEventId=) replays every newer notification from
// storage first, so a client that was away misses nothing.
func (a *api) stream(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	last := c.Request().Header.Get("Last-Event-ID")
	if q := c.QueryParam("lastEventId"); q != "" {
		if last != "" && last != q {
			return domain.Errorf(domain.Invalid, "Last-Event-ID and lastEventId differ")
		}
		last = q
	}
	if len(last) > 64 {
		return domain.Errorf(domain.Invalid, "Last-Event-ID is not a notification id")
	}
	ctx := c.Request().Context()
	// Subscribe before the replay, so that nothing committed meanwhile
	// falls between the two (duplicates are dropped below).
	sub, err := a.Live.Subscribe(p.UserID)
	if err != nil {
		return err
	}
	defer sub.Close()

	var replay []domain.Notification
	reset := false
	if last != "" {
		replay, reset, err = a.replay(ctx, p.UserID, last)
		if domain.IsCode(err, domain.Invalid) {
			return domain.Errorf(domain.Invalid, "Last-Event-ID (or lastEventId) must be the id of a notification this stream sent")
		}
		if err != nil {
			return err
		}
	}

	// The stream outlives the server's write timeout: lift it (not
	// possible without a connection, e.g. in tests; nothing to lift then).
	rc := http.NewResponseController(c.Response())
	_ = rc.SetWriteDeadline(time.Time{})
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx and similar proxies: do not buffer
	c.Response().WriteHeader(http.StatusOK)
	w := &sseWriter{w: bufio.NewWriter(c.Response()), flush: func() error { return rc.Flush() }}

	heartbeat := a.Config.Stream.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultStreamHeartbeat
	}
	maxAge := a.Config.Stream.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultStreamMaxAge
	}
	if !p.ExpiresAt.IsZero() {
		maxAge = min(maxAge, time.Until(p.ExpiresAt))
	}
	// Reconnect soon after the server ends the stream.
	w.raw("retry: 2000\n\n")
	sent := make(map[string]bool, len(replay))
	if reset {
		w.event("reset", "", map[string]string{"reason": "more than the stream replays were missed: read GET /v1/notifications"})
	}
	for _, n := range replay {
		sent[n.ID] = true
		w.event("notification", n.ID, toNotification(n))
	}
	if err := w.done(); err != nil {
		return nil // the client is gone
	}

	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	every := a.Config.Stream.RevocationCheck
	if every <= 0 {
		every = DefaultStreamRevocationCheck
	}
	check := time.NewTicker(every)
	defer check.Stop()
	end := time.NewTimer(maxAge)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done():
			// Shutdown or a reader that fell behind: the client reconnects
			// (elsewhere) and resumes from its last event id.
			return nil
		case <-end.C:
			return nil
		case <-check.C:
			if err := a.Sessions.Check(ctx, p); domain.IsCode(err, domain.Unauthenticated) {
				w.event("end", "", map[string]string{"reason": "the session has ended"})
				_ = w.done()
				return nil
			}
			continue
		case <-beat.C:
			w.raw(": keep-alive\n\n")
		case ev := <-sub.C:
			if n := ev.Notification; n != nil {
				if sent[n.ID] {
					continue
				}
				sent[n.ID] = true
				w.event("notification", n.ID, toNotification(*n))
			} else {
				w.event("unread", "", unreadDTO{UnreadCount: ev.Unread})
			}
		}
		if err := w.done(); err != nil {
			return nil
		}
	}
}

// replay reads the notifications newer than last, oldest first, up to
// maxReplay; reset reports that more were missed than it replays.
//
// Newer means a greater id (UUIDv7: creation order). A notification made
// before the one named last but committed after it (two comments a few
// milliseconds apart, the first one's transaction slower) went out live
// on every stream open meanwhile, but is not replayed from last: a client
// that was away exactly then finds it in GET /v1/notifications (and the
// sync feed), not in the stream.
func (a *api) replay(ctx context.Context, userID, last string) ([]domain.Notification, bool, error) {
	var out []domain.Notification
	after := last
	for len(out) < maxReplay {
		page, more, err := a.Notifications.After(ctx, userID, after, 100)
		if err != nil {
			return nil, false, err
		}
		out = append(out, page...)
		if !more || len(page) == 0 {
			return out, false, nil
		}
		after = page[len(page)-1].ID
	}
	return out, true, nil
}

type unreadDTO struct {
	UnreadCount int `json:"unreadCount"`
}

// sseWriter writes events into a buffer that done flushes to the client.
type sseWriter struct {
	w     *bufio.Writer
	flush func() error
}

func (s *sseWriter) raw(text string) { _, _ = s.w.WriteString(text) }

// event writes one event; data is JSON on one line (no newline can appear
// in encoding/json output, so no line of it starts a new field).
func (s *sseWriter) event(name, id string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte(`{}`)
	}
	if id != "" {
		fmt.Fprintf(s.w, "id: %s\n", id)
	}
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b)
}

func (s *sseWriter) done() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.flush()
}
