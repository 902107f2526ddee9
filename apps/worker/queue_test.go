package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestProcessesEachIDAndRetries(t *testing.T) {
	q := New(2, 10, nil)
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
	q.Enqueue("a")
	q.Enqueue("flaky")
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("jobs did not finish")
		}
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls["a"] != 1 || calls["flaky"] != 2 {
		t.Fatalf("calls = %v", calls)
	}
	q.Enqueue("after-stop") // ignored, no panic
}

func TestStopWaitsForJobInFlight(t *testing.T) {
	q := New(1, 1, nil)
	started := make(chan struct{})
	var finished atomic.Bool
	q.Start(func(ctx context.Context, _ string) error {
		close(started)
		time.Sleep(100 * time.Millisecond)
		finished.Store(ctx.Err() == nil)
		return nil
	})
	q.Enqueue("x")
	<-started
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Stop returned before the job in flight finished")
	}
}

func TestDuplicateIDsAreCoalesced(t *testing.T) {
	q := New(1, 10, nil)
	q.Enqueue("x")
	q.Enqueue("x")
	if len(q.ch) != 1 {
		t.Fatalf("queued %d, want 1", len(q.ch))
	}
}
