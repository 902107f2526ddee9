package imaging

import (
	"bytes"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// photo returns a deterministic w x h image with the statistics of a photo as
// far as the codecs care: smooth gradients, soft shapes with edges, fine
// texture and sensor-like noise (so a JPEG of it is about as large, and as slow
// to decode, as a camera's).
func photo(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 7))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	type disc struct {
		x, y, rad float64
		c         [3]float64
	}
	discs := make([]disc, 16)
	for i := range discs {
		discs[i] = disc{r.Float64() * float64(w), r.Float64() * float64(h), (0.03 + 0.12*r.Float64()) * float64(min(w, h)),
			[3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}}
	}
	// Texture 18 sin(0.21x + 3 sin(0.05y)) cos(0.17y), from per-column tables.
	sx, cx := make([]float64, w), make([]float64, w)
	for x := range w {
		sx[x], cx[x] = math.Sincos(0.21 * float64(x))
	}
	for y := range h {
		fy := float64(y) / float64(h)
		sp, cp := math.Sincos(3 * math.Sin(0.05*float64(y)))
		amp := 18 * math.Cos(0.17*float64(y))
		// The discs this row crosses, and where.
		type span struct {
			x0, x1 int
			c      [3]float64
		}
		var spans []span
		for _, d := range discs {
			if dy := float64(y) - d.y; dy*dy < d.rad*d.rad {
				half := math.Sqrt(d.rad*d.rad - dy*dy)
				spans = append(spans, span{int(d.x - half), int(d.x + half), d.c})
			}
		}
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		for x := range w {
			fx := float64(x) / float64(w)
			c := [3]float64{60 + 150*fx, 90 + 100*fy, 170 - 120*fx*fy}
			for _, s := range spans {
				if x >= s.x0 && x < s.x1 {
					c = [3]float64{(c[0] + 2*s.c[0]) / 3, (c[1] + 2*s.c[1]) / 3, (c[2] + 2*s.c[2]) / 3}
				}
			}
			tex := amp * (sx[x]*cp + cx[x]*sp)
			// Triangular noise, standard deviation about 5, from one draw.
			n := r.Uint64()
			px := row[4*x : 4*x+4 : 4*x+4]
			for k := range 3 {
				noise := float64(int(n>>(16*k)&255)+int(n>>(16*k+8)&255)-255) / 20
				px[k] = uint8(min(max(c[k]+tex+noise, 0), 255))
			}
			px[3] = 255
		}
	}
	return m
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodePNGFast is encodePNG at png.BestSpeed: the same pixels, made in
// half the time (deflate is slow under the race detector), for fixtures
// whose file size does not matter.
func encodePNGFast(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, m *image.Paletted) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, m, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	bigJPEGOnce sync.Once
	bigJPEG     []byte
	bigPNGOnce  sync.Once
	bigPNG      []byte
)

// jpeg12MP is a 4000x3000 photo-like JPEG at quality 90 (made once per run).
func jpeg12MP(t testing.TB) []byte {
	bigJPEGOnce.Do(func() { bigJPEG = encodeJPEG(t, photo(4000, 3000, 1), 90) })
	return bigJPEG
}

// png10MiB is a photo-like RGB PNG just under 10 MiB (made once per run):
// 2720x2040 of the photo pattern, whose noise keeps deflate from shrinking it
// much.
func png10MiB(t testing.TB) []byte {
	bigPNGOnce.Do(func() { bigPNG = encodePNG(t, photo(2720, 2040, 2)) })
	if len(bigPNG) > DefaultMaxBytes || len(bigPNG) < DefaultMaxBytes*9/10 {
		t.Fatalf("the PNG fixture has %d bytes, not just under 10 MiB", len(bigPNG))
	}
	return bigPNG
}

// meanRGB is the mean non-premultiplied colour of m, weighted by alpha.
func meanRGB(m image.Image) [3]float64 {
	if p, ok := m.(*image.Paletted); ok {
		return meanPaletted(p)
	}
	n := toNRGBA(m)
	var sum [3]float64
	var wsum float64
	for y := range n.Rect.Dy() {
		row := n.Pix[y*n.Stride : y*n.Stride+4*n.Rect.Dx()]
		for i := 0; i < len(row); i += 4 {
			a := float64(row[i+3]) / 255
			sum[0] += float64(row[i]) * a
			sum[1] += float64(row[i+1]) * a
			sum[2] += float64(row[i+2]) * a
			wsum += a
		}
	}
	if wsum == 0 {
		return sum
	}
	return [3]float64{sum[0] / wsum, sum[1] / wsum, sum[2] / wsum}
}

// meanPaletted is meanRGB of a paletted image from how often each index
// occurs: the same colours toNRGBA gives its pixels, without converting
// each (slow under the race detector, for the large GIF case).
func meanPaletted(p *image.Paletted) [3]float64 {
	var count [256]float64
	b := p.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for _, i := range p.Pix[p.PixOffset(b.Min.X, y):p.PixOffset(b.Max.X, y)] {
			count[i]++
		}
	}
	one := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	var sum [3]float64
	var wsum float64
	for i, n := range count {
		if n == 0 {
			continue
		}
		draw.Draw(one, one.Rect, image.NewUniform(p.Palette[i]), image.Point{}, draw.Src)
		a := float64(one.Pix[3]) / 255
		for k := range 3 {
			sum[k] += n * float64(one.Pix[k]) * a
		}
		wsum += n * a
	}
	if wsum == 0 {
		return sum
	}
	return [3]float64{sum[0] / wsum, sum[1] / wsum, sum[2] / wsum}
}

// toNRGBA returns m as an *image.NRGBA with its origin at 0, 0.
func toNRGBA(m image.Image) *image.NRGBA {
	if n, ok := m.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	b := m.Bounds()
	n := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(n, n.Rect, m, b.Min, draw.Src)
	return n
}

// skipUnderRace skips pixel-heavy tests under the race detector, which
// slows such loops tenfold (and whose shadow memory a memory measurement
// would count); they run in every normal `go test`, and `make unit` runs
// this package once more without -race. The pipeline's goroutines are the
// same for every image, and the contract suite and the budget tests
// exercise them under the race detector.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("pixel-heavy; run without -race")
	}
}
