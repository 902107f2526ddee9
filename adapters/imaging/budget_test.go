package imaging

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

func TestMemoryBudgetConfig(t *testing.T) {
	if got := New(Config{MemoryBudget: -1}).MemoryBudget(); got != -1 {
		t.Errorf("negative budget: %d, want -1 (unlimited)", got)
	}
	if got := New(Config{MemoryBudget: 123 << 20}).MemoryBudget(); got != 123<<20 {
		t.Errorf("explicit budget: %d", got)
	}
	if got := defaultBudget(math.MaxInt64); got != DefaultMemoryBudget {
		t.Errorf("no memory limit: default budget %d, want %d", got, DefaultMemoryBudget)
	}
	if got := defaultBudget(800 << 20); got != 400<<20 {
		t.Errorf("GOMEMLIMIT=800MiB: default budget %d, want half", got)
	}
}

// withDecodeProbe wraps the PNG decoder for the test: it counts the decodes
// under way, remembers the most at once, and holds the first decode until
// another one joins it or hold passes, so that decodes the budget allows
// at once do overlap (the calls start together: a second decode the budget
// wrongly lets through starts while the first is held). When they are
// expected to overlap, hold is generous: it only ends a wait for a decode
// that never comes, whatever the load.
func withDecodeProbe(t *testing.T, hold time.Duration) (most func() int32) {
	f := formats[1]
	if f.contentType != "image/png" {
		t.Fatal("formats[1] is not PNG")
	}
	orig := f.decodeFn
	t.Cleanup(func() { f.decodeFn = orig })
	var now, peak atomic.Int32
	var held atomic.Bool
	joined := make(chan struct{})
	var once sync.Once
	f.decodeFn = func(r io.Reader) (image.Image, error) {
		n := now.Add(1)
		defer now.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n > 1 {
			once.Do(func() { close(joined) })
		}
		if held.CompareAndSwap(false, true) {
			select {
			case <-joined:
			case <-time.After(hold):
			}
		}
		return orig(r)
	}
	return peak.Load
}

// Two images that do not fit in the budget together are not decoded at
// once; with room for both, they are. The budgets are relative to the
// image's estimate, so a small image shows it as well as a large one.
func TestMemoryBudgetSerialises(t *testing.T) {
	data := encodePNG(t, photo(320, 240, 4))
	need := peakEstimate(data, "image/png")
	for _, c := range []struct {
		name   string
		budget int64
		want   int32
	}{
		{"budget for one", need + need/2, 1},
		{"image larger than the budget", need / 3, 1},
		{"budget for two", 2*need + 1, 2},
		{"unlimited", -1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			// One at a time: the first decode waits a second for a second
			// one that must not come. Two: the first waits for the second.
			hold := time.Second
			if c.want == 2 {
				hold = time.Minute
			}
			most := withDecodeProbe(t, hold)
			p := New(Config{MemoryBudget: c.budget})
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					vs, err := p.MakeVariants(t.Context(), bytes.NewReader(data), "image/png", 0)
					if err != nil || len(vs) != len(domain.VariantNames) {
						t.Errorf("MakeVariants: %d variants, %v", len(vs), err)
					}
				})
			}
			wg.Wait()
			if got := most(); got != c.want {
				t.Errorf("%d decodes at once, want %d", got, c.want)
			}
		})
	}
}

// A call waiting for memory returns Unavailable when its context ends, and
// takes nothing from the budget.
func TestMemoryBudgetCancelWhileWaiting(t *testing.T) {
	data := encodePNG(t, photo(300, 200, 4))
	p := New(Config{MemoryBudget: 64 << 20})
	release, err := p.reserve(t.Context(), 64<<20) // everything
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = p.MakeVariants(ctx, bytes.NewReader(data), "image/png", 0)
	wantCode(t, err, domain.Unavailable)
	// It returned because the context ended (the budget is still taken).
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap the context's error", err)
	}
	release()
	// The budget is whole again: a call that needs all of it runs.
	if _, err := p.MakeVariants(t.Context(), bytes.NewReader(data), "image/png", 0); err != nil {
		t.Fatal(err)
	}
	if !p.mem.TryAcquire(64 << 20) {
		t.Error("the budget was not given back")
	}
}

// An image that needs more than the whole budget waits for the calls under
// way, runs alone, and the calls after it wait for it.
func TestMemoryBudgetLargeImageRunsAlone(t *testing.T) {
	p := New(Config{MemoryBudget: 100})
	small, err := p.reserve(t.Context(), 30)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func())
	go func() {
		r, err := p.reserve(t.Context(), 1<<40) // larger than the budget
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("the large image did not wait for the small one")
	case <-time.After(50 * time.Millisecond):
	}
	small()
	large := <-got
	if p.mem.TryAcquire(1) {
		t.Fatal("a call ran beside the large image")
	}
	large()
	if !p.mem.TryAcquire(100) {
		t.Fatal("the budget was not given back")
	}
}

// The estimate is not below what MakeVariants allocates (all of it counts
// until the collector runs), nor absurdly above it, for each decoded colour
// model.
func TestEstimateCoversAllocations(t *testing.T) {
	skipUnderRace(t)
	m := photo(1600, 1200, 5)
	gray := image.NewGray(m.Rect)
	nrgba := image.NewNRGBA(m.Rect)
	rgba64 := image.NewRGBA64(m.Rect)
	pal := image.NewPaletted(m.Rect, palette256())
	for i := range gray.Pix {
		gray.Pix[i] = m.Pix[4*i]
		pal.Pix[i] = m.Pix[4*i+1]
		copy(nrgba.Pix[4*i:], m.Pix[4*i:4*i+4])
		nrgba.Pix[4*i+3] = uint8(i)
		for k := range 4 {
			rgba64.Pix[8*i+2*k] = m.Pix[4*i+k]
		}
	}
	for _, c := range []struct {
		name, ct string
		data     []byte
	}{
		{"jpeg 4:2:0", "image/jpeg", encodeJPEG(t, m, 90)},
		{"jpeg gray", "image/jpeg", encodeJPEG(t, gray, 90)},
		{"jpeg progressive 4:4:4", "image/jpeg", testJPEG(t, 1600, 1200, jpegProgressive444)},
		{"jpeg cmyk", "image/jpeg", testJPEG(t, 1600, 1200, jpegCMYK)},
		{"png rgb", "image/png", encodePNG(t, m)},
		{"png rgba", "image/png", encodePNG(t, nrgba)},
		{"png rgb 16-bit", "image/png", encodePNG(t, rgba64)},
		{"png paletted", "image/png", encodePNG(t, pal)},
		{"png interlaced rgba 16-bit", "image/png", rawPNG(t, 1600, 1200, 6, 16, true)},
		{"gif", "image/gif", encodeGIF(t, pal)},
		{"webp lossless", "image/webp", flatLosslessWebP(1600, 1200)},
	} {
		t.Run(c.name, func(t *testing.T) {
			est := peakEstimate(c.data, c.ct)
			p := New(Config{})
			var err error
			alloc := allocated(func() {
				_, err = p.MakeVariants(context.Background(), bytes.NewReader(c.data), c.ct, 0)
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("estimate %.1f MiB, allocated %.1f MiB", float64(est)/(1<<20), float64(alloc)/(1<<20))
			if float64(est) < 0.9*float64(alloc) || float64(est) > 3*float64(alloc) {
				t.Errorf("estimate %d bytes for %d allocated", est, alloc)
			}
		})
	}
	runtime.GC()
}
