package memnotify

import (
	"context"
	"sync"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

func TestRecordsPerRecipient(t *testing.T) {
	n := New(nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			to := "a"
			if i%2 == 1 {
				to = "b"
			}
			_ = n.Dispatch(context.Background(), domain.Notification{ID: string(rune('A' + i)), UserID: to})
		})
	}
	wg.Wait()
	if len(n.Sent("a")) != 10 || len(n.Sent("b")) != 10 || len(n.Sent("")) != 20 {
		t.Fatalf("a=%d b=%d all=%d", len(n.Sent("a")), len(n.Sent("b")), len(n.Sent("")))
	}
}
