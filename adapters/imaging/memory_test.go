package imaging

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// The pipeline's peak resident memory on the 12-megapixel JPEG and the
// 10 MiB PNG stays far below the 1024 MB a Lambda function gets (measured
// about 30 MiB above the test's own baseline for the JPEG, 45 MiB for the PNG).
func TestPeakMemory(t *testing.T) {
	skipUnderRace(t)
	for _, c := range []struct {
		name, ct string
		data     []byte
		limit    int64
	}{
		{"jpeg 4000x3000", "image/jpeg", jpeg12MP(t), 96 << 20},
		{"png 10 MiB", "image/png", png10MiB(t), 128 << 20},
	} {
		runtime.GC()
		debug.FreeOSMemory()
		// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Skipf("cannot reset the peak RSS: %v", err)
		}
		base := peakRSS(t)
		if _, err := New(Config{}).MakeVariants(t.Context(), bytes.NewReader(c.data), c.ct, 0); err != nil {
			t.Fatal(err)
		}
		grew := peakRSS(t) - base
		t.Logf("%s: peak RSS grew by %d MiB", c.name, grew>>20)
		if grew > c.limit {
			t.Errorf("%s: peak RSS grew by %d MiB, want at most %d MiB", c.name, grew>>20, c.limit>>20)
		}
	}
}

// peakRSS returns VmHWM from /proc/self/status, in bytes.
func peakRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc/self/status")
	return 0
}
