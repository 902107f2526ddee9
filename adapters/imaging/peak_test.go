package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The peak memory of MakeVariants on the worst inputs the default limits let
// in (10 MiB, 40 megapixels), each measured in a fresh process so that one
// input's heap does not hide another's. It is a measurement, not a test, so
// it runs only when asked:
//
//	CLOUDPOST_PEAK_MEMORY=1 go test -run '^TestPeakMemoryTable$' -v -timeout 30m ./adapters/imaging/
//
// It prints a table of the peak resident set size (VmHWM) of a process that
// processes one copy of each input, and two copies at once (as two media
// workers would), with the default Config. The Go runtime's settings apply:
// set GOMEMLIMIT (or GOGC) in the environment to see their effect. The
// fixtures are made once, in $CLOUDPOST_PEAK_DIR (default: a directory under
// the system's temporary directory), and reused.
func TestPeakMemoryTable(t *testing.T) {
	if os.Getenv("CLOUDPOST_PEAK_MEMORY") == "" {
		t.Skip("a measurement: set CLOUDPOST_PEAK_MEMORY=1 to run it")
	}
	skipUnderRace(t)
	dir := os.Getenv("CLOUDPOST_PEAK_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cloudpost-peak-fixtures-v1")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, in := range peakInputs {
		path := filepath.Join(dir, in.file)
		if _, err := os.Stat(path); err != nil {
			start := time.Now()
			data := in.make(t)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("made %s (%d bytes) in %v", in.file, len(data), time.Since(start).Round(time.Millisecond))
		}
		one := peakChild(t, path, in.ct, 1)
		two := peakChild(t, path, in.ct, 2)
		rows = append(rows, fmt.Sprintf("| %s | %.1f | %s | %s | %s | %s |", in.name, float64(one.size)/(1<<20),
			mib(one.estimate), mib(one.hwm), mib(one.hwm-one.base), mib(two.hwm)))
	}
	t.Logf("GOMEMLIMIT=%q GOGC=%q GOMAXPROCS=%d\n"+
		"| input | file MiB | estimate MiB | peak RSS MiB | above baseline MiB | two at once, peak RSS MiB |\n"+
		"|---|---|---|---|---|---|\n%s", os.Getenv("GOMEMLIMIT"), os.Getenv("GOGC"), runtime.GOMAXPROCS(0), strings.Join(rows, "\n"))
}

func mib(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt((n+1<<19)>>20, 10)
}

// peakResult is what a child process measured.
type peakResult struct {
	size, estimate, base, hwm int64
}

// peakChild runs TestPeakMemoryChild in a new process on the file at path.
func peakChild(t *testing.T, path, ct string, copies int) peakResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("CLOUDPOST_PEAK_CHILD=%s|%s|%d", path, ct, copies))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child on %s: %v\n%s", path, err, out)
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "PEAKRSS" {
			var r peakResult
			for i, p := range []*int64{&r.size, &r.estimate, &r.base, &r.hwm} {
				if *p, err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
					t.Fatal(err)
				}
			}
			return r
		}
	}
	t.Fatalf("child on %s printed no result:\n%s", path, out)
	return peakResult{}
}

// TestPeakMemoryChild is the measuring side of TestPeakMemoryTable: it runs
// only in the processes that test starts.
func TestPeakMemoryChild(t *testing.T) {
	arg := os.Getenv("CLOUDPOST_PEAK_CHILD")
	if arg == "" {
		t.Skip("run by TestPeakMemoryTable")
	}
	parts := strings.Split(arg, "|")
	path, ct := parts[0], parts[1]
	copies, _ := strconv.Atoi(parts[2])
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	est := peakEstimate(data, ct)
	runtime.GC()
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	base := procStatus(t, "VmRSS:")
	p := New(Config{})
	var wg sync.WaitGroup
	errs := make([]error, copies)
	for i := range copies {
		wg.Go(func() {
			_, errs[i] = p.MakeVariants(context.Background(), bytes.NewReader(data), ct, 0)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("PEAKRSS %d %d %d %d\n", len(data), est, base, procStatus(t, "VmHWM:"))
}

// procStatus returns a field of /proc/self/status in bytes.
func procStatus(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// peakInput is one input of TestPeakMemoryTable.
type peakInput struct {
	name, file, ct string
	make           func(t testing.TB) []byte
}

// The largest images are 8000x5000, exactly the default pixel limit, with
// smooth content so that the files stay under the default byte limit: what
// a decoder allocates depends on the header, not on the content.
const peakW, peakH = 8000, 5000

var peakInputs = []peakInput{
	{"jpeg 12 MP photo (4000x3000, 4:2:0, q90)", "photo-12mp.jpg", "image/jpeg", func(t testing.TB) []byte { return jpeg12MP(t) }},
	{"png 10 MiB photo (2720x2040 RGB)", "photo-10mib.png", "image/png", func(t testing.TB) []byte { return png10MiB(t) }},
	{"jpeg 40 MP baseline 4:2:0", "40mp-420.jpg", "image/jpeg", func(t testing.TB) []byte {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, smoothRGBA(peakW, peakH), &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}},
	{"jpeg 40 MP progressive 4:4:4", "40mp-444-progressive.jpg", "image/jpeg", func(t testing.TB) []byte {
		return testJPEG(t, peakW, peakH, jpegProgressive444)
	}},
	{"jpeg 40 MP CMYK", "40mp-cmyk.jpg", "image/jpeg", func(t testing.TB) []byte { return testJPEG(t, peakW, peakH, jpegCMYK) }},
	{"png 40 MP RGB 8-bit", "40mp-rgb8.png", "image/png", func(t testing.TB) []byte { return rawPNG(t, peakW, peakH, 2, 8, false) }},
	{"png 40 MP RGBA 16-bit", "40mp-rgba16.png", "image/png", func(t testing.TB) []byte { return rawPNG(t, peakW, peakH, 6, 16, false) }},
	{"png 40 MP RGBA 16-bit interlaced", "40mp-rgba16-interlaced.png", "image/png", func(t testing.TB) []byte {
		return rawPNG(t, peakW, peakH, 6, 16, true)
	}},
	{"gif 40 MP", "40mp.gif", "image/gif", func(t testing.TB) []byte {
		m := image.NewPaletted(image.Rect(0, 0, peakW, peakH), palette256())
		for y := range peakH {
			row := m.Pix[y*m.Stride : y*m.Stride+peakW]
			for x := range row {
				row[x] = uint8(x/64 + y/64)
			}
		}
		var buf bytes.Buffer
		if err := gif.Encode(&buf, m, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}},
	{"webp 40 MP lossless", "40mp-lossless.webp", "image/webp", func(t testing.TB) []byte { return flatLosslessWebP(peakW, peakH) }},
}

// smoothRGBA is an opaque w x h image of gradients and soft waves.
func smoothRGBA(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		for x := range w {
			px := row[4*x : 4*x+4 : 4*x+4]
			px[0] = uint8(x * 255 / w)
			px[1] = uint8(y * 255 / h)
			px[2] = uint8(128 + 60*((x/200+y/200)%2))
			px[3] = 255
		}
	}
	return m
}

// rawPNG writes a w x h PNG of colour type colour (2: RGB, 6: RGBA) and
// bit depth depth (8 or 16), Adam7-interlaced when asked (which the
// standard encoder cannot write), of linear gradients: with the Sub filter
// every row compresses to almost nothing.
func rawPNG(t testing.TB, w, h int, colour, depth byte, interlaced bool) []byte {
	t.Helper()
	channels := map[byte]int{2: 3, 6: 4}[colour]
	bpp := channels * int(depth) / 8
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	// Adam7: x0, y0, dx, dy of each pass; one pass of the whole image when
	// not interlaced.
	passes := [][4]int{{0, 0, 1, 1}}
	if interlaced {
		passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for _, p := range passes {
		pw := (w - p[0] + p[2] - 1) / p[2]
		if pw <= 0 {
			continue
		}
		row := make([]byte, 1+pw*bpp)
		for y := p[1]; y < h; y += p[3] {
			row[0] = 1 // Sub: each byte less the one a pixel before
			prev := make([]byte, bpp)
			for i := range pw {
				x := p[0] + i*p[2]
				for c := range channels {
					v := uint16(x*7 + y*3 + c*4000)
					if c == 3 {
						v = 0xFFFF - uint16(y)
					}
					px := []byte{byte(v >> 8)}
					if depth == 16 {
						px = append(px, byte(v))
					}
					for k, b := range px {
						at := c*len(px) + k
						row[1+i*bpp+at] = b - prev[at]
						prev[at] = b
					}
				}
			}
			if _, err := zw.Write(row); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	il := byte(0)
	if interlaced {
		il = 1
	}
	ihdr = append(ihdr, depth, colour, 0, 0, il)
	chunk := func(out []byte, typ string, data []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	out := chunk([]byte("\x89PNG\r\n\x1a\n"), "IHDR", ihdr)
	out = chunk(out, "IDAT", z.Bytes())
	return chunk(out, "IEND", nil)
}

// flatLosslessWebP returns a w x h lossless WebP (VP8L) of one colour: the
// first row as literals, the rest as copies of the row above (4096 pixels
// at a time), a few kilobytes for any size.
func flatLosslessWebP(w, h int) []byte {
	var bw webpBits
	bw.write(0x2f, 8)
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(0, 1) // alpha not used
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	// Green and lengths: the literal 128 (code "0") and the length prefixes
	// 22 and 23 (codes "10" and "11"), as code lengths 1, 2, 2 for symbols
	// 128, 256+22 and 256+23. The code-length code: lengths 0, 1 and 2 with
	// codes "0", "10", "11"; its code lengths are sent in the order 17, 18,
	// 0, 1, 2: five of them.
	bw.write(0, 1)
	bw.write(5-4, 4)
	for _, l := range []uint32{0, 0, 1, 2, 2} {
		bw.write(l, 3)
	}
	bw.write(0, 1) // lengths for the whole alphabet
	for s := range 256 + 24 {
		switch s {
		case 128:
			bw.code(0b10, 2) // length 1
		case 256 + 22, 256 + 23:
			bw.code(0b11, 2) // length 2
		default:
			bw.code(0b0, 1) // length 0
		}
	}
	// Red, blue, alpha and distance: simple codes of one symbol (no bits per
	// use): red 40, blue 200, alpha 255, distance prefix 0 (distance code 1:
	// the pixel above).
	for _, sym := range []uint32{40, 200, 255, 0} {
		bw.write(1, 1) // simple
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // of 8 bits
		bw.write(sym, 8)
	}
	for range w {
		bw.code(0b0, 1) // literal: green 128, the rest implied
	}
	// Copies: length prefix 23 (4096 = 3072 + 1023 + 1: 10 extra bits) or 22
	// (2049 to 3072) then the remainder, each from one row up.
	left := w * (h - 1)
	for left > 0 {
		n := min(left, 4096)
		if n > 2048 {
			prefix, offset := uint32(22), 2048
			if n > 3072 {
				prefix, offset = 23, 3072
			}
			bw.code(0b10|(prefix-22), 2)
			bw.write(uint32(n-1-offset), 10)
		} else { // a short last copy: made of literals instead
			for range n {
				bw.code(0b0, 1)
			}
		}
		left -= n
	}
	data := bw.bytes()
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	if len(data)%2 == 1 {
		chunk = append(chunk, 0)
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}

// webpBits writes a VP8L bitstream: values least significant bit first,
// prefix codes most significant bit first.
type webpBits struct {
	buf []byte
	acc uint64
	n   uint
}

func (b *webpBits) write(v uint32, n uint) {
	b.acc |= uint64(v) << b.n
	b.n += n
	for b.n >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

func (b *webpBits) code(c uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		b.write(c>>i&1, 1)
	}
}

func (b *webpBits) bytes() []byte {
	if b.n > 0 {
		return append(b.buf, byte(b.acc))
	}
	return b.buf
}
