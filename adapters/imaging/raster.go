package imaging

import (
	"encoding/binary"
	"image"
	"image/color"
	"image/draw"
)

// plane is a rectangle of 8-bit samples: one channel (ch 1: Y, Cb, Cr or gray)
// or interleaved premultiplied RGBA (ch 4).
type plane struct {
	pix    []byte
	w, h   int
	stride int
	ch     int
}

func newPlane(w, h, ch int) plane {
	return plane{pix: make([]byte, w*h*ch), w: w, h: h, stride: w * ch, ch: ch}
}

// row returns the samples of row y.
func (p plane) row(y int) []byte {
	i := y * p.stride
	return p.pix[i : i+p.w*p.ch : i+p.w*p.ch]
}

// halve returns p at half size, each sample the mean of a 2x2 block (an odd
// last column or row is paired with itself). Exact 2x box averaging is a sound
// anti-aliasing step for a 2x reduction and costs one pass over the input.
func halve(p plane) plane {
	d := newPlane((p.w+1)/2, (p.h+1)/2, p.ch)
	for y := range d.h {
		r0 := p.row(2 * y)
		r1 := r0
		if 2*y+1 < p.h {
			r1 = p.row(2*y + 1)
		}
		if p.ch == 1 {
			halveRow1(d.row(y), r0, r1)
		} else {
			halveRow4(d.row(y), r0, r1)
		}
	}
	return d
}

// halveRow1 averages 2x2 blocks of one-channel rows r0 and r1 into out. It
// works on eight input bytes of each row at a time (SWAR): the even and odd
// bytes are spread into 16-bit lanes, summed, rounded and packed back. The
// rounding term alternates between 1 and 2 by column so that rounding does not
// brighten the image a little at every pyramid level.
func halveRow1(out, r0, r1 []byte) {
	const (
		lanes = 0x00FF00FF00FF00FF
		round = 0x0002000100020001 // columns 0, 1, 2, 3: +1, +2, +1, +2
	)
	n := len(r0) / 2
	x := 0
	for ; x+4 <= n; x += 4 {
		a := binary.LittleEndian.Uint64(r0[2*x:])
		b := binary.LittleEndian.Uint64(r1[2*x:])
		s := a&lanes + a>>8&lanes + b&lanes + b>>8&lanes + round
		s = s >> 2 & lanes
		binary.LittleEndian.PutUint32(out[x:], uint32(s&0xFF|s>>8&0xFF00|s>>16&0xFF0000|s>>24&0xFF000000))
	}
	for ; x < n; x++ {
		out[x] = uint8((uint(r0[2*x]) + uint(r0[2*x+1]) + uint(r1[2*x]) + uint(r1[2*x+1]) + 1 + uint(x&1)) >> 2)
	}
	if len(out) > n { // odd width: the last column pairs with itself
		out[n] = uint8((uint(r0[2*n]) + uint(r1[2*n]) + 1) >> 1)
	}
}

func halveRow4(out, r0, r1 []byte) {
	w := len(r0) / 4
	n := w / 2
	for x := range n {
		a := r0[8*x : 8*x+8 : 8*x+8]
		b := r1[8*x : 8*x+8 : 8*x+8]
		o := out[4*x : 4*x+4 : 4*x+4]
		r := 1 + uint(x&1)
		o[0] = uint8((uint(a[0]) + uint(a[4]) + uint(b[0]) + uint(b[4]) + r) >> 2)
		o[1] = uint8((uint(a[1]) + uint(a[5]) + uint(b[1]) + uint(b[5]) + r) >> 2)
		o[2] = uint8((uint(a[2]) + uint(a[6]) + uint(b[2]) + uint(b[6]) + r) >> 2)
		o[3] = uint8((uint(a[3]) + uint(a[7]) + uint(b[3]) + uint(b[7]) + r) >> 2)
	}
	if w&1 == 1 {
		a := r0[8*n : 8*n+4]
		b := r1[8*n : 8*n+4]
		o := out[4*n : 4*n+4]
		for c := range 4 {
			o[c] = uint8((uint(a[c]) + uint(b[c]) + 1) >> 1)
		}
	}
}

// pyramid is a plane and its successive halvings, built on demand.
type pyramid struct {
	levels []plane
	// hs, vs: how many luma pixels one sample of level 0 spans (2, 2 for the
	// chroma of a 4:2:0 JPEG).
	hs, vs int
	// full and half, when set, make level 0, or level 1 straight from the
	// decoded image: a source whose level 0 would be much larger than the
	// decoded image (an expanded palette, 4 times) leaves levels empty, and
	// level 0 is only made when a target reads it.
	full, half func() plane
}

// kind says how a source's planes are to be read.
type kind int

const (
	kindYCbCr kind = iota // planes Y, Cb, Cr (full-range JFIF YCbCr, as JPEG and VP8 store it)
	kindGray              // one gray plane
	kindRGBA              // one premultiplied RGBA plane
)

// source is a decoded image reduced to the planes the pipeline works on.
type source struct {
	kind   kind
	w, h   int
	planes []*pyramid
	// alpha is true when some pixel is not fully opaque (kindRGBA only).
	alpha bool
	// fromCMYK is true when the pixels were converted from CMYK: no profile
	// of the source describes them.
	fromCMYK bool
}

// newSource takes over the decoded m (its pixels may be converted in place) as
// a w x h source. A frame smaller than w x h (GIF) is placed on a transparent
// canvas, as browsers show it.
func newSource(m image.Image, w, h int) *source {
	b := m.Bounds()
	if b != image.Rect(0, 0, w, h) {
		return rgbaSource(canvas(m, w, h))
	}
	switch m := m.(type) {
	case *image.YCbCr:
		if s := ycbcrSource(m); s != nil {
			return s
		}
	case *image.Gray:
		return graySource(plane{pix: m.Pix, w: w, h: h, stride: m.Stride, ch: 1})
	case *image.Gray16:
		return graySource(narrow16(m.Pix, m.Stride, w, h, 1))
	case *image.RGBA:
		return rgbaSource(plane{pix: m.Pix, w: w, h: h, stride: m.Stride, ch: 4})
	case *image.RGBA64:
		return rgbaSource(narrow16(m.Pix, m.Stride, w, h, 4))
	case *image.NRGBA:
		return rgbaSource(premultiply(plane{pix: m.Pix, w: w, h: h, stride: m.Stride, ch: 4}))
	case *image.NRGBA64:
		return rgbaSource(premultiply(narrow16(m.Pix, m.Stride, w, h, 4)))
	case *image.CMYK:
		s := rgbaSource(cmykToRGBA(plane{pix: m.Pix, w: w, h: h, stride: m.Stride, ch: 4}))
		s.fromCMYK = true
		return s
	case *image.Paletted:
		return paletteSource(m)
	case *image.NYCbCrA:
		if opaque(m.A, m.AStride, w, h) {
			if s := ycbcrSource(&m.YCbCr); s != nil {
				return s
			}
		}
	}
	return rgbaSource(canvas(m, w, h))
}

// colourSpace is the ICC data colour space of the source's pixels, and so of
// its variants: "GRAY" for a gray source (gray JPEG variants), "RGB " for the
// others, "" for pixels converted from CMYK (described by no profile).
func (s *source) colourSpace() string {
	switch {
	case s.fromCMYK:
		return ""
	case s.kind == kindGray:
		return "GRAY"
	}
	return "RGB "
}

func graySource(p plane) *source {
	return &source{kind: kindGray, w: p.w, h: p.h, planes: []*pyramid{{levels: []plane{p}, hs: 1, vs: 1}}}
}

func rgbaSource(p plane) *source {
	return &source{kind: kindRGBA, w: p.w, h: p.h, alpha: !opaque4(p),
		planes: []*pyramid{{levels: []plane{p}, hs: 1, vs: 1}}}
}

// ycbcrSource keeps the planes of m as they are; nil for a layout it does not
// know.
func ycbcrSource(m *image.YCbCr) *source {
	var hs, vs int
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case image.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	default:
		return nil
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	if m.Rect.Min != (image.Point{}) || len(m.Y) < (h-1)*m.YStride+w || len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw {
		return nil
	}
	return &source{kind: kindYCbCr, w: w, h: h, planes: []*pyramid{
		{levels: []plane{{pix: m.Y, w: w, h: h, stride: m.YStride, ch: 1}}, hs: 1, vs: 1},
		{levels: []plane{{pix: m.Cb, w: cw, h: ch, stride: m.CStride, ch: 1}}, hs: hs, vs: vs},
		{levels: []plane{{pix: m.Cr, w: cw, h: ch, stride: m.CStride, ch: 1}}, hs: hs, vs: vs},
	}}
}

// narrow16 keeps the high byte of each 16-bit sample, in place: the 8-bit
// sample i is written at or before the 16-bit sample it comes from.
func narrow16(pix []byte, stride, w, h, ch int) plane {
	p := plane{pix: pix, w: w, h: h, stride: w * ch, ch: ch}
	for y := range h {
		src := pix[y*stride : y*stride+2*w*ch]
		dst := pix[y*w*ch : (y+1)*w*ch]
		for i := range dst {
			dst[i] = src[2*i]
		}
	}
	return p
}

// premultiply turns non-premultiplied RGBA into premultiplied RGBA in place.
func premultiply(p plane) plane {
	for y := range p.h {
		r := p.row(y)
		for i := 0; i+4 <= len(r); i += 4 {
			px := r[i : i+4 : i+4]
			switch a := uint32(px[3]); a {
			case 255:
			case 0:
				px[0], px[1], px[2] = 0, 0, 0
			default:
				px[0] = uint8((uint32(px[0])*a + 127) / 255)
				px[1] = uint8((uint32(px[1])*a + 127) / 255)
				px[2] = uint8((uint32(px[2])*a + 127) / 255)
			}
		}
	}
	return p
}

// cmykToRGBA converts CMYK samples to opaque RGBA in place.
func cmykToRGBA(p plane) plane {
	for y := range p.h {
		r := p.row(y)
		for i := 0; i+4 <= len(r); i += 4 {
			px := r[i : i+4 : i+4]
			px[0], px[1], px[2] = color.CMYKToRGB(px[0], px[1], px[2], px[3])
			px[3] = 255
		}
	}
	return p
}

// paletteSource is a source of the paletted m, whose level 0 (RGBA, 4
// bytes a pixel) is made only if a target reads it: a large image's
// variants are all made from level 1 or coarser, which is made straight from
// m.
func paletteSource(m *image.Paletted) *source {
	lut := paletteLUT(m.Palette)
	var translucent [256]bool // indices of colours that are not fully opaque
	for i := range lut {
		translucent[i] = lut[i][3] != 255
	}
	alpha := false
	for y := 0; y < m.Rect.Dy() && !alpha; y++ {
		for _, idx := range m.Pix[y*m.Stride : y*m.Stride+m.Rect.Dx()] {
			alpha = alpha || translucent[idx]
		}
	}
	return &source{kind: kindRGBA, w: m.Rect.Dx(), h: m.Rect.Dy(), alpha: alpha, planes: []*pyramid{{hs: 1, vs: 1,
		full: func() plane { return expandPalette(m, &lut) },
		half: func() plane { return halvePalette(m, &lut) },
	}}}
}

// paletteLUT returns the premultiplied RGBA colour of each index; an index
// outside the palette is transparent.
func paletteLUT(p color.Palette) (lut [256][4]byte) {
	for i, c := range p[:min(len(p), 256)] {
		r, g, b, a := c.RGBA()
		lut[i] = [4]byte{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
	}
	return lut
}

// expandPalette returns the premultiplied RGBA pixels of a paletted image.
func expandPalette(m *image.Paletted, lut *[256][4]byte) plane {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	p := newPlane(w, h, 4)
	for y := range h {
		src := m.Pix[y*m.Stride : y*m.Stride+w]
		dst := p.row(y)
		for x, idx := range src {
			copy(dst[4*x:4*x+4], lut[idx][:])
		}
	}
	return p
}

// halvePalette returns halve(expandPalette(m, lut)) without making the
// full-size RGBA plane: each sample the same rounded mean of a 2x2 block.
func halvePalette(m *image.Paletted, lut *[256][4]byte) plane {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	d := newPlane((w+1)/2, (h+1)/2, 4)
	for y := range d.h {
		r0 := m.Pix[2*y*m.Stride : 2*y*m.Stride+w]
		r1 := r0
		if 2*y+1 < h {
			r1 = m.Pix[(2*y+1)*m.Stride : (2*y+1)*m.Stride+w]
		}
		out := d.row(y)
		for x := range w / 2 {
			a, b := &lut[r0[2*x]], &lut[r0[2*x+1]]
			c, e := &lut[r1[2*x]], &lut[r1[2*x+1]]
			r := 1 + uint(x&1) // as halveRow4
			o := out[4*x : 4*x+4 : 4*x+4]
			for k := range 4 {
				o[k] = uint8((uint(a[k]) + uint(b[k]) + uint(c[k]) + uint(e[k]) + r) >> 2)
			}
		}
		if w&1 == 1 { // the last column pairs with itself
			a, c := &lut[r0[w-1]], &lut[r1[w-1]]
			o := out[4*(w/2) : 4*(w/2)+4]
			for k := range 4 {
				o[k] = uint8((uint(a[k]) + uint(c[k]) + 1) >> 1)
			}
		}
	}
	return d
}

// canvas draws m onto a transparent w x h RGBA canvas: the general path for
// image types without a fast one, and for GIF frames smaller than the screen.
func canvas(m image.Image, w, h int) plane {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Rect, m, image.Point{}, draw.Src)
	return plane{pix: dst.Pix, w: w, h: h, stride: dst.Stride, ch: 4}
}

// opaque reports whether every alpha sample of a w x h alpha plane is 255.
func opaque(a []byte, stride, w, h int) bool {
	for y := range h {
		for _, v := range a[y*stride : y*stride+w] {
			if v != 255 {
				return false
			}
		}
	}
	return true
}

// opaque4 reports whether every pixel of an RGBA plane is fully opaque. It
// checks two pixels per 8-byte load.
func opaque4(p plane) bool {
	const alphas = 0xFF000000FF000000
	for y := range p.h {
		r := p.row(y)
		i := 0
		for ; i+8 <= len(r); i += 8 {
			if binary.LittleEndian.Uint64(r[i:])&alphas != alphas {
				return false
			}
		}
		if i < len(r) && r[i+3] != 255 {
			return false
		}
	}
	return true
}
