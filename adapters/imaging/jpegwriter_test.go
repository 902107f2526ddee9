package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"testing"
)

// jpegSpec says which kind of JPEG testJPEG writes: layouts the standard
// library's encoder cannot make (it writes baseline 4:2:0 YCbCr or gray).
type jpegSpec struct {
	comps       int  // 1, 3 (YCbCr) or 4 (CMYK)
	progressive bool // SOF2 with a DC scan and one AC scan per component
	adobe       int  // the Adobe APP14 transform (0: CMYK or RGB), -1 for none
}

var (
	jpegCMYK           = jpegSpec{comps: 4, adobe: 0}
	jpegProgressive444 = jpegSpec{comps: 3, progressive: true, adobe: -1}
)

// testJPEG returns a valid w x h JPEG of spec, every component sampled 1x1
// (4:4:4). Every block is flat (its DC difference and AC coefficients are
// 0), so the file is tiny whatever the size: what the decoder allocates
// depends only on the header, which makes it the worst case per byte.
func testJPEG(t testing.TB, w, h int, spec jpegSpec) []byte {
	t.Helper()
	out := []byte{0xFF, 0xD8}
	seg := func(m byte, payload ...byte) {
		out = append(out, 0xFF, m)
		out = binary.BigEndian.AppendUint16(out, uint16(2+len(payload)))
		out = append(out, payload...)
	}
	if spec.adobe >= 0 {
		seg(0xEE, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(spec.adobe))
	}
	seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(spec.comps)}
	for i := range spec.comps {
		sof = append(sof, byte(i+1), 0x11, 0)
	}
	marker := byte(0xC0)
	if spec.progressive {
		marker = 0xC2
	}
	seg(marker, sof...)
	// DC table 0: one code, "0", for difference category 0.
	seg(0xC4, append([]byte{0x00, 1}, make([]byte, 15+1)...)...)
	// AC table 0: baseline, one code "0" for end of block; progressive, the
	// end-of-band runs EOB0 to EOB14 (symbols 0x00 to 0xE0), 4-bit codes
	// equal to their run class.
	if spec.progressive {
		ac := []byte{0x10, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		for r := range 15 {
			ac = append(ac, byte(r<<4))
		}
		seg(0xC4, ac...)
	} else {
		seg(0xC4, append([]byte{0x10, 1}, make([]byte, 15+1)...)...)
	}
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	var bw jpegBitWriter
	sos := func(ss, se byte, comps ...int) {
		p := []byte{byte(len(comps))}
		for _, c := range comps {
			p = append(p, byte(c+1), 0x00)
		}
		seg(0xDA, append(p, ss, se, 0)...)
	}
	all := make([]int, spec.comps)
	for i := range all {
		all[i] = i
	}
	if !spec.progressive {
		sos(0, 63, all...)
		bw.zeros(2 * blocks * spec.comps) // per block: DC "0", EOB "0"
		out = bw.flush(out)
	} else {
		sos(0, 0, all...)
		bw.zeros(blocks * spec.comps)
		out = bw.flush(out)
		for _, c := range all {
			sos(1, 63, c)
			for left := blocks; left > 0; {
				n := min(left, 1<<15-1)
				r := 0
				for 1<<(r+1) <= n {
					r++
				}
				bw.bits(uint32(r), 4)
				bw.bits(uint32(n-1<<r), r)
				left -= n
			}
			out = bw.flush(out)
		}
	}
	return append(out, 0xFF, 0xD9)
}

// jpegBitWriter writes entropy-coded data, most significant bit first.
type jpegBitWriter struct {
	buf []byte
	acc uint64
	n   int
}

// zeros writes n zero bits (whole bytes at once, for large images).
func (w *jpegBitWriter) zeros(n int) {
	for n > 0 && w.n != 0 {
		w.bits(0, 1)
		n--
	}
	w.buf = append(w.buf, make([]byte, n/8)...)
	w.bits(0, n%8)
}

func (w *jpegBitWriter) bits(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | uint64(v>>i&1)
		w.n++
		if w.n == 8 {
			w.emit(byte(w.acc))
			w.acc, w.n = 0, 0
		}
	}
}

func (w *jpegBitWriter) emit(b byte) {
	w.buf = append(w.buf, b)
	if b == 0xFF {
		w.buf = append(w.buf, 0) // byte stuffing
	}
}

// flush pads the last byte with 1 bits and appends the data to out.
func (w *jpegBitWriter) flush(out []byte) []byte {
	if w.n > 0 {
		w.bits(1<<(8-w.n)-1, 8-w.n)
	}
	out = append(out, w.buf...)
	w.buf = w.buf[:0]
	return out
}

// The hand-made fixtures of the memory measurement decode to what they
// claim, at small sizes.
func TestHandMadeFixturesDecode(t *testing.T) {
	skipUnderRace(t)
	for _, c := range []struct {
		name string
		data []byte
		want string
		w, h int
	}{
		{"cmyk jpeg", testJPEG(t, 37, 21, jpegCMYK), "*image.CMYK", 37, 21},
		{"progressive 4:4:4 jpeg", testJPEG(t, 37, 21, jpegProgressive444), "*image.YCbCr YCbCrSubsampleRatio444", 37, 21},
		{"progressive jpeg, long runs", testJPEG(t, 2100, 1100, jpegProgressive444), "*image.YCbCr YCbCrSubsampleRatio444", 2100, 1100},
		{"baseline gray jpeg", testJPEG(t, 9, 9, jpegSpec{comps: 1, adobe: -1}), "*image.Gray", 9, 9},
		{"rgb png", rawPNG(t, 31, 17, 2, 8, false), "*image.RGBA", 31, 17},
		{"rgba16 png", rawPNG(t, 31, 17, 6, 16, false), "*image.NRGBA64", 31, 17},
		{"interlaced rgba16 png", rawPNG(t, 31, 17, 6, 16, true), "*image.NRGBA64", 31, 17},
		{"flat lossless webp", flatLosslessWebP(1500, 9), "*image.NRGBA", 1500, 9},
	} {
		m, format, err := image.Decode(bytes.NewReader(c.data))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := fmt.Sprintf("%T", m)
		if y, ok := m.(*image.YCbCr); ok {
			got += " " + y.SubsampleRatio.String()
		}
		if got != c.want || m.Bounds() != image.Rect(0, 0, c.w, c.h) {
			t.Errorf("%s: %s %v, want %s %dx%d", c.name, got, m.Bounds(), c.want, c.w, c.h)
		}
		if _, err := New(Config{}).MakeVariants(t.Context(), bytes.NewReader(c.data), "image/"+format, 0); err != nil {
			t.Errorf("%s: MakeVariants: %v", c.name, err)
		}
	}
}
