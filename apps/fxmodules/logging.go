package fxmodules

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/apps/config"
)

// Buffering of the server's log (newBufferedLogger).
const (
	// logFlushDelay is the longest a record below warning level waits in
	// the buffer before it is written out.
	logFlushDelay = 100 * time.Millisecond
	// logBufferSize is the most output buffered: a write that would go
	// beyond it writes the buffer out first.
	logBufferSize = 64 << 10
)

// newBufferedLogger returns a logger configured by cfg that writes to w
// through a buffer: records below warning level (the access log's one per
// request) reach w within logFlushDelay, many in one write, instead of one
// write system call each, which under load cost about as much as the rest
// of the access log. A record at warning level or above is written at once,
// after the records before it. Call flush before the process exits (the
// server app does as it stops); records still in the buffer when the
// process dies are lost.
func newBufferedLogger(cfg config.Config, w io.Writer) (log *slog.Logger, flush func() error) {
	b := newLogBuffer(w)
	return slog.New(flushingHandler{Handler: newHandler(cfg, b), buf: b}), b.Flush
}

// logBuffer collects log output and writes it to out at most
// logFlushDelay after the first byte it holds, when it is full, or when
// Flush is called. Records arrive whole (a handler writes each with one
// Write), so a write out never splits one.
type logBuffer struct {
	out   io.Writer
	timer *time.Timer

	mu    sync.Mutex
	buf   []byte
	armed bool // the timer will flush what buf holds
}

func newLogBuffer(out io.Writer) *logBuffer {
	b := &logBuffer{out: out}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write buffers p; a record larger than the whole buffer is written
// straight through (after what is buffered).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > logBufferSize {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > logBufferSize {
			return b.out.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	if !b.armed {
		b.armed = true
		b.timer.Reset(logFlushDelay)
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// flushLocked writes the buffer out; on an error its content is dropped,
// so a broken output cannot make it grow.
func (b *logBuffer) flushLocked() error {
	// A timer still pending finds an empty buffer, or a newer record to
	// write a little early: either is fine.
	b.armed = false
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// flushingHandler writes the buffer out after every record at warning
// level or above, so that problems are seen at once, after what led to
// them.
type flushingHandler struct {
	slog.Handler
	buf *logBuffer
}

// Handle handles r, then flushes for warnings and errors.
func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		err = errors.Join(err, h.buf.Flush())
	}
	return err
}

// WithAttrs returns the flushing form of the handler with attrs.
func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{Handler: h.Handler.WithAttrs(attrs), buf: h.buf}
}

// WithGroup returns the flushing form of the handler with the group.
func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{Handler: h.Handler.WithGroup(name), buf: h.buf}
}
