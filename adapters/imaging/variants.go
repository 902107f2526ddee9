package imaging

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"sync"

	"github.com/cloudpost/cloudpost/core/domain"
)

// target is one variant to make: the window of the stored (not yet oriented)
// image it shows, in luma pixels, and its stored-orientation size.
type target struct {
	name   string
	x0, y0 float64
	ww, wh float64
	dw, dh int
}

// targets returns the thumb, small and medium targets of a w x h image whose
// EXIF orientation is orient. Sizes are decided on the displayed (oriented)
// image, then mapped back to the stored one.
func targets(w, h, orient int) []target {
	transposed := orient >= orientTranspose
	dispW, dispH := w, h
	if transposed {
		dispW, dispH = h, w
	}
	// Thumb: the centred square of the shorter side, reduced to at most 128.
	// A centred square is the same region whatever the orientation.
	side := min(w, h)
	t := min(ThumbSize, side)
	out := []target{{
		name: domain.VariantThumb,
		x0:   float64((w - side) / 2), y0: float64((h - side) / 2),
		ww: float64(side), wh: float64(side),
		dw: t, dh: t,
	}}
	for _, v := range []struct {
		name  string
		width int
	}{{domain.VariantSmall, SmallWidth}, {domain.VariantMedium, MediumWidth}} {
		ow := min(v.width, dispW)
		oh := max(1, int(math.Round(float64(dispH)*float64(ow)/float64(dispW))))
		if transposed {
			ow, oh = oh, ow
		}
		out = append(out, target{name: v.name, ww: float64(w), wh: float64(h), dw: ow, dh: oh})
	}
	return out
}

// output is a variant before encoding: its planes, already oriented.
type output struct {
	name  string
	kind  kind
	alpha bool
	w, h  int
	// planes: Y, Cb, Cr (4:2:0) for kindYCbCr, else one plane.
	planes []plane
}

// makeVariants scales the source to every target and orients the results.
// The planes of a YCbCr source are independent, so they are scaled
// concurrently: with 4:2:0 chroma, Y is two thirds of the work.
func (s *source) makeVariants(orient int) []output {
	ts := targets(s.w, s.h, orient)
	scaled := make([][]plane, len(s.planes)) // [plane][target]
	var wg sync.WaitGroup
	for j := range s.planes {
		wg.Go(func() { scaled[j] = s.scalePlane(j, ts, orient) })
	}
	wg.Wait()
	s.planes = nil

	outs := make([]output, len(ts))
	for i, t := range ts {
		o := output{name: t.name, kind: s.kind, alpha: s.alpha, w: t.dw, h: t.dh}
		if orient >= orientTranspose {
			o.w, o.h = o.h, o.w
		}
		for j := range scaled {
			o.planes = append(o.planes, scaled[j][i])
		}
		outs[i] = o
	}
	return outs
}

// scalePlane makes plane j of every target, oriented.
func (s *source) scalePlane(j int, ts []target, orient int) []plane {
	p := s.planes[j]
	type window struct{ x0, y0, sw, sh float64 }
	wins := make([]window, len(ts))
	levels := make([]int, len(ts))
	lowest := math.MaxInt
	for i, t := range ts {
		pw, ph, ohs, ovs := s.outPlaneSize(j, t)
		// The window in level-0 samples of this plane. An output chroma
		// sample spans ohs x ovs output pixels, so the chroma plane covers
		// pw*ohs pixels, one more than dw when dw is odd.
		w := window{
			x0: t.x0 / float64(p.hs), y0: t.y0 / float64(p.vs),
			sw: t.ww * float64(pw*ohs) / float64(t.dw) / float64(p.hs),
			sh: t.wh * float64(ph*ovs) / float64(t.dh) / float64(p.vs),
		}
		levels[i] = pyramidLevel(w.sw, w.sh, pw, ph)
		f := math.Ldexp(1, levels[i]) // level-0 samples per sample of that level
		wins[i] = window{w.x0 / f, w.y0 / f, w.sw / f, w.sh / f}
		p.level(levels[i])
		lowest = min(lowest, levels[i])
	}
	// Drop the levels no target reads (the full-size plane, for a photo)
	// before filtering, so the garbage collector may take them.
	for k := range lowest {
		p.levels[k] = plane{}
	}
	out := make([]plane, len(ts))
	for i, t := range ts {
		pw, ph, _, _ := s.outPlaneSize(j, t)
		w := wins[i]
		out[i] = orientPlane(resample(p.level(levels[i]), w.x0, w.y0, w.sw, w.sh, pw, ph), orient)
	}
	return out
}

// outPlaneSize is the size of output plane j of target t, and how many output
// luma pixels one of its samples spans: chroma is 4:2:0 as the JPEG encoder
// writes it.
func (s *source) outPlaneSize(j int, t target) (w, h, hs, vs int) {
	if s.kind == kindYCbCr && j > 0 {
		return (t.dw + 1) / 2, (t.dh + 1) / 2, 2, 2
	}
	return t.dw, t.dh, 1, 1
}

// pyramidLevel returns how many times to halve a sw x sh window before the
// final Catmull-Rom pass makes it dw x dh.
//
// Halving (a 2x2 box) folds some detail above the new Nyquist frequency back
// into the picture. While the window stays at least twice the target, that
// folded detail lies above the target's Nyquist frequency and the final pass,
// reducing by 2x to 4x, filters it out (Pillow's "reducing gap" of 2). That
// pass costs about 4x the reduction in taps per sample, so when it would be
// expensive (a large target from a large window: medium from 12 megapixels)
// the window is halved once more and the final pass reduces by less than 2x
// with 8 taps, trading a little aliasing of the finest detail for speed.
func pyramidLevel(sw, sh float64, dw, dh int) int {
	k := 0
	for sw/2 >= 2*float64(dw) && sh/2 >= 2*float64(dh) {
		sw, sh = sw/2, sh/2
		k++
	}
	const budget = 16 << 20 // multiply-adds of the final vertical pass, about 10 ms
	taps := math.Ceil(4 * max(sw/float64(dw), sh/float64(dh)))
	if float64(dh)*sw*taps > budget && sw/2 >= float64(dw) && sh/2 >= float64(dh) {
		k++
	}
	return k
}

// orientPlane returns p turned as EXIF orientation o says (p itself for 1).
func orientPlane(p plane, o int) plane {
	if o <= orientNormal || o > orientRotate270 {
		return p
	}
	w, h, ch, st := p.w, p.h, p.ch, p.stride
	dw, dh := w, h
	if o >= orientTranspose {
		dw, dh = h, w
	}
	d := newPlane(dw, dh, ch)
	// Output pixel (x, y) reads input offset base(y) + x*step.
	for y := range dh {
		var base, step int
		switch o {
		case orientFlipH:
			base, step = y*st+(w-1)*ch, -ch
		case orientRotate180:
			base, step = (h-1-y)*st+(w-1)*ch, -ch
		case orientFlipV:
			base, step = (h-1-y)*st, ch
		case orientTranspose:
			base, step = y*ch, st
		case orientRotate90:
			base, step = (h-1)*st+y*ch, -st
		case orientTransverse:
			base, step = (h-1)*st+(w-1-y)*ch, -st
		case orientRotate270:
			base, step = (w-1-y)*ch, st
		}
		out := d.row(y)
		if ch == 1 {
			for x := range out {
				out[x] = p.pix[base+x*step]
			}
			continue
		}
		for x := 0; x < len(out); x += ch {
			i := base + x/ch*step
			copy(out[x:x+ch], p.pix[i:i+ch])
		}
	}
	return d
}

// encode encodes o: JPEG at quality q unless it has transparency, then PNG.
func (o output) encode(q int) (domain.Variant, error) {
	var (
		m  image.Image
		ct = "image/jpeg"
	)
	r := image.Rect(0, 0, o.w, o.h)
	switch {
	case o.kind == kindYCbCr:
		y, cb, cr := o.planes[0], o.planes[1], o.planes[2]
		m = &image.YCbCr{Y: y.pix, Cb: cb.pix, Cr: cr.pix, YStride: y.stride, CStride: cb.stride,
			SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: r}
	case o.kind == kindGray:
		m = &image.Gray{Pix: o.planes[0].pix, Stride: o.planes[0].stride, Rect: r}
	case !o.alpha:
		m = &image.RGBA{Pix: o.planes[0].pix, Stride: o.planes[0].stride, Rect: r}
	default:
		m = &image.NRGBA{Pix: unpremultiply(o.planes[0]).pix, Stride: o.planes[0].stride, Rect: r}
		ct = "image/png"
	}
	var buf bytes.Buffer
	var err error
	if ct == "image/png" {
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, m)
	} else {
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: q})
	}
	if err != nil {
		return domain.Variant{}, err
	}
	return domain.Variant{Name: o.name, ContentType: ct, Width: o.w, Height: o.h, Data: buf.Bytes()}, nil
}

// unpremultiply turns premultiplied RGBA into non-premultiplied RGBA in place.
func unpremultiply(p plane) plane {
	for y := range p.h {
		r := p.row(y)
		for i := 0; i+4 <= len(r); i += 4 {
			px := r[i : i+4 : i+4]
			switch a := uint32(px[3]); a {
			case 255:
			case 0:
				px[0], px[1], px[2] = 0, 0, 0
			default:
				px[0] = uint8(min((uint32(px[0])*255+a/2)/a, 255))
				px[1] = uint8(min((uint32(px[1])*255+a/2)/a, 255))
				px[2] = uint8(min((uint32(px[2])*255+a/2)/a, 255))
			}
		}
	}
	return p
}
