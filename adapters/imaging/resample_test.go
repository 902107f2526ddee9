package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	xdraw "golang.org/x/image/draw"
)

func BenchmarkHalve(b *testing.B) {
	p := newPlane(4000, 3000, 1)
	for i := range p.pix {
		p.pix[i] = uint8(i * 7)
	}
	b.SetBytes(int64(len(p.pix)))
	for b.Loop() {
		halve(p)
	}
}

func TestHalveMatchesScalar(t *testing.T) {
	for _, ch := range []int{1, 4} {
		for _, w := range []int{1, 2, 3, 7, 8, 9, 16, 17, 33} {
			for _, h := range []int{1, 2, 5} {
				p := newPlane(w, h, ch)
				for i := range p.pix {
					p.pix[i] = uint8(i*151 + i*i*7)
				}
				got := halve(p)
				for y := range got.h {
					for x := range got.w {
						for c := range ch {
							at := func(x, y int) int { return int(p.pix[min(y, h-1)*p.stride+min(x, w-1)*ch+c]) }
							var want int
							switch {
							case 2*x+1 < w:
								want = (at(2*x, 2*y) + at(2*x+1, 2*y) + at(2*x, 2*y+1) + at(2*x+1, 2*y+1) + 1 + x&1) >> 2
							default: // odd last column
								want = (at(2*x, 2*y) + at(2*x, 2*y+1) + 1) >> 1
							}
							if g := int(got.pix[y*got.stride+x*ch+c]); g != want {
								t.Fatalf("ch %d %dx%d: (%d,%d,%d) = %d, want %d", ch, w, h, x, y, c, g, want)
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkResampleMediumY(b *testing.B) {
	p := newPlane(2000, 1500, 1)
	for i := range p.pix {
		p.pix[i] = uint8(i * 7)
	}
	for b.Loop() {
		resample(p, 0, 0, 2000, 1500, 1080, 810)
	}
}

// The staged reduction (2x box levels, then Catmull-Rom below 2x) must look
// like a single Catmull-Rom pass from full size, the slow reference
// (golang.org/x/image/draw), within a PSNR no eye can tell apart.
func TestQualityVsSingleCatmullRom(t *testing.T) {
	skipUnderRace(t)
	// A photo, and a hard case: fine stripes and a zone plate up to near
	// the Nyquist frequency, where a box prefilter and a wide cubic differ most.
	const w, h = 2200, 1100 // wide enough for medium to be made from a halved level
	hard := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dx, dy := float64(x-w/2), float64(y-h/2)
			v := 128 + 100*math.Cos((dx*dx+dy*dy)/900)
			i := hard.PixOffset(x, y)
			hard.Pix[i], hard.Pix[i+1], hard.Pix[i+2], hard.Pix[i+3] = uint8(v), uint8(255*(x/7%2)), uint8(y*255/(h-1)), 255
		}
	}
	jpg, err := jpeg.Decode(bytes.NewReader(encodeJPEG(t, photo(w, h, 12), 90)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		src     image.Image
		minPSNR float64
	}{
		{"photo", photo(w, h, 11), 42},
		{"photo jpeg ycbcr", jpg, 42},
		// Beyond the output's Nyquist frequency a box prefilter and a wide
		// cubic alias differently: only a guard against gross errors.
		{"zone plate", hard, 25},
	} {
		outs := newSource(c.src, w, h).makeVariants(orientNormal)
		for _, o := range outs {
			ref := image.NewRGBA(image.Rect(0, 0, o.w, o.h))
			sr := c.src.Bounds()
			if o.name == "thumb" {
				sr = image.Rect((w-h)/2, 0, (w+h)/2, h)
			}
			xdraw.CatmullRom.Scale(ref, ref.Rect, c.src, sr, xdraw.Src, nil)
			var psnr float64
			if o.kind == kindYCbCr {
				// Compare like with like: luma with the reference's luma,
				// 4:2:0 chroma with the reference's chroma averaged 2x2.
				ry, rcb, rcr := toYCbCr420(ref)
				psnr = min(planePSNR(o.planes[0], ry), planePSNR(o.planes[1], rcb), planePSNR(o.planes[2], rcr))
			} else {
				psnr = planePSNR(o.planes[0], plane{pix: ref.Pix, w: o.w, h: o.h, stride: ref.Stride, ch: 4})
			}
			t.Logf("%s %s: PSNR vs one Catmull-Rom pass: %.1f dB", c.name, o.name, psnr)
			if psnr < c.minPSNR {
				t.Errorf("%s %s: PSNR %.1f dB, want at least %g", c.name, o.name, psnr, c.minPSNR)
			}
		}
	}
}

// planePSNR compares two planes of the same size, ignoring alpha.
func planePSNR(a, b plane) float64 {
	var se float64
	var n int
	for y := range a.h {
		ra, rb := a.row(y), b.row(y)
		for i := range ra {
			if a.ch == 4 && i%4 == 3 {
				continue
			}
			d := float64(ra[i]) - float64(rb[i])
			se += d * d
			n++
		}
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

// toYCbCr420 converts m to JPEG YCbCr with chroma averaged over 2x2 blocks.
func toYCbCr420(m *image.RGBA) (y, cb, cr plane) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	y = newPlane(w, h, 1)
	full := [2]plane{newPlane(w, h, 1), newPlane(w, h, 1)}
	for j := range h {
		for i := range w {
			c := m.RGBAAt(i, j)
			yy, b, r := color.RGBToYCbCr(c.R, c.G, c.B)
			y.pix[j*w+i], full[0].pix[j*w+i], full[1].pix[j*w+i] = yy, b, r
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	out := [2]plane{newPlane(cw, ch, 1), newPlane(cw, ch, 1)}
	for k := range 2 {
		for j := range ch {
			for i := range cw {
				sum := 0
				for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					sum += int(full[k].pix[min(2*j+d[1], h-1)*w+min(2*i+d[0], w-1)])
				}
				out[k].pix[j*cw+i] = uint8((sum + 2) / 4)
			}
		}
	}
	return y, out[0], out[1]
}

func TestMakeWeights(t *testing.T) {
	for _, c := range []struct {
		size   int
		x0, sw float64
		dw     int
	}{
		{2000, 0, 2000, 1080}, {1000, 0, 1000, 999}, {375, 62.5, 375, 128}, {7, 0, 7, 4}, {3, 0, 3, 2},
		{1, 0, 1, 1}, {10, 0.5, 9, 9}, {600, 0, 600, 600}, {1500, 250, 1000, 600}, {9, 0, 9.5, 5},
	} {
		ws := makeWeights(c.size, c.x0, c.sw, c.dw)
		if len(ws.start) != c.dw || len(ws.w) != c.dw*ws.n {
			t.Fatalf("%+v: %d starts, %d weights, n %d", c, len(ws.start), len(ws.w), ws.n)
		}
		for i, s := range ws.start {
			if s < 0 || s+ws.n > c.size {
				t.Fatalf("%+v: output %d reads %d..%d", c, i, s, s+ws.n)
			}
			var sum int32
			for _, w := range ws.w[i*ws.n : (i+1)*ws.n] {
				sum += w
			}
			if sum != weightOne {
				t.Fatalf("%+v: output %d weights sum to %d", c, i, sum)
			}
		}
	}
	// A copy is a single tap.
	if ws := makeWeights(600, 0, 600, 600); ws.n != 1 || ws.start[599] != 599 {
		t.Errorf("identity: n %d", ws.n)
	}
}

// A flat plane stays flat, to the unit, through every path (8-tap and
// generic, one and four channels), and a ramp stays a ramp.
func TestResampleFlatAndRamp(t *testing.T) {
	skipUnderRace(t)
	for _, ch := range []int{1, 4} {
		for _, size := range [][4]int{{2000, 1500, 1080, 810}, {7, 5, 4, 3}, {300, 200, 128, 128}, {97, 61, 97, 61}} {
			p := newPlane(size[0], size[1], ch)
			for i := range p.pix {
				p.pix[i] = 173
			}
			out := resample(p, 0, 0, float64(size[0]), float64(size[1]), size[2], size[3])
			for i, v := range out.pix {
				if v != 173 {
					t.Fatalf("ch %d %v: sample %d is %d", ch, size, i, v)
				}
			}
		}
	}
	ramp := newPlane(1000, 10, 1)
	for y := range 10 {
		for x := range 1000 {
			ramp.pix[y*1000+x] = uint8(x / 4)
		}
	}
	out := resample(ramp, 0, 0, 1000, 10, 500, 5)
	for x := 2; x < 498; x++ {
		want := (2*float64(x) + 0.5) / 4 // the centre of output x is input 2x+0.5
		if got := float64(out.pix[x]); math.Abs(got-want) > 1 {
			t.Fatalf("ramp sample %d is %g, want %g", x, got, want)
		}
	}
}

func TestOpaque4(t *testing.T) {
	for _, w := range []int{1, 2, 3, 5} {
		for at := range w {
			p := newPlane(w, 2, 4)
			for i := range p.pix {
				p.pix[i] = 255
			}
			if !opaque4(p) {
				t.Fatalf("width %d: opaque plane reported transparent", w)
			}
			p.pix[p.stride+4*at+3] = 254
			if opaque4(p) {
				t.Fatalf("width %d: alpha 254 at x %d missed", w, at)
			}
			p.pix[p.stride+4*at+3] = 255
			p.pix[p.stride+4*at] = 0 // colour bytes do not matter
			if !opaque4(p) {
				t.Fatalf("width %d: colour byte taken for alpha", w)
			}
		}
	}
}

// The unrolled 8-tap RGBA filter is the general one, and rows made in bands
// are the rows made at once.
func TestResampleVariantsAgree(t *testing.T) {
	skipUnderRace(t)
	src := newPlane(700, 500, 4)
	for i := range src.pix {
		src.pix[i] = uint8(i*151 + i*i*7)
	}
	premultiply(src)
	for _, size := range [][2]int{{500, 400}, {400, 300}, {371, 269}} {
		xw := makeWeights(src.w, 0, 700, size[0])
		yw := makeWeights(src.h, 0, 500, size[1])
		if xw.n != taps8 {
			t.Fatalf("%v: %d taps", size, xw.n)
		}
		xlo, _ := xw.span()
		once := newPlane(size[0], size[1], 4)
		resampleRows(once, src, xw, yw, 0, size[1])
		banded := newPlane(size[0], size[1], 4)
		for _, cut := range [][2]int{{0, 7}, {7, size[1] / 2}, {size[1] / 2, size[1]}} {
			resampleRows(banded, src, xw, yw, cut[0], cut[1])
		}
		if !bytes.Equal(once.pix, banded.pix) {
			t.Errorf("%v: banded rows differ", size)
		}
		in := src.row(3)[xlo*4:]
		a, b := make([]byte, 4*size[0]), make([]byte, 4*size[0])
		horizontal4(a, in, xw, xlo)
		horizontal4x8(b, in, xw, xlo)
		if !bytes.Equal(a, b) {
			t.Errorf("%v: horizontal4x8 differs from horizontal4", size)
		}
	}
}

func BenchmarkResampleLargeRGBA(b *testing.B) {
	p := newPlane(2720, 2040, 4)
	for i := range p.pix {
		p.pix[i] = uint8(i * 7)
	}
	for b.Loop() {
		resample(p, 0, 0, 2720, 2040, 2048, 1536)
	}
}

// Level 1 made straight from a paletted image is level 0 halved.
func TestHalvePaletteMatchesHalve(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.NRGBA{0, 200, 100, 128}, color.Transparent, color.RGBA{10, 20, 30, 255}}
	for _, size := range [][2]int{{1, 1}, {1, 5}, {2, 2}, {7, 3}, {8, 8}, {33, 17}} {
		m := image.NewPaletted(image.Rect(0, 0, size[0], size[1]), pal)
		for i := range m.Pix {
			m.Pix[i] = uint8(i*7+i*i) % 6 // indices 4 and 5 are outside the palette: transparent
		}
		lut := paletteLUT(m.Palette)
		want := halve(expandPalette(m, &lut))
		got := halvePalette(m, &lut)
		if got.w != want.w || got.h != want.h || !bytes.Equal(got.pix, want.pix) {
			t.Errorf("%v: halvePalette differs from halve(expandPalette)", size)
		}
		if s := paletteSource(m); s.alpha != !opaque4(expandPalette(m, &lut)) {
			t.Errorf("%v: alpha %v", size, s.alpha)
		}
	}
	opaque := image.NewPaletted(image.Rect(0, 0, 4, 4), pal)
	if paletteSource(opaque).alpha {
		t.Error("an opaque paletted image has alpha")
	}
}

// makeVariants scales the source to every target and returns the results,
// oriented, in target order.
func (s *source) makeVariants(orient int) []output {
	outs := make([]output, len(targets(s.w, s.h, orient)))
	s.eachVariant(orient, func(i int, o output) { outs[i] = o }) // each index once
	return outs
}
