package mediaqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/internal/testlog"
)

func TestProcessesEachIDAndRetries(t *testing.T) {
	q := New(Config{Workers: 2, Capacity: 10, Backoff: time.Millisecond}, nil)
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{}, 10)
	q.Start(func(_ context.Context, id string) error {
		mu.Lock()
		calls[id]++
		n := calls[id]
		mu.Unlock()
		if id == "flaky" && n < 2 {
			return errors.New("try again")
		}
		done <- struct{}{}
		return nil
	})
	q.Enqueue("u1", "a")
	q.Enqueue("u2", "flaky")
	for range 2 {
		select {
		case <-done:
		case <-time.After(time.Minute): // a hang, not a slow machine
			t.Fatal("jobs did not finish")
		}
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls["a"] != 1 || calls["flaky"] != 2 {
		t.Fatalf("calls = %v", calls)
	}
	if q.Enqueue("u1", "after-stop") {
		t.Fatal("a stopped queue took an id")
	}
}

// TestGivesUpAfterAttempts waits for the queue to say it gave up (after
// which nothing is scheduled), then counts the attempts: no sleeping for a
// fourth attempt that a slow machine might bring later.
func TestGivesUpAfterAttempts(t *testing.T) {
	var logs testlog.Buffer
	q := New(Config{Workers: 1, Attempts: 3, Backoff: time.Millisecond}, logs.Logger())
	var calls atomic.Int32
	q.Start(func(context.Context, string) error { calls.Add(1); return errors.New("down") })
	q.Enqueue("u", "x")
	eventually(t, "the queue to give up", func() bool {
		return strings.Contains(logs.String(), "the media sweep will retry it")
	})
	if n := calls.Load(); n != 3 {
		t.Fatalf("process called %d times before the queue gave up, want 3", n)
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("process called %d times, want 3", n)
	}
}

// eventually polls cond until it holds. The deadline is generous: it only
// fails a test that hangs, never one on a slow machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
	}
}

func TestRetryDoesNotHoldAWorker(t *testing.T) {
	q := New(Config{Workers: 1, Attempts: 2, Backoff: time.Hour}, nil)
	other := make(chan struct{})
	q.Start(func(_ context.Context, id string) error {
		if id == "failing" {
			return errors.New("down")
		}
		close(other)
		return nil
	})
	q.Enqueue("a", "failing")
	q.Enqueue("b", "other")
	select {
	case <-other:
	case <-time.After(time.Minute): // the retry waits an hour: only a blocked worker gets here
		t.Fatal("a retry waiting an hour blocked the only worker")
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStopWaitsForJobInFlight(t *testing.T) {
	q := New(Config{Workers: 1, Capacity: 1}, nil)
	started := make(chan struct{})
	var finished atomic.Bool
	q.Start(func(ctx context.Context, _ string) error {
		close(started)
		time.Sleep(100 * time.Millisecond)
		finished.Store(ctx.Err() == nil)
		return nil
	})
	q.Enqueue("u", "x")
	<-started
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Stop returned before the job in flight finished")
	}
}

func TestDuplicateIDsAreCoalesced(t *testing.T) {
	q := New(Config{Capacity: 10}, nil)
	q.Enqueue("u", "x")
	q.Enqueue("u", "x")
	if q.size != 1 {
		t.Fatalf("queued %d, want 1", q.size)
	}
}

func TestFullQueueRefuses(t *testing.T) {
	q := New(Config{Capacity: 2}, nil)
	if !q.Enqueue("u", "a") || !q.Enqueue("v", "b") {
		t.Fatal("room for two")
	}
	if q.Enqueue("w", "c") {
		t.Fatal("a full queue took a third id")
	}
}

// TestOwnersTakeTurns: with one worker busy on a burst of 200 ids from one
// owner, another owner's id enqueued afterwards is among the next two
// processed.
func TestOwnersTakeTurns(t *testing.T) {
	q := New(Config{Workers: 1, Capacity: 1000}, nil)
	gate := make(chan struct{})
	var mu sync.Mutex
	var order []string
	q.Start(func(_ context.Context, id string) error {
		<-gate
		mu.Lock()
		order = append(order, id)
		mu.Unlock()
		return nil
	})
	for i := range 200 {
		q.Enqueue("flooder", fmt.Sprintf("a%d", i))
	}
	q.Enqueue("bob", "b")
	close(gate)
	eventually(t, "all 201 jobs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 201
	})
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	pos := -1
	for i, id := range order {
		if id == "b" {
			pos = i
		}
	}
	// a0 was taken before b arrived; then flooder's and bob's turns alternate.
	if pos < 0 || pos > 2 {
		t.Fatalf("bob's id processed at position %d of %d, want within the first 3", pos, len(order))
	}
	for i, id := range order[:min(len(order), 5)] {
		t.Logf("%d: %s", i, id)
	}
}
