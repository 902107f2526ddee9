package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// DefaultJSONReadTimeout bounds the time a client has to send the body of a
// request to any route but the blob route: JSON bodies are small (64 KiB),
// so a body still arriving after 10 s is a dead or hostile client holding a
// connection. The blob route keeps the server's longer ReadTimeout.
const DefaultJSONReadTimeout = 10 * time.Second

// jsonReadTimeout is the read deadline of non-blob requests with a body.
func (a *api) jsonReadTimeout() time.Duration { return a.Config.JSONReadTimeout }

// Bounds of reading a body after refusing it (refuseBody).
const (
	maxDrainBytes = 4 << 20
	maxDrainTime  = 2 * time.Second
)

// bodyTimeoutError is the answer to a body that did not arrive within the
// read deadline: 408 problem, domain code Invalid (see codeOfStatus).
func bodyTimeoutError() error {
	return echo.NewHTTPError(http.StatusRequestTimeout, "request body was not received in time")
}

// bodyWatch is a request body under the size limit that records how reading
// it failed.
type bodyWatch struct {
	io.ReadCloser // the limited body
	raw           io.ReadCloser
	tooLarge      bool
	timedOut      bool
}

// watchBody puts the request body under limit and, when timeout is not zero,
// gives the client until now+timeout to send it. Returns nil for a request
// without a body.
func watchBody(c echo.Context, limit int64, timeout time.Duration) *bodyWatch {
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody {
		// Nothing to wait for. net/http is already reading the idle
		// connection to notice the client going away; a deadline would cut
		// that read and cancel the context of long requests (event
		// streams). For a body it starts that read at the body's end, and
		// lifts the deadline itself then.
		return nil
	}
	if timeout > 0 {
		// Without a connection (Lambda, ResponseRecorder) this is
		// ErrNotSupported, and there is nothing to bound.
		_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(timeout))
	}
	w := &bodyWatch{raw: req.Body}
	// The unwrapped writer lets net/http mark the connection for closing
	// when the limit is hit.
	w.ReadCloser = http.MaxBytesReader(c.Response().Writer, req.Body, limit)
	req.Body = w
	return w
}

// Read reads the limited body and records a failure.
func (w *bodyWatch) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		w.tooLarge = w.tooLarge || errors.As(err, &mbe)
		w.timedOut = w.timedOut || errors.Is(err, os.ErrDeadlineExceeded)
	}
	return n, err
}

// settle finishes a request whose body w watched, given the handler's error:
// a body that came too slowly is a 408, one that was too large a 413 sent
// before draining what the client still sends.
func (w *bodyWatch) settle(c echo.Context, err error) error {
	switch {
	case w == nil || err == nil || c.Response().Committed:
		return err
	case w.timedOut:
		// The failed read cancelled the request's context, which the error
		// handler takes for a client that hung up (no answer). This client
		// is still there and can read a 408.
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithoutCancel(req.Context())))
		if req.ProtoMajor == 1 {
			// The rest of the body may still come: this connection is done.
			c.Response().Header().Set(echo.HeaderConnection, "close")
		}
		return bodyTimeoutError()
	case w.tooLarge:
		return refuseBody(c, w.raw, err)
	}
	return err
}

// unsentBody is the body of a request refused by its Content-Length that
// the client may still be sending: nil when the client waits for
// 100 Continue, which it then never gets, so it sends nothing.
func unsentBody(req *http.Request) io.Reader {
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
		return nil
	}
	return req.Body
}

// refuseBody answers err (a 413) at once, then reads and discards what the
// client still sends of body, up to maxDrainBytes within maxDrainTime, and
// closes the connection. Closing with unread data makes the kernel send a
// reset, and a client that writes its whole body before reading the answer
// (most mobile HTTP stacks) would get that reset instead of the 413.
// Nothing to do without a connection (Lambda: the body is in memory) or on
// HTTP/2, which refuses the stream, not the connection.
func refuseBody(c echo.Context, body io.Reader, err error) error {
	req := c.Request()
	if body == nil || body == http.NoBody || req.ProtoMajor != 1 {
		return err
	}
	rc := http.NewResponseController(c.Response())
	if rc.SetReadDeadline(time.Now().Add(maxDrainTime)) != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderConnection, "close")
	c.Error(err)
	_ = rc.Flush()
	_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
	return nil
}
