// Package worker runs the in-process media queue of the server app: uploads
// that arrive (or are reported complete) are processed by a small pool of
// goroutines, each id at most once at a time. On Lambda the S3 event takes
// this role.
package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Queue is a bounded, de-duplicating work queue of media ids.
type Queue struct {
	log     *slog.Logger
	workers int
	ch      chan string

	mu      sync.Mutex
	queued  map[string]bool
	stopped bool

	wg     sync.WaitGroup
	quit   chan struct{}
	cancel context.CancelFunc
}

// New returns a queue with room for capacity waiting ids, run by workers
// goroutines once started.
func New(workers, capacity int, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.Default()
	}
	return &Queue{log: log, workers: max(workers, 1), ch: make(chan string, max(capacity, 1)), queued: map[string]bool{}}
}

// Enqueue schedules id unless it is already waiting. It never blocks: when
// the queue is full the id is dropped with a warning (the client's
// "complete" call or a restart sweep can enqueue it again).
func (q *Queue) Enqueue(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped || q.queued[id] {
		return
	}
	select {
	case q.ch <- id:
		q.queued[id] = true
	default:
		q.log.Warn("media queue full, id dropped", "mediaId", id)
	}
}

// Start runs the workers; each calls process for the ids it takes, retrying
// a failed id a few times with backoff.
func (q *Queue) Start(process func(ctx context.Context, id string) error) {
	jobs, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	q.quit = make(chan struct{})
	for range q.workers {
		q.wg.Go(func() {
			for {
				select {
				case <-q.quit:
					return
				case id := <-q.ch:
					q.mu.Lock()
					delete(q.queued, id)
					q.mu.Unlock()
					q.run(jobs, id, process)
				}
			}
		})
	}
}

func (q *Queue) run(ctx context.Context, id string, process func(context.Context, string) error) {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := process(ctx, id)
		if err == nil {
			return
		}
		if attempt == 4 || ctx.Err() != nil {
			q.log.Error("media processing failed", "mediaId", id, "attempts", attempt, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-q.quit:
			return
		case <-time.After(backoff):
			backoff *= 2
		}
	}
}

// Stop takes no new work, lets jobs in flight finish until ctx ends (then
// cancels them) and drops ids still waiting.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	if q.stopped || q.quit == nil {
		q.stopped = true
		q.mu.Unlock()
		return nil
	}
	q.stopped = true
	close(q.quit)
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		<-done
		return ctx.Err()
	}
}
