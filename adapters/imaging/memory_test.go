package imaging

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

// The pipeline's peak resident memory on the 12-megapixel JPEG and the
// 10 MiB PNG stays well within what its estimate plans for (the test logs
// how much the peak grew above its own baseline). The worst inputs the
// limits let in are measured by TestPeakMemoryTable.
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
		base := procStatus(t, "VmHWM:")
		if _, err := New(Config{}).MakeVariants(t.Context(), bytes.NewReader(c.data), c.ct, 0); err != nil {
			t.Fatal(err)
		}
		grew := procStatus(t, "VmHWM:") - base
		t.Logf("%s: peak RSS grew by %d MiB", c.name, grew>>20)
		if grew > c.limit {
			t.Errorf("%s: peak RSS grew by %d MiB, want at most %d MiB", c.name, grew>>20, c.limit>>20)
		}
	}
}
