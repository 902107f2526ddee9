package imaging

import (
	"bytes"
	"encoding/binary"
	"image"
)

// estimate returns the memory, in bytes, that MakeVariants will need for the
// image in data (whose header cfg has been checked): the encoded input, what
// the decoder allocates for this format, colour model and layout, what the
// source adds when it cannot take the decoded pixels over in place, the
// pyramid, the variants and the encoders. It reads only headers. It errs on
// the high side (garbage the decoder leaves, such as progressive JPEG
// coefficients or the passes of an interlaced PNG, is counted, as it stays
// in memory until the collector runs), since it decides how many images are
// decoded at once.
func estimate(f *format, data []byte, cfg image.Config) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	px := w * h
	var decoded, source, level0 int64
	// Bytes per variant pixel: its planes (1.5 for YCbCr, 4 for RGBA), the
	// oriented copy, and the encoded file with the buffer it grows in (a PNG
	// of a photo is nearly as large as its pixels).
	perOut := int64(10)
	switch f.contentType {
	case "image/jpeg":
		decoded, level0 = jpegCost(data, cfg)
		perOut = 4
	case "image/png":
		decoded, source, level0 = pngCost(data, cfg)
	case "image/gif":
		// The frame (1 byte a pixel, at most the screen) and the expanded
		// palette, or the RGBA canvas of a frame smaller than the screen
		// (which the header read does not tell).
		decoded, source, level0 = px, 4*px, 4*px
	case "image/webp":
		decoded, source, level0 = webpCost(data, px)
	}
	// Pyramid levels 1 and up add a third of level 0 at most.
	pyramid := level0 / 3
	var outputs int64
	for _, t := range targets(cfg.Width, cfg.Height, orientNormal) {
		outputs += int64(t.dw) * int64(t.dh) * perOut
	}
	// The encoders' own state (a deflate compressor is about 1 MiB).
	const encoders = 4 << 20
	return int64(len(data)) + decoded + source + pyramid + outputs + encoders
}

// jpegCost returns what the standard JPEG decoder allocates for the image in
// data, and the size of the planes the pipeline reads. It allocates planes
// rounded up to whole MCUs; a progressive file also keeps every component's
// DCT coefficients, 4 bytes a sample, until the end; a 4-component (CMYK or
// YCCK) file has a fourth plane and is converted to a new RGBA or CMYK image
// of 4 bytes a pixel, as is a 3-component RGB (not YCbCr) one.
func jpegCost(data []byte, cfg image.Config) (decoded, level0 int64) {
	h := parseJPEGHeader(data)
	if h.comps == nil || h.width != cfg.Width || h.height != cfg.Height {
		// Not understood: assume the costliest layout of that size, a
		// progressive 4:4:4 CMYK image.
		px := int64(cfg.Width) * int64(cfg.Height)
		return px * (4 + 4*4 + 4), 4 * px
	}
	h0, v0 := h.comps[0].h, h.comps[0].v
	if len(h.comps) == 1 {
		h0, v0 = 1, 1 // the decoder ignores the sampling of a single component
	}
	mxx := int64((h.width + 8*h0 - 1) / (8 * h0))
	myy := int64((h.height + 8*v0 - 1) / (8 * v0))
	for i, c := range h.comps {
		ch, cv := c.h, c.v
		if len(h.comps) == 1 {
			ch, cv = 1, 1
		}
		if i == 1 || i == 2 {
			// The decoder sizes both chroma planes from the first one's
			// subsampling ratio.
			ch, cv = h.comps[1].h, h.comps[1].v
		}
		samples := 64 * mxx * myy * int64(ch) * int64(cv)
		decoded += samples
		if h.progressive {
			decoded += 4 * samples
		}
	}
	px := int64(h.width) * int64(h.height)
	switch {
	case len(h.comps) == 4, len(h.comps) == 3 && h.rgb():
		decoded += 4 * px
		return decoded, 4 * px
	case len(h.comps) == 1:
		return decoded, px
	}
	hr, vr := h0/max(h.comps[1].h, 1), v0/max(h.comps[1].v, 1)
	return decoded, px + 2*px/int64(max(hr*vr, 1))
}

// jpegHeader is what the memory estimate needs from a JPEG's header.
type jpegHeader struct {
	width, height  int
	progressive    bool
	comps          []struct{ id, h, v int }
	jfif           bool
	adobe          bool
	adobeTransform byte
}

// rgb reports whether the standard decoder reads a 3-component file as RGB
// rather than YCbCr (and so converts it to RGBA).
func (h jpegHeader) rgb() bool {
	switch {
	case h.jfif:
		return false
	case h.adobe && h.adobeTransform == 0:
		return true
	}
	return h.comps[0].id == 'R' && h.comps[1].id == 'G' && h.comps[2].id == 'B'
}

// parseJPEGHeader reads the frame header (SOF0 to SOF2, as the standard
// decoder) and the JFIF and Adobe markers before the first scan. comps is
// nil when there is no usable frame header.
func parseJPEGHeader(b []byte) (h jpegHeader) {
	jpegWalk(b, func(m byte, seg []byte) bool {
		switch {
		case m == 0xE0 && bytes.HasPrefix(seg, []byte("JFIF\x00")):
			h.jfif = true
		case m == 0xEE && len(seg) >= 12 && bytes.HasPrefix(seg, []byte("Adobe")):
			h.adobe, h.adobeTransform = true, seg[11]
		case m >= 0xC0 && m <= 0xC2:
			if len(seg) < 6 {
				return false
			}
			n := int(seg[5])
			if (n != 1 && n != 3 && n != 4) || len(seg) < 6+3*n {
				return false
			}
			h.progressive = m == 0xC2
			h.height = int(binary.BigEndian.Uint16(seg[1:]))
			h.width = int(binary.BigEndian.Uint16(seg[3:]))
			for i := range n {
				c := seg[6+3*i:]
				hv := struct{ id, h, v int }{int(c[0]), int(c[1] >> 4), int(c[1] & 15)}
				if hv.h < 1 || hv.v < 1 || hv.h > 4 || hv.v > 4 {
					return false
				}
				h.comps = append(h.comps, hv)
			}
		}
		return true
	})
	return h
}

// pngCost returns what the standard PNG decoder allocates for the image in
// data, what the source adds and the size of level 0. The decoded image has
// 1 byte a pixel (gray, paletted), 2 (16-bit gray), 4 (RGB, gray with alpha
// or transparency key, RGBA) or 8 (the same at 16 bits: the pipeline narrows
// them in place); an interlaced image is decoded pass by pass into images of
// their own, together as large as the whole. A paletted image is expanded to
// RGBA, at full size or, when no variant reads that, at half size.
func pngCost(data []byte, cfg image.Config) (decoded, source, level0 int64) {
	px := int64(cfg.Width) * int64(cfg.Height)
	depth, colour, interlaced := byte(8), byte(6), false
	trns := false
	pngWalk(data, func(typ string, d []byte, _ func() bool) bool {
		switch typ {
		case "IHDR":
			if len(d) >= 13 {
				depth, colour, interlaced = d[8], d[9], d[12] != 0
			}
		case "tRNS":
			trns = true
		case "IDAT":
			return false
		}
		return true
	})
	bpp := int64(4)
	switch {
	case colour == 3:
		bpp = 1
	case colour == 0 && !trns:
		bpp = 1
	}
	if depth == 16 {
		bpp *= 2
	}
	decoded = bpp * px
	if interlaced {
		decoded *= 2
	}
	switch {
	case colour == 3: // the palette is expanded to RGBA
		return decoded, paletteLevel(cfg), paletteLevel(cfg)
	case colour == 0 && !trns: // gray, 8 or 16 bits, narrowed in place
		return decoded, 0, px
	}
	return decoded, 0, 4 * px
}

// paletteLevel is the size of the finest RGBA level a paletted image's
// variants read: level 0, 4 bytes a pixel, or, when no variant reads it,
// level 1, made straight from the palette indices (see paletteSource).
func paletteLevel(cfg image.Config) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	for _, t := range targets(cfg.Width, cfg.Height, orientNormal) {
		if pyramidLevel(t.ww, t.wh, t.dw, t.dh) == 0 {
			return 4 * w * h
		}
	}
	return 4 * ((w + 1) / 2) * ((h + 1) / 2)
}

// webpCost returns what the WebP decoder allocates for a px-pixel image, what
// the source adds and the size of level 0: a lossy image is YCbCr 4:2:0
// (1.5 bytes a pixel) plus, with an alpha channel, 1 byte a pixel (and the 4
// of an RGBA image when the alpha is compressed losslessly) and the RGBA
// canvas the pipeline draws it on; a lossless image is RGBA, 4 bytes a pixel,
// plus as much again when a colour-indexing transform bundles pixels.
func webpCost(data []byte, px int64) (decoded, source, level0 int64) {
	lossless, alpha, alphaCompressed := false, false, false
	webpWalk(data, func(fourCC string, d []byte) bool {
		switch fourCC {
		case "VP8L":
			lossless = true
			return false
		case "VP8 ":
			return false
		case "ALPH":
			alpha = true
			alphaCompressed = len(d) > 0 && d[0]&3 != 0
		}
		return true
	})
	switch {
	case lossless:
		return 8 * px, 0, 4 * px
	case !alpha:
		return 3 * px / 2, 0, 3 * px / 2
	}
	decoded = 3*px/2 + px
	if alphaCompressed {
		decoded += 4 * px
	}
	return decoded, 4 * px, 4 * px
}
