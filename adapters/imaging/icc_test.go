package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/ports/porttest"
)

// --- a small ICC interpreter, for tests only ---

// iccModel is a matrix/TRC ICC profile (RGB or gray): enough to turn 8-bit
// device values into CIE colours the way a colour-managed viewer does.
type iccModel struct {
	gray   bool
	matrix [3][3]float64 // linear RGB to connection-space XYZ (D50); columns rXYZ, gXYZ, bXYZ
	trc    [3]func(float64) float64
}

// parseICCModel reads the colorant and tone curve tags of a matrix/TRC
// profile (curves of type 'curv' or 'para').
func parseICCModel(t testing.TB, p []byte) iccModel {
	t.Helper()
	be := binary.BigEndian
	if len(p) < 132 || int(be.Uint32(p)) != len(p) || string(p[36:40]) != "acsp" {
		t.Fatalf("not an ICC profile (%d bytes)", len(p))
	}
	tags := map[string][]byte{}
	n := int(be.Uint32(p[128:]))
	for k := range n {
		e := p[132+12*k:]
		off, size := int(be.Uint32(e[4:])), int(be.Uint32(e[8:]))
		tags[string(e[:4])] = p[off : off+size]
	}
	s15 := func(b []byte) float64 { return float64(int32(be.Uint32(b))) / 65536 }
	curve := func(sig string) func(float64) float64 {
		d, ok := tags[sig]
		if !ok {
			t.Fatalf("profile without %s", sig)
		}
		switch string(d[:4]) {
		case "curv":
			cnt := int(be.Uint32(d[8:]))
			switch cnt {
			case 0:
				return func(x float64) float64 { return x }
			case 1:
				g := float64(be.Uint16(d[12:])) / 256
				return func(x float64) float64 { return math.Pow(x, g) }
			}
			table := make([]float64, cnt)
			for i := range table {
				table[i] = float64(be.Uint16(d[12+2*i:])) / 65535
			}
			return func(x float64) float64 {
				f := x * float64(cnt-1)
				i := min(int(f), cnt-2)
				return table[i] + (f-float64(i))*(table[i+1]-table[i])
			}
		case "para":
			typ := be.Uint16(d[8:])
			var g [7]float64
			for i := range [...]int{1, 3, 4, 5, 7}[typ] {
				g[i] = s15(d[12+4*i:])
			}
			return func(x float64) float64 {
				a, b, c, dd, e, f := g[1], g[2], g[3], g[4], g[5], g[6]
				switch typ {
				case 0:
					return math.Pow(x, g[0])
				case 1:
					if x >= -b/a {
						return math.Pow(a*x+b, g[0])
					}
					return 0
				case 2:
					if x >= -b/a {
						return math.Pow(a*x+b, g[0]) + c
					}
					return c
				case 3:
					if x >= dd {
						return math.Pow(a*x+b, g[0])
					}
					return c * x
				default:
					if x >= dd {
						return math.Pow(a*x+b, g[0]) + e
					}
					return c*x + f
				}
			}
		}
		t.Fatalf("%s has type %q", sig, d[:4])
		return nil
	}
	m := iccModel{gray: string(p[16:20]) == "GRAY"}
	if m.gray {
		m.trc[0] = curve("kTRC")
		// A gray profile maps to the connection-space white's chromaticity.
		for r, v := range d50 {
			m.matrix[r][0] = v
		}
		return m
	}
	for c, sig := range []string{"rXYZ", "gXYZ", "bXYZ"} {
		d, ok := tags[sig]
		if !ok || string(d[:4]) != "XYZ " {
			t.Fatalf("profile without an XYZ %s", sig)
		}
		for r := range 3 {
			m.matrix[r][c] = s15(d[8+4*r:])
		}
	}
	for c, sig := range []string{"rTRC", "gTRC", "bTRC"} {
		m.trc[c] = curve(sig)
	}
	return m
}

// d50 is the ICC connection-space white.
var d50 = [3]float64{0.9642, 1.0, 0.8249}

// lab returns the CIE L*a*b* (D50) of the 8-bit device colour c.
func (m iccModel) lab(c [3]float64) [3]float64 {
	var lin [3]float64
	if m.gray {
		lin[0] = m.trc[0](c[0] / 255)
	} else {
		for i := range 3 {
			lin[i] = m.trc[i](c[i] / 255)
		}
	}
	var xyz [3]float64
	for r := range 3 {
		xyz[r] = m.matrix[r][0]*lin[0] + m.matrix[r][1]*lin[1] + m.matrix[r][2]*lin[2]
	}
	f := func(v float64) float64 {
		if v > 216.0/24389 {
			return math.Cbrt(v)
		}
		return (24389.0/27*v + 16) / 116
	}
	fx, fy, fz := f(xyz[0]/d50[0]), f(xyz[1]/d50[1]), f(xyz[2]/d50[2])
	return [3]float64{116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)}
}

// deltaE2000 is the CIEDE2000 colour difference of two L*a*b* colours
// (Sharma, Wu and Dalal's formulation): about 1 is a just noticeable
// difference.
func deltaE2000(x, y [3]float64) float64 {
	rad, deg := math.Pi/180, 180/math.Pi
	c1, c2 := math.Hypot(x[1], x[2]), math.Hypot(y[1], y[2])
	cm := (c1 + c2) / 2
	g := 0.5 * (1 - math.Sqrt(math.Pow(cm, 7)/(math.Pow(cm, 7)+math.Pow(25, 7))))
	a1, a2 := (1+g)*x[1], (1+g)*y[1]
	c1p, c2p := math.Hypot(a1, x[2]), math.Hypot(a2, y[2])
	hue := func(b, a float64) float64 {
		if a == 0 && b == 0 {
			return 0
		}
		h := math.Atan2(b, a) * deg
		if h < 0 {
			h += 360
		}
		return h
	}
	h1, h2 := hue(x[2], a1), hue(y[2], a2)
	dL, dC := y[0]-x[0], c2p-c1p
	dh := 0.0
	if c1p*c2p != 0 {
		dh = h2 - h1
		switch {
		case dh > 180:
			dh -= 360
		case dh < -180:
			dh += 360
		}
	}
	dH := 2 * math.Sqrt(c1p*c2p) * math.Sin(dh/2*rad)
	lm, cpm := (x[0]+y[0])/2, (c1p+c2p)/2
	hm := h1 + h2
	if c1p*c2p != 0 {
		switch {
		case math.Abs(h1-h2) <= 180:
			hm /= 2
		case h1+h2 < 360:
			hm = (hm + 360) / 2
		default:
			hm = (hm - 360) / 2
		}
	}
	tt := 1 - 0.17*math.Cos((hm-30)*rad) + 0.24*math.Cos(2*hm*rad) + 0.32*math.Cos((3*hm+6)*rad) - 0.20*math.Cos((4*hm-63)*rad)
	dTheta := 30 * math.Exp(-math.Pow((hm-275)/25, 2))
	rc := 2 * math.Sqrt(math.Pow(cpm, 7)/(math.Pow(cpm, 7)+math.Pow(25, 7)))
	sl := 1 + 0.015*(lm-50)*(lm-50)/math.Sqrt(20+(lm-50)*(lm-50))
	sc := 1 + 0.045*cpm
	sh := 1 + 0.015*cpm*tt
	rt := -math.Sin(2*dTheta*rad) * rc
	return math.Sqrt(math.Pow(dL/sl, 2) + math.Pow(dC/sc, 2) + math.Pow(dH/sh, 2) + rt*(dC/sc)*(dH/sh))
}

// The interpreter and the colour difference themselves, against published
// values: the CIEDE2000 test data of Sharma, Wu and Dalal (2005), and sRGB
// white, red and a gray through the sRGB profile.
func TestICCInterpreter(t *testing.T) {
	for _, c := range []struct {
		x, y [3]float64
		want float64
	}{
		{[3]float64{50, 2.6772, -79.7751}, [3]float64{50, 0, -82.7485}, 2.0425},
		{[3]float64{50, -1.3802, -84.2814}, [3]float64{50, 0, -82.7485}, 1.0},
		{[3]float64{50, 2.5, 0}, [3]float64{56, -27, -3}, 31.9030},
		{[3]float64{60.2574, -34.0099, 36.2677}, [3]float64{60.4626, -34.1751, 39.4387}, 1.2644},
		{[3]float64{22.7233, 20.0904, -46.6940}, [3]float64{23.0331, 14.9730, -42.5619}, 2.0373},
	} {
		if got := deltaE2000(c.x, c.y); math.Abs(got-c.want) > 1e-4 {
			t.Errorf("ΔE00(%v, %v) = %.4f, want %.4f", c.x, c.y, got, c.want)
		}
	}
	srgb := parseICCModel(t, porttest.ImagesSRGBProfile())
	for _, c := range []struct {
		rgb, lab [3]float64
		tol      float64
	}{
		{[3]float64{255, 255, 255}, [3]float64{100, 0, 0}, 0.05},
		{[3]float64{255, 0, 0}, [3]float64{54.29, 80.80, 69.89}, 0.2}, // sRGB red, D50 (Bradford)
		{[3]float64{119, 119, 119}, [3]float64{50.03, 0, 0}, 0.05},
	} {
		if got := srgb.lab(c.rgb); deltaE2000(got, c.lab) > c.tol {
			t.Errorf("sRGB %v is Lab %.2f, want %.2f", c.rgb, got, c.lab)
		}
	}
}

// realProfiles returns the profile files named in CLOUDPOST_ICC_PROFILES
// (a list of paths, as in PATH): real profiles shipped with operating
// systems or published ones, which a test may not redistribute, can be
// checked that way, e.g. macOS's "/System/Library/ColorSync/Profiles/Display
// P3.icc".
func realProfiles(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, path := range filepath.SplitList(os.Getenv("CLOUDPOST_ICC_PROFILES")) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(path)] = b
	}
	return out
}

// A Display P3 photo keeps its colours: every variant carries the profile,
// and the colour a colour-managed viewer shows for it (the variant's pixel
// under the profile it carries, or sRGB when it carries none, as browsers
// assume) is within a small CIEDE2000 difference of the source's (its pixel
// under its own profile). Read as sRGB, which is what variants without the
// profile get, the same pixels are far off.
func TestDisplayP3ColourKept(t *testing.T) {
	skipUnderRace(t)
	profiles := map[string][]byte{"built Display P3": porttest.ImagesDisplayP3Profile()}
	for name, p := range realProfiles(t) {
		profiles[name] = p
	}
	srgb := parseICCModel(t, porttest.ImagesSRGBProfile())
	// Two saturated colours well outside sRGB, in Display P3 device values:
	// a red-orange and a green.
	colours := [2]color.NRGBA{{250, 60, 0, 255}, {20, 240, 40, 255}}
	const w, h = 400, 300
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.SetNRGBA(x, y, colours[x*2/w])
		}
	}
	// The same with a transparent top band: PNG variants.
	band := image.NewNRGBA(src.Rect)
	copy(band.Pix, src.Pix)
	for i := 3; i < h/10*band.Stride; i += 4 {
		band.Pix[i] = 0
	}
	p := New(Config{})
	for pname, profile := range profiles {
		model := parseICCModel(t, profile)
		inputs := []struct {
			name, ct, variantType string
			data                  []byte
		}{
			{"jpeg", "image/jpeg", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, src, 95), profile)},
			{"opaque png", "image/png", "image/jpeg", porttest.ImagesPNGWithICC(encodePNG(t, src), profile)},
			{"png with transparency", "image/png", "image/png", porttest.ImagesPNGWithICC(encodePNG(t, band), profile)},
			{"webp", "image/webp", "image/jpeg", webpExtendedICC(w, h, porttest.ImagesLosslessWebP(src)[12:], profile)},
		}
		for _, in := range inputs {
			t.Run(pname+"/"+in.name, func(t *testing.T) {
				srcImg, _, err := image.Decode(bytes.NewReader(in.data))
				if err != nil {
					t.Fatal(err)
				}
				worst, worstSRGB, worstSRGB76 := 0.0, math.Inf(1), math.Inf(1)
				for _, v := range makeVariants(t, p, in.data, in.ct) {
					if v.ContentType != in.variantType {
						t.Errorf("%s is %s, want %s", v.Name, v.ContentType, in.variantType)
					}
					carried := porttest.ImagesICCProfile(v.Data)
					if !bytes.Equal(carried, profile) {
						t.Errorf("%s carries a profile of %d bytes, want the source's %d bytes", v.Name, len(carried), len(profile))
					}
					viewer := srgb
					if carried != nil {
						viewer = parseICCModel(t, carried)
					}
					out := decodeVariant(t, v)
					for k, fx := range []float64{0.25, 0.75} { // the middle of each half
						want := model.lab(patchMean(srcImg, fx, 0.6))
						got := patchMean(out, fx, 0.6)
						de, deSRGB := deltaE2000(want, viewer.lab(got)), deltaE2000(want, srgb.lab(got))
						if de >= 2.5 {
							t.Errorf("%s colour %d: ΔE00 %.2f (Lab %.1f, want %.1f)", v.Name, k, de, viewer.lab(got), want)
						}
						worst, worstSRGB = max(worst, de), min(worstSRGB, deSRGB)
						worstSRGB76 = min(worstSRGB76, deltaE76(want, srgb.lab(got)))
					}
				}
				t.Logf("largest ΔE00 with the carried profile %.2f; smallest when read as sRGB: ΔE00 %.2f, ΔE76 %.1f",
					worst, worstSRGB, worstSRGB76)
				// Well above the threshold, four times a just noticeable
				// difference: the colours a variant without the profile shows.
				if worstSRGB < 4 {
					t.Errorf("read as sRGB the colours are only ΔE00 %.2f apart: the test does not show the profile's effect", worstSRGB)
				}
			})
		}
	}
}

// deltaE76 is the Euclidean distance of two L*a*b* colours (CIE 1976).
func deltaE76(x, y [3]float64) float64 {
	return math.Sqrt((x[0]-y[0])*(x[0]-y[0]) + (x[1]-y[1])*(x[1]-y[1]) + (x[2]-y[2])*(x[2]-y[2]))
}

// patchMean is the mean 8-bit colour of the 9x9 patch of m centred at the
// fractions fx, fy of its width and height.
func patchMean(m image.Image, fx, fy float64) [3]float64 {
	b := m.Bounds()
	cx, cy := b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+int(fy*float64(b.Dy()))
	var sum [3]float64
	n := 0.0
	for y := max(cy-4, b.Min.Y); y <= min(cy+4, b.Max.Y-1); y++ {
		for x := max(cx-4, b.Min.X); x <= min(cx+4, b.Max.X-1); x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			sum[0] += float64(c.R)
			sum[1] += float64(c.G)
			sum[2] += float64(c.B)
			n++
		}
	}
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

// webpExtendedICC wraps a VP8L chunk of a w x h image in an extended WebP
// with an ICCP chunk.
func webpExtendedICC(w, h int, image, profile []byte) []byte {
	vp8x := []byte{0x20, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	return porttest.ImagesRIFF(porttest.ImagesWebPChunk("VP8X", vp8x), porttest.ImagesWebPChunk("ICCP", profile), image)
}

// --- reading, checking and writing profiles ---

// withPrivateTag returns profile p with one more tag, 'zzzz', of n bytes:
// a well-formed profile of any size.
func withPrivateTag(p []byte, n int) []byte {
	be := binary.BigEndian
	count := int(be.Uint32(p[128:]))
	out := append([]byte{}, p[:132+12*count]...)
	be.PutUint32(out[128:], uint32(count+1))
	for k := range count { // the tag data moves by the new entry
		e := out[132+12*k:]
		be.PutUint32(e[4:], be.Uint32(e[4:])+12)
	}
	entry := []byte("zzzz\x00\x00\x00\x00\x00\x00\x00\x00")
	be.PutUint32(entry[4:], uint32(len(p)+12))
	be.PutUint32(entry[8:], uint32(n))
	out = append(out, entry...)
	out = append(out, p[132+12*count:]...)
	data := make([]byte, n)
	copy(data, "data\x00\x00\x00\x00\x00\x00\x00\x01")
	for i := 12; i < n; i++ {
		data[i] = byte(i * 7)
	}
	out = append(out, data...)
	be.PutUint32(out, uint32(len(out)))
	return out
}

// jpegICCSegment is one APP2 ICC_PROFILE segment with the given sequence
// number and count.
func jpegICCSegment(seq, count int, chunk []byte) []byte {
	s := []byte{0xFF, 0xE2, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(2+12+2+len(chunk)))
	s = append(s, "ICC_PROFILE\x00"...)
	s = append(s, byte(seq), byte(count))
	return append(s, chunk...)
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngInsert inserts chunks into the PNG file b right after IHDR, or right
// before IEND when afterData.
func pngInsert(b []byte, afterData bool, chunks ...[]byte) []byte {
	at := pngSignatureAndIHDR
	if afterData {
		at = len(b) - 12
	}
	out := append([]byte{}, b[:at]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, b[at:]...)
}

func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return z.Bytes()
}

func TestICCExtraction(t *testing.T) {
	p3 := porttest.ImagesDisplayP3Profile()
	big := withPrivateTag(p3, 150_000) // three APP2 segments
	if !wellFormedICC(big) {
		t.Fatal("withPrivateTag made a malformed profile")
	}
	jpg := encodeJPEG(t, photo(40, 30, 1), 80)
	withSegs := func(segs ...[]byte) []byte {
		out := append([]byte{}, jpg[:2]...)
		for _, s := range segs {
			out = append(out, s...)
		}
		return append(out, jpg[2:]...)
	}
	const c = maxICCChunk
	jpegCases := []struct {
		name string
		data []byte
		want []byte
	}{
		{"one segment", porttest.ImagesJPEGWithICC(jpg, p3), p3},
		{"three segments", porttest.ImagesJPEGWithICC(jpg, big), big},
		{"segments out of order", withSegs(jpegICCSegment(3, 3, big[2*c:]), jpegICCSegment(1, 3, big[:c]), jpegICCSegment(2, 3, big[c:2*c])), big},
		{"a segment missing", withSegs(jpegICCSegment(1, 3, big[:c]), jpegICCSegment(3, 3, big[2*c:])), nil},
		{"a segment twice", withSegs(jpegICCSegment(1, 2, big[:c]), jpegICCSegment(1, 2, big[:c]), jpegICCSegment(2, 2, big[c:])), nil},
		{"counts disagree", withSegs(jpegICCSegment(1, 3, big[:c]), jpegICCSegment(2, 2, big[c:2*c]), jpegICCSegment(3, 3, big[2*c:])), nil},
		{"sequence number 0", withSegs(jpegICCSegment(0, 1, p3)), nil},
		{"sequence number past the count", withSegs(jpegICCSegment(2, 1, p3)), nil},
		{"count 0", withSegs(jpegICCSegment(0, 0, p3)), nil},
		{"no sequence bytes", withSegs([]byte{0xFF, 0xE2, 0, 14}, []byte("ICC_PROFILE\x00")), nil},
		{"after the scan", append(bytes.Clone(jpg[:len(jpg)-2]), jpegICCSegment(1, 1, p3)...), nil},
		{"length past the end", withSegs(jpegICCSegment(1, 1, p3)[:200]), nil},
		{"size field wrong", withSegs(jpegICCSegment(1, 1, p3[:len(p3)-4])), nil},
		{"not a profile", withSegs(jpegICCSegment(1, 1, bytes.Repeat([]byte{7}, 500))), nil},
		{"over 1 MiB", porttest.ImagesJPEGWithICC(jpg, withPrivateTag(p3, maxICCSize)), nil},
		{"none", jpg, nil},
	}
	jf := formats[0]
	for _, c := range jpegCases {
		if got := iccProfile(jf, c.data); !bytes.Equal(got, c.want) {
			t.Errorf("jpeg, %s: got %d bytes, want %d", c.name, len(got), len(c.want))
		}
	}

	png := encodePNG(t, photo(40, 30, 1))
	iccp := func(name string, method byte, z []byte) []byte {
		return pngChunk("iCCP", append(append([]byte(name), 0, method), z...))
	}
	badCRC := iccp("x", 0, zlibBytes(p3))
	badCRC[len(badCRC)-1] ^= 1
	corrupt := zlibBytes(p3)
	corrupt[len(corrupt)/2] ^= 0xFF
	pngCases := []struct {
		name string
		data []byte
		want []byte
	}{
		{"iCCP", porttest.ImagesPNGWithICC(png, p3), p3},
		{"large profile", porttest.ImagesPNGWithICC(png, big), big},
		{"bad CRC", pngInsert(png, false, badCRC), nil},
		{"after the image data", pngInsert(png, true, iccp("x", 0, zlibBytes(p3))), nil},
		{"unknown compression method", pngInsert(png, false, iccp("x", 1, zlibBytes(p3))), nil},
		{"no name", pngInsert(png, false, iccp("", 0, zlibBytes(p3))), nil},
		{"name too long", pngInsert(png, false, iccp(strings.Repeat("n", 80), 0, zlibBytes(p3))), nil},
		{"corrupt zlib data", pngInsert(png, false, iccp("x", 0, corrupt)), nil},
		{"truncated zlib data", pngInsert(png, false, iccp("x", 0, zlibBytes(p3)[:100])), nil},
		{"inflates past 1 MiB", pngInsert(png, false, iccp("x", 0, zlibBytes(make([]byte, 4*maxICCSize)))), nil},
		{"none", png, nil},
	}
	pf := formats[1]
	for _, c := range pngCases {
		if got := iccProfile(pf, c.data); !bytes.Equal(got, c.want) {
			t.Errorf("png, %s: got %d bytes, want %d", c.name, len(got), len(c.want))
		}
	}

	lossless := porttest.ImagesLosslessWebP(photo(40, 30, 1))
	wf := formats[3]
	for _, c := range []struct {
		name string
		data []byte
		want []byte
	}{
		{"extended with ICCP", webpExtendedICC(40, 30, lossless[12:], p3), p3},
		{"simple file", porttest.ImagesRIFF(lossless[12:], porttest.ImagesWebPChunk("ICCP", p3)), nil},
		{"chunk size past the end", webpExtendedICC(40, 30, lossless[12:], p3)[:100], nil},
		{"none", lossless, nil},
	} {
		if got := iccProfile(wf, c.data); !bytes.Equal(got, c.want) {
			t.Errorf("webp, %s: got %d bytes, want %d", c.name, len(got), len(c.want))
		}
	}
}

func TestWellFormedICC(t *testing.T) {
	p3 := porttest.ImagesDisplayP3Profile()
	edit := func(at int, b string) []byte {
		p := bytes.Clone(p3)
		copy(p[at:], b)
		return p
	}
	tagPastEnd := bytes.Clone(p3)
	binary.BigEndian.PutUint32(tagPastEnd[132+4:], uint32(len(p3)-4))
	tooManyTags := bytes.Clone(p3)
	binary.BigEndian.PutUint32(tooManyTags[128:], 1<<30)
	for _, c := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"display P3", p3, true},
		{"sRGB", porttest.ImagesSRGBProfile(), true},
		{"large", withPrivateTag(p3, 500_000), true},
		{"input class", edit(12, "scnr"), true},
		{"device link", edit(12, "link"), false},
		{"abstract", edit(12, "abst"), false},
		{"named colour", edit(12, "nmcl"), false},
		{"no acsp", edit(36, "xxxx"), false},
		{"size field larger", append(bytes.Clone(p3), 0, 0, 0, 0), false},
		{"size field smaller", p3[:len(p3)-4], false},
		{"tag past the end", tagPastEnd, false},
		{"tag count past the end", tooManyTags, false},
		{"header only", p3[:100], false},
		{"over 1 MiB", withPrivateTag(p3, maxICCSize), false},
		{"nil", nil, false},
	} {
		if got := wellFormedICC(c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// The profile is carried only when its colour space is the variants': RGB
// for colour variants, gray for gray JPEG variants. The profile of a CMYK
// image describes pixels the pipeline has converted to RGB (naively), so it
// is dropped, whatever its colour space says.
func TestICCColourSpaceMatch(t *testing.T) {
	p := New(Config{})
	rgbProfile := porttest.ImagesDisplayP3Profile()
	asSpace := func(space string) []byte {
		q := bytes.Clone(rgbProfile)
		copy(q[16:], space)
		return q
	}
	grayImg := image.NewGray(image.Rect(0, 0, 200, 100))
	for i := range grayImg.Pix {
		grayImg.Pix[i] = uint8(i)
	}
	colour := photo(200, 100, 2)
	cmyk := testJPEG(t, 200, 100, jpegCMYK)
	for _, c := range []struct {
		name, ct string
		data     []byte
		carried  bool
	}{
		{"rgb jpeg, RGB profile", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, colour, 90), rgbProfile), true},
		{"rgb jpeg, gray profile", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, colour, 90), asSpace("GRAY")), false},
		{"rgb jpeg, CMYK profile", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, colour, 90), asSpace("CMYK")), false},
		{"gray jpeg, gray profile", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, grayImg, 90), asSpace("GRAY")), true},
		{"gray jpeg, RGB profile", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, grayImg, 90), rgbProfile), false},
		{"gray png, gray profile", "image/png", porttest.ImagesPNGWithICC(encodePNG(t, grayImg), asSpace("GRAY")), true},
		{"cmyk jpeg, CMYK profile", "image/jpeg", porttest.ImagesJPEGWithICC(cmyk, asSpace("CMYK")), false},
		{"cmyk jpeg, RGB profile", "image/jpeg", porttest.ImagesJPEGWithICC(cmyk, rgbProfile), false},
		{"rgb png, Lab profile", "image/png", porttest.ImagesPNGWithICC(encodePNG(t, colour), asSpace("Lab ")), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range makeVariants(t, p, c.data, c.ct) {
				decodeVariant(t, v)
				got := porttest.ImagesICCProfile(v.Data)
				if c.carried != (got != nil) {
					t.Errorf("%s carries a profile of %d bytes; want one: %v", v.Name, len(got), c.carried)
				}
			}
		})
	}
}

// Profiles of any size are written whole: split into APP2 segments of at
// most 65519 profile bytes, or in one iCCP chunk.
func TestICCWritten(t *testing.T) {
	big := withPrivateTag(porttest.ImagesDisplayP3Profile(), 200_000)
	half := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := range half.Pix {
		half.Pix[i] = uint8(i % 251)
	}
	p := New(Config{})
	for _, in := range []struct {
		name, ct string
		data     []byte
	}{
		{"jpeg", "image/jpeg", porttest.ImagesJPEGWithICC(encodeJPEG(t, photo(600, 400, 1), 90), big)},
		{"png", "image/png", porttest.ImagesPNGWithICC(encodePNG(t, half), big)},
	} {
		for _, v := range makeVariants(t, p, in.data, in.ct) {
			decodeVariant(t, v)
			if got := porttest.ImagesICCProfile(v.Data); !bytes.Equal(got, big) {
				t.Errorf("%s %s: profile of %d bytes, want %d", in.name, v.Name, len(got), len(big))
			}
			st := walkStructure(t, v)
			if v.ContentType == "image/jpeg" {
				if st.iccSegments != 4 { // 200 kB in chunks of 65519 bytes
					t.Errorf("%s %s: %d APP2 segments, want 4", in.name, v.Name, st.iccSegments)
				}
			}
		}
	}
}

// FuzzICCParsers feeds arbitrary bytes to the profile readers: they must
// never panic, and whatever they return is a well-formed profile.
func FuzzICCParsers(f *testing.F) {
	p3 := porttest.ImagesDisplayP3Profile()
	jpg := encodeJPEG(f, photo(16, 16, 1), 80)
	png := encodePNG(f, photo(16, 16, 1))
	f.Add(porttest.ImagesJPEGWithICC(jpg, withPrivateTag(p3, 70_000)))
	f.Add(porttest.ImagesPNGWithICC(png, p3))
	f.Add(webpExtendedICC(16, 16, porttest.ImagesLosslessWebP(photo(16, 16, 1))[12:], p3))
	f.Add(p3)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ft := range formats {
			if p := iccProfile(ft, data); p != nil && !wellFormedICC(p) {
				t.Fatalf("%s: returned a malformed profile", ft.name)
			}
		}
		wellFormedICC(data)
		parseJPEGHeader(data)
	})
}

// The profile written to variants is the one read, for the encoders'
// every way of writing (the splice may fall inside any write).
func TestSpliceWriter(t *testing.T) {
	in := []byte("0123456789")
	for at := 0; at <= len(in); at++ {
		for step := 1; step <= len(in); step++ {
			var buf bytes.Buffer
			w := &spliceWriter{w: &buf, at: at, extra: []byte("XY")}
			for i := 0; i < len(in); i += step {
				n, err := w.Write(in[i:min(i+step, len(in))])
				if err != nil || n != min(step, len(in)-i) {
					t.Fatalf("at %d step %d: Write = %d, %v", at, step, n, err)
				}
			}
			want := string(in[:at]) + "XY" + string(in[at:])
			if buf.String() != want || w.extra != nil {
				t.Fatalf("at %d step %d: %q, want %q", at, step, buf.String(), want)
			}
		}
	}
}
