package ports_test

import (
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/ports"
)

// TestRateWindow: windows are aligned to the Unix epoch for times before
// it and far outside UnixNano's range too.
func TestRateWindow(t *testing.T) {
	for _, c := range []struct {
		now        time.Time
		w          time.Duration
		start, end time.Time
	}{
		{time.Unix(-1, 500), time.Second, time.Unix(-1, 0), time.Unix(0, 0)},
		{time.Unix(-7, 0), 7 * time.Second, time.Unix(-7, 0), time.Unix(0, 0)},
		{time.Unix(-8, 0), 7 * time.Second, time.Unix(-14, 0), time.Unix(-7, 0)},
		{time.Date(3000, 1, 1, 0, 0, 30, 1, time.UTC), time.Minute, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 1, 0, 0, time.UTC)},
		{time.Date(1000, 1, 1, 0, 0, 30, 0, time.UTC), time.Hour, time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 1, 1, 0, 0, 0, time.UTC)},
		{time.Unix(1, 0), 1<<63 - 1, time.Unix(0, 0), time.Unix(0, 1<<63-1)},
	} {
		start, end := ports.RateWindow(c.now, c.w)
		if !start.Equal(c.start) || !end.Equal(c.end) {
			t.Errorf("ports.RateWindow(%v, %v) = %v..%v, want %v..%v", c.now, c.w, start, end, c.start, c.end)
		}
	}
}
