package porttest

import (
	"encoding/binary"
	"image"
	"image/color"
)

// ImagesLosslessWebP encodes m as a lossless WebP (VP8L) file, so that tests
// can make WebP inputs with the standard library alone (it has no WebP
// encoder). The bitstream is the simplest valid one: no transforms, no colour
// cache, every channel coded with fixed 8-bit prefix codes, so files are about
// 4 bytes per pixel; meant for small test images (sides up to 16384).
func ImagesLosslessWebP(m image.Image) []byte {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	var bw imagesBitWriter
	bw.write(0x2f, 8) // VP8L signature
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(1, 1) // alpha is used (a hint only)
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes: one group for the whole image
	// Green (with the 24 length codes), red, blue and alpha: every literal gets
	// code length 8, so a literal's code is its own value.
	for _, alphabet := range []int{256 + 24, 256, 256, 256} {
		bw.write(0, 1) // normal (not simple) code
		// Code length code: lengths 0 and 8 only, each coded with one bit.
		// Its lengths are sent in the order 17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8:
		// twelve of them, so 8 is the last.
		bw.write(12-4, 4)
		for i := range 12 {
			if i == 2 || i == 11 { // symbols 0 and 8
				bw.write(1, 3)
			} else {
				bw.write(0, 3)
			}
		}
		bw.write(0, 1) // code lengths for the whole alphabet follow
		for s := range alphabet {
			if s < 256 {
				bw.write(1, 1) // length 8 (canonical code 1)
			} else {
				bw.write(0, 1) // length 0 (canonical code 0)
			}
		}
	}
	// Distance code: simple, one symbol (never used).
	bw.write(1, 1)
	bw.write(0, 1)
	bw.write(0, 1)
	bw.write(0, 1)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			for _, v := range []uint8{c.G, c.R, c.B, c.A} {
				bw.code8(v)
			}
		}
	}
	return ImagesRIFF(ImagesWebPChunk("VP8L", bw.bytes()))
}

// ImagesWebPChunk returns a RIFF chunk: its four-character code, its
// little-endian length, the data and a pad byte when the length is odd.
func ImagesWebPChunk(fourCC string, data []byte) []byte {
	out := make([]byte, 8, 8+len(data)+1)
	copy(out, fourCC)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// ImagesRIFF wraps WebP chunks in the RIFF/WEBP file header.
func ImagesRIFF(chunks ...[]byte) []byte {
	out := []byte("RIFF\x00\x00\x00\x00WEBP")
	for _, c := range chunks {
		out = append(out, c...)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// imagesBitWriter writes a VP8L bitstream: least significant bit first.
type imagesBitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (w *imagesBitWriter) write(v uint32, n uint) {
	w.acc |= uint64(v) << w.n
	w.n += n
	for w.n >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// code8 writes an 8-bit prefix code, whose first bit in the stream is its
// most significant one.
func (w *imagesBitWriter) code8(v uint8) {
	for i := 7; i >= 0; i-- {
		w.write(uint32(v>>i)&1, 1)
	}
}

func (w *imagesBitWriter) bytes() []byte {
	if w.n > 0 {
		return append(w.buf, byte(w.acc))
	}
	return w.buf
}
