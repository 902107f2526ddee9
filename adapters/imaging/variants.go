package imaging

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"slices"
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

// targets returns the thumb, small, medium and large targets of a w x h
// image whose EXIF orientation is orient. Sizes are decided on the displayed
// (oriented) image, then mapped back to the stored one.
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
	whole := func(name string, ow, oh int) {
		if transposed {
			ow, oh = oh, ow
		}
		out = append(out, target{name: name, ww: float64(w), wh: float64(h), dw: ow, dh: oh})
	}
	// scaled is the other side when one side of the displayed image becomes n.
	scaled := func(other, side, n int) int {
		return max(1, int(math.Round(float64(other)*float64(n)/float64(side))))
	}
	for _, v := range []struct {
		name  string
		width int
	}{{domain.VariantSmall, SmallWidth}, {domain.VariantMedium, MediumWidth}} {
		ow := min(v.width, dispW)
		whole(v.name, ow, scaled(dispH, dispW, ow))
	}
	// Large: the longer side capped at LargeSide.
	if dispW >= dispH {
		ow := min(LargeSide, dispW)
		whole(domain.VariantLarge, ow, scaled(dispH, dispW, ow))
	} else {
		oh := min(LargeSide, dispH)
		whole(domain.VariantLarge, scaled(dispW, dispH, oh), oh)
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

// eachVariant scales the source to every target and calls emit with the
// index and the output of each, oriented, as soon as all its planes are
// made, so that encoding one variant (the large one first, usually) overlaps
// scaling the others. emit is called from several goroutines at once; when
// eachVariant returns, it has been called for every target. The planes of a
// YCbCr source are independent, so they are scaled concurrently: with 4:2:0
// chroma, Y is two thirds of the work.
func (s *source) eachVariant(orient int, emit func(i int, o output)) {
	ts := targets(s.w, s.h, orient)
	outs := make([]output, len(ts))
	missing := make([]int, len(ts)) // planes still to make, per target
	for i, t := range ts {
		outs[i] = output{name: t.name, kind: s.kind, alpha: s.alpha, w: t.dw, h: t.dh, planes: make([]plane, len(s.planes))}
		if orient >= orientTranspose {
			outs[i].w, outs[i].h = t.dh, t.dw
		}
		missing[i] = len(s.planes)
	}
	var mu sync.Mutex
	done := func(i, j int, p plane) {
		mu.Lock()
		outs[i].planes[j] = p
		missing[i]--
		ready := missing[i] == 0
		mu.Unlock()
		if ready {
			emit(i, outs[i])
		}
	}
	var wg sync.WaitGroup
	for j := range s.planes {
		wg.Go(func() { s.scalePlane(j, ts, orient, func(i int, p plane) { done(i, j, p) }) })
	}
	wg.Wait()
	s.planes = nil
}

// scalePlane makes plane j of every target, oriented, and hands each to done
// (target index, plane) as soon as it is made. Targets are made from
// the finest pyramid level they need to the coarsest, and each level is
// dropped as soon as the next one is built and no target still needs it, so
// that the full-size plane (most of the memory, for a photo) can be collected
// while the smaller variants are made.
func (s *source) scalePlane(j int, ts []target, orient int, done func(i int, p plane)) {
	p := s.planes[j]
	type window struct{ x0, y0, sw, sh float64 }
	wins := make([]window, len(ts))
	levels := make([]int, len(ts))
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
	}
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return levels[a] - levels[b] })
	if len(p.levels) == 0 { // level 0 is made on demand (see pyramid)
		if levels[order[0]] >= 1 && p.half != nil {
			p.levels = []plane{{}, p.half()}
		} else {
			p.levels = []plane{p.full()}
		}
		p.full, p.half = nil, nil
	}
	for _, i := range order {
		for len(p.levels) <= levels[i] {
			k := len(p.levels) - 1
			p.levels = append(p.levels, halve(p.levels[k]))
			p.levels[k] = plane{} // every target left needs level k+1 or a coarser one
		}
		pw, ph, _, _ := s.outPlaneSize(j, ts[i])
		w := wins[i]
		done(i, orientPlane(resample(p.levels[levels[i]], w.x0, w.y0, w.sw, w.sh, pw, ph), orient))
	}
	p.levels = nil
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
	const budget = 16 << 20 // multiply-adds of the final vertical pass
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

// contentType is the type o is encoded as (see variantType).
func (o output) contentType() string { return variantType(o.kind, o.alpha) }

// contentType is the type the variants of s are encoded as (see
// variantType).
func (s *source) contentType() string { return variantType(s.kind, s.alpha) }

// variantType is the type variants are encoded as: PNG when they have
// transparency, else JPEG.
func variantType(k kind, alpha bool) string {
	if k == kindRGBA && alpha {
		return "image/png"
	}
	return "image/jpeg"
}

// encode encodes o (JPEG at quality q, or PNG: see contentType) with the
// metadata m and nothing else.
func (o output) encode(q int, m metadata) (domain.Variant, error) {
	var img image.Image
	ct := o.contentType()
	r := image.Rect(0, 0, o.w, o.h)
	switch {
	case o.kind == kindYCbCr:
		y, cb, cr := o.planes[0], o.planes[1], o.planes[2]
		img = &image.YCbCr{Y: y.pix, Cb: cb.pix, Cr: cr.pix, YStride: y.stride, CStride: cb.stride,
			SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: r}
	case o.kind == kindGray:
		img = &image.Gray{Pix: o.planes[0].pix, Stride: o.planes[0].stride, Rect: r}
	case ct == "image/jpeg":
		img = &image.RGBA{Pix: o.planes[0].pix, Stride: o.planes[0].stride, Rect: r}
	default:
		img = &image.NRGBA{Pix: unpremultiply(o.planes[0]).pix, Stride: o.planes[0].stride, Rect: r}
	}
	var buf bytes.Buffer
	// The metadata goes right after the JPEG SOI marker, or right after the
	// PNG IHDR chunk (where iCCP must be, before PLTE and IDAT).
	w := &spliceWriter{w: &buf, at: 2, extra: m.jpeg}
	var err error
	if ct == "image/png" {
		w.at, w.extra = pngSignatureAndIHDR, m.png
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(w, img)
	} else {
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: q})
	}
	if err == nil && w.extra != nil {
		err = errShortEncoding
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
