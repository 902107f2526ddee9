// Package mediaqueue runs the in-process media queue of the server app: uploads
// that arrive (or are reported complete) are processed by a small pool of
// goroutines, each id at most once at a time, taking owners in turn so that
// one user's burst cannot hold back everyone else's images. On Lambda the
// S3 event takes this role.
//
// The queue is an accelerator, not the record: an id it cannot take (queue
// full, retries used up, process stopped) stays pending in storage, where
// the media sweep finds it again.
package mediaqueue

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Config tunes a Queue. Zero fields take the defaults.
type Config struct {
	// Workers is how many ids are processed at once (default 1).
	Workers int
	// Capacity bounds the ids waiting, over all owners (default 1024).
	Capacity int
	// Attempts is how many times an id is tried before it is left to the
	// sweep (default 3).
	Attempts int
	// Backoff is the wait before the first retry; it doubles after each
	// (default 500 ms). A retry waits outside the workers, so it delays no
	// one else.
	Backoff time.Duration
	// JobTimeout bounds one attempt (default 2 min).
	JobTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.Capacity <= 0 {
		c.Capacity = 1024
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 2 * time.Minute
	}
	return c
}

// Queue is a bounded, de-duplicating work queue of media ids that serves
// owners round-robin: each turn takes the oldest waiting id of the next
// owner, so an id waits behind at most one id of every other owner.
type Queue struct {
	log *slog.Logger
	cfg Config

	mu       sync.Mutex
	cond     *sync.Cond
	ring     []string             // owners with waiting ids, in turn order
	waiting  map[string][]job     // owner -> ids in arrival order
	known    map[string]bool      // ids waiting or waiting to be retried
	retries  map[*time.Timer]bool // pending retry timers, stopped by Stop
	size     int
	started  bool
	stopped  bool
	inFlight sync.WaitGroup
	cancel   context.CancelFunc
}

type job struct {
	owner, id string
	attempt   int
}

// New returns a queue; Start runs it.
func New(cfg Config, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.Default()
	}
	q := &Queue{log: log, cfg: cfg.withDefaults(), waiting: map[string][]job{}, known: map[string]bool{}, retries: map[*time.Timer]bool{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Enqueue schedules the owner's id unless it is already waiting, and
// reports whether the id is now waiting. It never blocks: when the queue
// is full (or stopped) the id is not taken, which is logged, and the media
// sweep processes it later.
func (q *Queue) Enqueue(ownerID, id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.push(job{owner: ownerID, id: id, attempt: 1})
}

func (q *Queue) push(j job) bool {
	if q.stopped {
		return false
	}
	if q.known[j.id] {
		return true
	}
	if q.size >= q.cfg.Capacity {
		q.log.Warn("media queue full; the media sweep will process the item", "mediaId", j.id, "ownerId", j.owner, "capacity", q.cfg.Capacity)
		return false
	}
	if len(q.waiting[j.owner]) == 0 {
		q.ring = append(q.ring, j.owner)
	}
	q.waiting[j.owner] = append(q.waiting[j.owner], j)
	q.known[j.id] = true
	q.size++
	q.cond.Signal()
	return true
}

// next blocks until a job is waiting (the next owner's oldest) or the queue
// stops (ok false).
func (q *Queue) next() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.size == 0 && !q.stopped {
		q.cond.Wait()
	}
	if q.stopped {
		return job{}, false
	}
	owner := q.ring[0]
	q.ring = q.ring[1:]
	list := q.waiting[owner]
	j := list[0]
	if len(list) == 1 {
		delete(q.waiting, owner)
	} else {
		list[0] = job{}
		q.waiting[owner] = list[1:]
		q.ring = append(q.ring, owner) // back of the line
	}
	delete(q.known, j.id)
	q.size--
	return j, true
}

// Start runs the workers; each calls process for the ids it takes. A
// failed attempt is retried after a backoff, up to Config.Attempts, then
// left to the sweep.
func (q *Queue) Start(process func(ctx context.Context, id string) error) {
	ctx, cancel := context.WithCancel(context.Background())
	q.mu.Lock()
	if q.started || q.stopped {
		q.mu.Unlock()
		cancel()
		return
	}
	q.started, q.cancel = true, cancel
	q.mu.Unlock()
	for range q.cfg.Workers {
		q.inFlight.Go(func() {
			for {
				j, ok := q.next()
				if !ok {
					return
				}
				q.run(ctx, j, process)
			}
		})
	}
}

func (q *Queue) run(ctx context.Context, j job, process func(context.Context, string) error) {
	jctx, cancel := context.WithTimeout(ctx, q.cfg.JobTimeout)
	err := process(jctx, j.id)
	cancel()
	if err == nil {
		return
	}
	if j.attempt >= q.cfg.Attempts || ctx.Err() != nil {
		q.log.Warn("media processing failed; the media sweep will retry it", "mediaId", j.id, "attempts", j.attempt, "err", err)
		return
	}
	q.log.Info("media processing failed; retrying", "mediaId", j.id, "attempt", j.attempt, "err", err)
	wait := q.cfg.Backoff << (j.attempt - 1)
	j.attempt++
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.retries[t] {
			delete(q.retries, t)
			q.push(j)
		}
	})
	q.retries[t] = true
}

// Stop takes no new work and drops waiting ids and pending retries (they
// stay pending in storage for the sweep), then lets jobs in flight finish
// until ctx ends, and cancels them then.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return nil
	}
	q.stopped = true
	for t := range q.retries {
		t.Stop()
	}
	clear(q.retries)
	q.waiting, q.ring, q.size = map[string][]job{}, nil, 0
	clear(q.known)
	cancel := q.cancel
	q.cond.Broadcast()
	q.mu.Unlock()
	if cancel == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { q.inFlight.Wait(); close(done) }()
	select {
	case <-done:
		cancel()
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
}
