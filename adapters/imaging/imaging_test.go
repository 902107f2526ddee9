package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"io"
	"math"
	"runtime"
	"testing"

	"golang.org/x/image/webp"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

func makeVariants(t *testing.T, p *Pipeline, data []byte, ct string) []domain.Variant {
	t.Helper()
	vs, err := p.MakeVariants(t.Context(), bytes.NewReader(data), ct, DefaultMaxBytes)
	if err != nil {
		t.Fatalf("MakeVariants(%s): %v", ct, err)
	}
	if len(vs) != len(domain.VariantNames) {
		t.Fatalf("got %d variants", len(vs))
	}
	for i, v := range vs {
		if v.Name != domain.VariantNames[i] {
			t.Fatalf("variant %d is %q, want %q", i, v.Name, domain.VariantNames[i])
		}
	}
	return vs
}

func decodeVariant(t *testing.T, v domain.Variant) image.Image {
	t.Helper()
	m, format, err := image.Decode(bytes.NewReader(v.Data))
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	if "image/"+format != v.ContentType {
		t.Fatalf("%s: data is %s, labelled %s", v.Name, format, v.ContentType)
	}
	if m.Bounds().Dx() != v.Width || m.Bounds().Dy() != v.Height {
		t.Fatalf("%s: %v, labelled %dx%d", v.Name, m.Bounds(), v.Width, v.Height)
	}
	return m
}

func wantCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	if !domain.IsCode(err, code) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if _, ok := errors.AsType[*domain.Error](err); !ok {
		t.Fatalf("err %v is not a *domain.Error", err)
	}
}

// --- orientation ---

// The display transforms, written from the EXIF specification's wording
// ("the 0th row is the visual left-hand side", ...) as compositions of a
// mirror and clockwise rotations, independently of the pipeline's tables.
func rotateCW(m *image.NRGBA) *image.NRGBA {
	b := m.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.SetNRGBA(b.Dy()-1-y, x, m.NRGBAAt(x, y)) // the left column becomes the top row
		}
	}
	return out
}

func mirrorH(m *image.NRGBA) *image.NRGBA {
	b := m.Bounds()
	out := image.NewNRGBA(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.SetNRGBA(b.Dx()-1-x, y, m.NRGBAAt(x, y))
		}
	}
	return out
}

func display(o int, m *image.NRGBA) *image.NRGBA {
	rot := func(m *image.NRGBA, n int) *image.NRGBA {
		for range n {
			m = rotateCW(m)
		}
		return m
	}
	switch o {
	case 2:
		return mirrorH(m)
	case 3:
		return rot(m, 2)
	case 4:
		return rot(mirrorH(m), 2) // mirror vertical
	case 5:
		return rot(mirrorH(m), 3)
	case 6:
		return rot(m, 1)
	case 7:
		return rot(mirrorH(m), 1)
	case 8:
		return rot(m, 3)
	}
	return m
}

// stored returns what a camera stores for orientation o so that turning it as
// o says shows want: every display transform has order 1, 2 or 4, so
// applying it three times undoes it.
func stored(o int, want *image.NRGBA) *image.NRGBA {
	return display(o, display(o, display(o, want)))
}

// quadrants returns a w x h image of four flat, distinct colours; with the
// size, they tell all eight orientations apart.
func quadrants(w, h int) (*image.NRGBA, [4]color.NRGBA) {
	cs := [4]color.NRGBA{{230, 30, 30, 255}, {30, 200, 50, 255}, {40, 50, 220, 255}, {240, 230, 70, 255}}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q = 1
			}
			if y >= h/2 {
				q += 2
			}
			m.SetNRGBA(x, y, cs[q])
		}
	}
	return m, cs
}

// checkQuadrants checks the colour at the middle of each quadrant of m.
func checkQuadrants(t *testing.T, what string, m image.Image, cs [4]color.NRGBA, tol int) {
	t.Helper()
	b := m.Bounds()
	for q, want := range cs {
		x := b.Min.X + b.Dx()/4 + (q%2)*b.Dx()/2
		y := b.Min.Y + b.Dy()/4 + (q/2)*b.Dy()/2
		got := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
		if d := colourDist(got, want); d > tol {
			t.Errorf("%s: quadrant %d is %v, want %v", what, q, got, want)
		}
	}
}

func colourDist(a, b color.NRGBA) int {
	d := 0
	for _, p := range [][2]uint8{{a.R, b.R}, {a.G, b.G}, {a.B, b.B}} {
		d = max(d, int(math.Abs(float64(p[0])-float64(p[1]))))
	}
	return d
}

func pngWithEXIF(t testing.TB, m image.Image, tiff []byte) []byte {
	p := encodePNG(t, m)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(tiff)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, tiff...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	const afterIHDR = 8 + 8 + 13 + 4
	return append(append(append([]byte{}, p[:afterIHDR]...), chunk...), p[afterIHDR:]...)
}

// webpExtended wraps an image chunk (VP8 or VP8L) of a w x h image in an
// extended (VP8X) WebP with optional ALPH and EXIF chunks.
func webpExtended(w, h int, image, alph, tiff []byte) []byte {
	var flags byte
	if alph != nil {
		flags |= 0x10
	}
	if tiff != nil {
		flags |= 0x08
	}
	vp8x := []byte{flags, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	chunks := [][]byte{porttest.ImagesWebPChunk("VP8X", vp8x)}
	if alph != nil {
		chunks = append(chunks, porttest.ImagesWebPChunk("ALPH", alph))
	}
	chunks = append(chunks, image)
	if tiff != nil {
		chunks = append(chunks, porttest.ImagesWebPChunk("EXIF", tiff))
	}
	return porttest.ImagesRIFF(chunks...)
}

func TestOrientationAllEight(t *testing.T) {
	skipUnderRace(t)
	p := New(Config{})
	want, cs := quadrants(160, 96)
	for o := 1; o <= 8; o++ {
		s := stored(o, want)
		inputs := map[string][]byte{
			"jpeg": porttest.ImagesJPEGWithEXIF(encodeJPEG(t, s, 95), porttest.ImagesEXIF(o)),
			"png":  pngWithEXIF(t, s, porttest.ImagesEXIF(o)),
		}
		// WebP keeps the EXIF chunk after the image; the lossless chunk is
		// taken out of its simple-format file.
		simple := porttest.ImagesLosslessWebP(s)
		inputs["webp"] = webpExtended(s.Bounds().Dx(), s.Bounds().Dy(), simple[12:], nil, porttest.ImagesEXIF(o))
		for format, data := range inputs {
			t.Run(fmt.Sprintf("%s/%d", format, o), func(t *testing.T) {
				vs := makeVariants(t, p, data, "image/"+format)
				for _, v := range vs[1:] { // small, medium and large show the whole picture
					m := decodeVariant(t, v)
					wantW := min(160, map[string]int{"small": SmallWidth, "medium": MediumWidth, "large": LargeSide}[v.Name])
					if m.Bounds().Dx() != wantW || m.Bounds().Dy() != 96 {
						t.Fatalf("%s is %v, want %dx96", v.Name, m.Bounds(), wantW)
					}
					checkQuadrants(t, v.Name, m, cs, 10)
				}
				// The thumb is the centred 96x96 square: the quadrants'
				// boundary stays in its middle.
				thumb := decodeVariant(t, vs[0])
				if thumb.Bounds().Dx() != 96 || thumb.Bounds().Dy() != 96 {
					t.Fatalf("thumb is %v", thumb.Bounds())
				}
				checkQuadrants(t, "thumb", thumb, cs, 10)
			})
		}
	}
}

func TestTIFFOrientation(t *testing.T) {
	le := func(o uint16, typ uint16) []byte {
		b := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0}
		b = binary.LittleEndian.AppendUint16(b, 0x0112)
		b = binary.LittleEndian.AppendUint16(b, typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(o))
		return binary.LittleEndian.AppendUint32(b, 0)
	}
	for _, c := range []struct {
		name string
		tiff []byte
		want int
	}{
		{"big-endian SHORT", porttest.ImagesEXIF(6), 6},
		{"little-endian SHORT", le(8, 3), 8},
		{"little-endian LONG", le(5, 4), 5},
		{"out of range", le(9, 3), 1},
		{"zero", le(0, 3), 1},
		{"wrong type", le(6, 7), 1},
		{"truncated IFD", porttest.ImagesEXIF(6)[:12], 1},
		{"IFD offset past the end", []byte{'M', 'M', 0, 42, 0xFF, 0xFF, 0xFF, 0xF0, 0, 1}, 1},
		{"bad byte order", []byte{'X', 'X', 0, 42, 0, 0, 0, 8, 0, 0}, 1},
		{"empty", nil, 1},
	} {
		if got := tiffOrientation(c.tiff); got != c.want {
			t.Errorf("%s: orientation %d, want %d", c.name, got, c.want)
		}
	}
}

// --- metadata: see metadata_test.go ---

// --- colour ---

func TestMeanColourKept(t *testing.T) {
	skipUnderRace(t)
	p := New(Config{})
	// Tall enough that the thumb, luma and 4:2:0 chroma alike, is made
	// from a halved level; the small variant is filtered from level 0, the
	// medium and large are the photo itself.
	const w, h = 700, 520
	src := photo(w, h, 4)
	transparent := image.NewNRGBA(src.Rect) // the photo with a soft alpha ramp
	for y := range h {
		for x := range w {
			c := src.RGBAAt(x, y)
			transparent.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(x * 255 / (w - 1))})
		}
	}
	pal := image.NewPaletted(image.Rect(0, 0, 600, 400), nil)
	for i := range 256 {
		pal.Palette = append(pal.Palette, color.NRGBA{uint8(i), uint8(255 - i), uint8(i * 7), 255})
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i/600 + i%600/3)
	}
	// Large enough that every variant (the large one too: 2048 wide, from
	// over twice that) is made from level 1 or coarser, checked below; no
	// larger, as the race detector makes each pixel costly.
	const bigW, bigH = 4400, 1200
	for _, tg := range targets(bigW, bigH, 1) {
		if l := pyramidLevel(tg.ww, tg.wh, tg.dw, tg.dh); l < 1 {
			t.Fatalf("%dx%d: the %s variant reads pyramid level %d: the gif case does not test what it says", bigW, bigH, tg.name, l)
		}
	}
	bigPal := image.NewPaletted(image.Rect(0, 0, bigW, bigH), pal.Palette)
	for y := range bigH {
		for x := range bigW {
			bigPal.Pix[y*bigW+x] = uint8(x/40 + y/12)
		}
	}
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for i := range gray.Pix {
		gray.Pix[i] = src.Pix[4*i+1]
	}
	cases := []struct {
		name, ct string
		data     []byte
		want     image.Image // what the input decodes to
		tol      float64
	}{
		{"jpeg", "image/jpeg", encodeJPEG(t, src, 92), nil, 1.5},
		{"jpeg gray", "image/jpeg", encodeJPEG(t, gray, 92), nil, 1.5},
		{"png opaque", "image/png", encodePNGFast(t, src), src, 1.5},
		{"png alpha", "image/png", encodePNGFast(t, transparent), transparent, 1.0},
		{"gif", "image/gif", encodeGIF(t, pal), pal, 1.5},
		// Large enough that no variant reads level 0, made straight from
		// the palette at half size.
		{"gif 4400x1200", "image/gif", encodeGIF(t, bigPal), bigPal, 1.5},
		{"webp lossy", "image/webp", lossyWebP(t), nil, 1.5},
		{"webp lossless alpha", "image/webp", porttest.ImagesLosslessWebP(transparent.SubImage(image.Rect(0, 0, 400, 300))), nil, 1.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.want
			if in == nil {
				var err error
				if in, _, err = image.Decode(bytes.NewReader(c.data)); err != nil {
					t.Fatal(err)
				}
			}
			b := in.Bounds()
			side := min(b.Dx(), b.Dy())
			crop := image.Rect((b.Dx()-side)/2, (b.Dy()-side)/2, (b.Dx()-side)/2+side, (b.Dy()-side)/2+side)
			whole, centre := meanRGB(in), meanRGB(in.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(crop))
			for _, v := range makeVariants(t, p, c.data, c.ct) {
				want := whole
				if v.Name == domain.VariantThumb {
					want = centre
				}
				got := meanRGB(decodeVariant(t, v))
				for k := range 3 {
					if math.Abs(got[k]-want[k]) > c.tol {
						t.Errorf("%s: mean colour %.2f, want %.2f (within %g)", v.Name, got, want, c.tol)
						break
					}
				}
			}
		})
	}
}

func TestOutputFormat(t *testing.T) {
	skipUnderRace(t)
	p := New(Config{})
	opaque := photo(400, 300, 5)
	half := image.NewNRGBA(opaque.Rect)
	for i := range half.Pix {
		half.Pix[i] = opaque.Pix[i]
		if i%4 == 3 && i/4%400 < 80 {
			half.Pix[i] = 0
		}
	}
	anim := &gif.GIF{Image: []*image.Paletted{
		image.NewPaletted(image.Rect(0, 0, 200, 100), color.Palette{color.RGBA{220, 20, 20, 255}}),
		image.NewPaletted(image.Rect(0, 0, 200, 100), color.Palette{color.RGBA{20, 20, 220, 255}}),
	}, Delay: []int{10, 10}}
	var animBuf bytes.Buffer
	if err := gif.EncodeAll(&animBuf, anim); err != nil {
		t.Fatal(err)
	}
	// A GIF whose only frame covers the middle of its screen: the rest is
	// transparent.
	small := image.NewPaletted(image.Rect(50, 25, 150, 75), color.Palette{color.RGBA{10, 160, 10, 255}})
	var framed bytes.Buffer
	if err := gif.EncodeAll(&framed, &gif.GIF{Image: []*image.Paletted{small}, Delay: []int{0},
		Config: image.Config{ColorModel: small.Palette, Width: 200, Height: 100}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, ct, want string
		data           []byte
		check          func(t *testing.T, v domain.Variant, m image.Image)
	}{
		{"opaque png becomes jpeg", "image/png", "image/jpeg", encodePNG(t, opaque), nil},
		{"transparent png stays png", "image/png", "image/png", encodePNG(t, half), func(t *testing.T, v domain.Variant, m image.Image) {
			if _, _, _, a := m.At(0, m.Bounds().Dy()/2).RGBA(); a != 0 {
				t.Errorf("%s: transparent edge has alpha %d", v.Name, a)
			}
		}},
		{"gif first frame", "image/gif", "image/jpeg", animBuf.Bytes(), func(t *testing.T, v domain.Variant, m image.Image) {
			if got := meanRGB(m); math.Abs(got[0]-220) > 3 || math.Abs(got[2]-20) > 3 {
				t.Errorf("%s: mean %v, want the red first frame", v.Name, got)
			}
		}},
		{"gif frame inside its screen", "image/gif", "image/png", framed.Bytes(), func(t *testing.T, v domain.Variant, m image.Image) {
			b := m.Bounds()
			if v.Name == domain.VariantThumb {
				return // the centred square is the frame itself
			}
			if _, _, _, a := m.At(b.Dx()/10, b.Dy()/2).RGBA(); a != 0 {
				t.Errorf("%s: outside the frame alpha is %d", v.Name, a)
			}
			if c := color.NRGBAModel.Convert(m.At(b.Dx()/2, b.Dy()/2)).(color.NRGBA); colourDist(c, color.NRGBA{10, 160, 10, 255}) > 2 || c.A != 255 {
				t.Errorf("%s: frame centre is %v", v.Name, c)
			}
		}},
		{"webp lossless opaque", "image/webp", "image/jpeg", porttest.ImagesLosslessWebP(opaque.SubImage(image.Rect(0, 0, 120, 90))), nil},
		{"webp lossy", "image/webp", "image/jpeg", lossyWebP(t), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range makeVariants(t, p, c.data, c.ct) {
				if v.ContentType != c.want {
					t.Errorf("%s is %s, want %s", v.Name, v.ContentType, c.want)
				}
				m := decodeVariant(t, v)
				if c.check != nil {
					c.check(t, v, m)
				}
			}
		})
	}
}

// An opaque JPEG variant is encoded at the configured quality: a higher
// quality makes a larger file, and the default is 82.
func TestJPEGQuality(t *testing.T) {
	data := encodeJPEG(t, photo(480, 360, 6), 95)
	size := func(q int) int {
		vs := makeVariants(t, New(Config{JPEGQuality: q}), data, "image/jpeg")
		return len(vs[2].Data)
	}
	if New(Config{}).quality != 82 {
		t.Fatalf("default quality %d", New(Config{}).quality)
	}
	if d, q82, q95 := size(0), size(82), size(95); d != q82 || q95 <= q82 {
		t.Errorf("medium sizes: default %d, q82 %d, q95 %d", d, q82, q95)
	}
}

// Transparent pixels of any colour must not bleed into their opaque
// neighbours (filtering non-premultiplied values would give dark or red
// fringes), and partly covered edge pixels keep the opaque colour.
func TestAlphaEdgesHaveNoFringes(t *testing.T) {
	skipUnderRace(t)
	p := New(Config{})
	// Wider than the medium variant, and tall enough that the thumb is
	// made from a halved level: every variant but the large one (the
	// source itself) is filtered.
	const w, h = 1100, 560
	for _, hidden := range []color.NRGBA{{0, 0, 0, 0}, {255, 0, 0, 0}} {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				c := hidden
				if (x-w/2)*(x-w/2)+(y-h/2)*(y-h/2) < 250*250 {
					c = color.NRGBA{250, 250, 250, 255}
				}
				m.SetNRGBA(x, y, c)
			}
		}
		for _, v := range makeVariants(t, p, encodePNG(t, m), "image/png") {
			out := toNRGBA(decodeVariant(t, v))
			b := out.Bounds()
			edge := 0
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					c := out.NRGBAAt(x, y)
					if c.A > 8 && c.A < 247 {
						edge++
					}
					// Below alpha 64, 8-bit premultiplied colour cannot be
					// that precise.
					if c.A >= 64 && (c.R < 240 || c.G < 240 || c.B < 240) {
						t.Fatalf("%s (hidden %v): pixel %d,%d is %v", v.Name, hidden, x, y, c)
					}
				}
			}
			if edge == 0 && v.Width < w { // the large variant is the source itself
				t.Errorf("%s: no partly transparent edge pixels: the test checks nothing", v.Name)
			}
		}
	}
}

// An image that is not larger than a variant is copied pixel for pixel.
func TestNoUpscalingAndExactCopy(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 97, 61))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 37 % 251)
	}
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = max(m.Pix[i], 1) // partly transparent everywhere: PNG out
	}
	vs := makeVariants(t, New(Config{}), encodePNG(t, m), "image/png")
	for _, v := range vs[1:] {
		out := decodeVariant(t, v)
		if out.Bounds() != m.Bounds() {
			t.Fatalf("%s is %v, want %v", v.Name, out.Bounds(), m.Bounds())
		}
		// Premultiplying to 8 bits and back loses a little for low alpha.
		for y := range 61 {
			for x := range 97 {
				a, b := m.NRGBAAt(x, y), color.NRGBAModel.Convert(out.At(x, y)).(color.NRGBA)
				if a.A != b.A || a.A > 64 && colourDist(a, b) > 2 {
					t.Fatalf("%s: pixel %d,%d is %v, want %v", v.Name, x, y, b, a)
				}
			}
		}
	}
	if vs[0].Width != 61 || vs[0].Height != 61 {
		t.Errorf("thumb is %dx%d, want 61x61", vs[0].Width, vs[0].Height)
	}
}

// Every decoded image type the standard decoders return is handled.
func TestInputPixelTypes(t *testing.T) {
	skipUnderRace(t)
	p := New(Config{})
	base := photo(300, 200, 8)
	rgba64 := image.NewRGBA64(base.Rect)
	nrgba64 := image.NewNRGBA64(base.Rect)
	gray16 := image.NewGray16(base.Rect)
	paletted := image.NewPaletted(base.Rect, color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}})
	for y := range 200 {
		for x := range 300 {
			c := base.RGBAAt(x, y)
			rgba64.Set(x, y, c)
			nrgba64.Set(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, 0xffff})
			gray16.Set(x, y, c)
			paletted.SetColorIndex(x, y, uint8(x/150))
		}
	}
	for name, m := range map[string]image.Image{"rgba64": rgba64, "nrgba64": nrgba64, "gray16": gray16, "paletted": paletted} {
		t.Run(name, func(t *testing.T) {
			want := meanRGB(m)
			vs := makeVariants(t, p, encodePNG(t, m), "image/png")
			got := meanRGB(decodeVariant(t, vs[2]))
			for k := range 3 {
				if math.Abs(got[k]-want[k]) > 1.5 {
					t.Fatalf("mean %v, want %v", got, want)
				}
			}
		})
	}
	// CMYK JPEGs cannot be written with the standard library; check the
	// conversion itself.
	cmyk := image.NewCMYK(image.Rect(0, 0, 2, 1))
	cmyk.SetCMYK(0, 0, color.CMYK{0, 255, 255, 0}) // red
	cmyk.SetCMYK(1, 0, color.CMYK{0, 0, 0, 255})   // black
	s := newSource(cmyk, 2, 1)
	if got := s.planes[0].levels[0].pix; s.kind != kindRGBA || s.alpha || !bytes.Equal(got, []byte{255, 0, 0, 255, 0, 0, 0, 255}) {
		t.Errorf("CMYK source: kind %v alpha %v pix %v", s.kind, s.alpha, got)
	}
	// A WebP with an opaque alpha channel is still YCbCr; a real one is not.
	wp := lossyWebP(t)
	alph := func(v func(x, y int) byte) []byte {
		a := []byte{0} // raw, unfiltered
		for y := range 100 {
			for x := range 150 {
				a = append(a, v(x, y))
			}
		}
		return a
	}
	for _, c := range []struct {
		name  string
		alpha func(x, y int) byte
		want  string
	}{
		{"opaque alpha", func(x, y int) byte { return 255 }, "image/jpeg"},
		{"left half transparent", func(x, y int) byte { return byte(min(255, x*4)) }, "image/png"},
	} {
		data := webpExtended(150, 100, wp[12:], alph(c.alpha), nil)
		m, err := webp.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*image.NYCbCrA); !ok {
			t.Fatalf("%s: fixture decodes to %T", c.name, m)
		}
		for _, v := range makeVariants(t, p, data, "image/webp") {
			if v.ContentType != c.want {
				t.Errorf("%s: %s is %s, want %s", c.name, v.Name, v.ContentType, c.want)
			}
			decodeVariant(t, v)
		}
	}
}

// --- limits and errors ---

// Headers declaring huge images are refused before any pixel is allocated.
func TestDecompressionBombs(t *testing.T) {
	p := New(Config{})
	jpegBomb := encodeJPEG(t, photo(16, 16, 9), 80)
	i := bytes.Index(jpegBomb, []byte{0xFF, 0xC0}) // SOF0: length, precision, height, width
	binary.BigEndian.PutUint16(jpegBomb[i+5:], 65000)
	binary.BigEndian.PutUint16(jpegBomb[i+7:], 65000)
	gifBomb := encodeGIF(t, image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black}))
	binary.LittleEndian.PutUint16(gifBomb[6:], 65535) // logical screen
	binary.LittleEndian.PutUint16(gifBomb[8:], 65535)
	vp8x := []byte{0, 0, 0, 0, 0xFF, 0x3F, 0, 0xFF, 0x3F, 0} // 16384 x 16384 canvas
	webpBomb := porttest.ImagesRIFF(porttest.ImagesWebPChunk("VP8X", vp8x), porttest.ImagesLosslessWebP(photo(2, 2, 1))[12:])
	for name, c := range map[string]struct {
		data []byte
		ct   string
	}{
		"png 50000x50000": {porttest.ImagesPNGBomb(50000, 50000), "image/png"},
		"png 1x2^31-1":    {porttest.ImagesPNGBomb(1, 1<<31-1), "image/png"},
		"jpeg":            {jpegBomb, "image/jpeg"},
		"gif":             {gifBomb, "image/gif"},
		"webp":            {webpBomb, "image/webp"},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			alloc := allocated(func() {
				_, err = p.MakeVariants(context.Background(), bytes.NewReader(c.data), c.ct, DefaultMaxBytes)
			})
			wantCode(t, err, domain.TooLarge)
			if alloc > 1<<20 {
				t.Errorf("refusing the bomb allocated %d bytes", alloc)
			}
			t.Logf("%s: %d bytes allocated, %v", name, alloc, err)
		})
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A JPEG made of many scans costs a pass over the image per scan; past a
// bound it is refused before decoding.
func TestJPEGScanLimit(t *testing.T) {
	jpg := encodeJPEG(t, photo(64, 48, 1), 80)
	sos := bytes.Index(jpg, []byte{0xFF, 0xDA})
	scan := jpg[sos : len(jpg)-2] // SOS header and entropy-coded data, without EOI
	build := func(n int) []byte {
		out := bytes.Clone(jpg[:sos])
		for range n {
			out = append(out, scan...)
		}
		return append(out, 0xFF, 0xD9)
	}
	p := New(Config{})
	// The standard decoder accepts repeated scans: the limit is ours.
	if _, err := p.MakeVariants(t.Context(), bytes.NewReader(build(maxJPEGScans)), "image/jpeg", 0); err != nil {
		t.Fatalf("%d scans: %v", maxJPEGScans, err)
	}
	_, err := p.MakeVariants(t.Context(), bytes.NewReader(build(maxJPEGScans+1)), "image/jpeg", 0)
	wantCode(t, err, domain.Invalid)
}

func TestPixelLimitIsConfigurable(t *testing.T) {
	p := New(Config{MaxPixels: 1000})
	if _, err := p.MakeVariants(t.Context(), bytes.NewReader(encodePNG(t, photo(40, 25, 1))), "image/png", 0); err != nil {
		t.Fatalf("40x25 with a limit of 1000 pixels: %v", err)
	}
	_, err := p.MakeVariants(t.Context(), bytes.NewReader(encodePNG(t, photo(40, 26, 1))), "image/png", 0)
	wantCode(t, err, domain.TooLarge)
	if New(Config{}).maxPixels != DefaultMaxPixels {
		t.Error("default pixel limit")
	}
	// The default is 40 megapixels: a header just above it is refused.
	_, err = New(Config{}).MakeVariants(t.Context(), bytes.NewReader(porttest.ImagesPNGBomb(8000, 5001)), "image/png", 0)
	wantCode(t, err, domain.TooLarge)
	if msg := domain.ErrorMessage(err); msg != "the image is 8000x5001 pixels, more than the limit of 40 megapixels" {
		t.Errorf("message %q", msg)
	}
	// A strip under the pixel limit but longer than a JPEG side can be.
	_, err = New(Config{}).MakeVariants(t.Context(), bytes.NewReader(porttest.ImagesPNGBomb(600, 66000)), "image/png", 0)
	wantCode(t, err, domain.TooLarge)
	// Extreme but legal strips work, and stay within the documented sizes.
	for _, size := range [][2]int{{MaxSide, 2}, {3, 20000}} {
		m := image.NewGray(image.Rect(0, 0, size[0], size[1]))
		for i := range m.Pix {
			m.Pix[i] = uint8(i)
		}
		vs := makeVariants(t, New(Config{}), encodePNG(t, m), "image/png")
		for _, v := range vs {
			decodeVariant(t, v)
		}
		if vs[1].Width != min(size[0], 320) || vs[2].Width != min(size[0], 1080) || vs[0].Width != min(size[0], size[1]) ||
			max(vs[3].Width, vs[3].Height) != min(max(size[0], size[1]), LargeSide) {
			t.Errorf("%v: variants %dx%d %dx%d %dx%d %dx%d", size, vs[0].Width, vs[0].Height, vs[1].Width, vs[1].Height,
				vs[2].Width, vs[2].Height, vs[3].Width, vs[3].Height)
		}
	}
}

func TestByteLimit(t *testing.T) {
	p := New(Config{})
	data := encodeJPEG(t, photo(100, 100, 1), 90)
	_, err := p.MakeVariants(t.Context(), bytes.NewReader(data), "image/jpeg", int64(len(data)-1))
	wantCode(t, err, domain.TooLarge)
	// Without a Len method (a network body), the reader is still cut off at
	// the limit.
	big := io.MultiReader(bytes.NewReader(data), zeros{})
	_, err = p.MakeVariants(t.Context(), big, "image/jpeg", 0)
	wantCode(t, err, domain.TooLarge)
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func TestTruncatedAndCorruptFilesAreInvalid(t *testing.T) {
	p := New(Config{})
	m := photo(200, 150, 10)
	files := map[string][]byte{
		"image/jpeg": encodeJPEG(t, m, 90),
		"image/png":  encodePNG(t, m),
		"image/gif":  encodeGIF(t, image.NewPaletted(m.Rect, palette256())),
		"image/webp": porttest.ImagesLosslessWebP(m),
	}
	// The GIF needs varied pixels for its data to be more than a few bytes.
	g := image.NewPaletted(m.Rect, palette256())
	for i := range g.Pix {
		g.Pix[i] = m.Pix[4*i]
	}
	files["image/gif"] = encodeGIF(t, g)
	for ct, data := range files {
		for _, frac := range []float64{0.02, 0.25, 0.5, 0.75, 0.95} {
			t.Run(fmt.Sprintf("%s cut at %g", ct, frac), func(t *testing.T) {
				_, err := p.MakeVariants(t.Context(), bytes.NewReader(data[:int(frac*float64(len(data)))]), ct, 0)
				wantCode(t, err, domain.Invalid)
			})
		}
	}
	lossy := lossyWebP(t)
	for _, n := range []int{20, 40, len(lossy) / 2, len(lossy) - 10} {
		_, err := p.MakeVariants(t.Context(), bytes.NewReader(lossy[:n]), "image/webp", 0)
		if !domain.IsCode(err, domain.Invalid) {
			t.Errorf("lossy webp cut at %d: err = %v, want Invalid", n, err)
		}
	}

	corrupt := func(data []byte, at int, b ...byte) []byte {
		out := bytes.Clone(data)
		copy(out[at:], b)
		return out
	}
	jpg, pn, gf, wb := files["image/jpeg"], files["image/png"], files["image/gif"], files["image/webp"]
	dht := bytes.Index(jpg, []byte{0xFF, 0xC4})
	sof := bytes.Index(jpg, []byte{0xFF, 0xC0})
	for name, c := range map[string]struct {
		data []byte
		ct   string
	}{
		"jpeg marker overwritten":     {corrupt(jpg, dht, 0x00, 0x00), "image/jpeg"},
		"jpeg six components":         {corrupt(jpg, sof+9, 6), "image/jpeg"},
		"png pixel data bit flip":     {corrupt(pn, len(pn)/2, pn[len(pn)/2]^0x10), "image/png"},
		"png header crc":              {corrupt(pn, 29, pn[29]^0xFF), "image/png"},
		"gif lzw code size":           {corrupt(gf, 13+3*256+10, 12), "image/gif"}, // header, screen, palette, image descriptor
		"webp lossless signature":     {corrupt(wb, 20, 0x2e), "image/webp"},
		"webp chunk size past end":    {corrupt(wb, 16, 0xFF, 0xFF, 0xFF, 0x7F), "image/webp"},
		"webp lossy frame start code": {corrupt(lossy, 23, 0x00), "image/webp"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.MakeVariants(t.Context(), bytes.NewReader(c.data), c.ct, 0)
			wantCode(t, err, domain.Invalid)
			t.Log(err)
		})
	}
}

func palette256() color.Palette {
	p := make(color.Palette, 256)
	for i := range p {
		p[i] = color.RGBA{uint8(i), uint8(255 - i), uint8(i / 2), 255}
	}
	return p
}

func TestContentTypeChecks(t *testing.T) {
	p := New(Config{})
	jpg := encodeJPEG(t, photo(40, 30, 1), 90)
	for ct, want := range map[string]string{
		"image/png":  "the file is a JPEG image, not image/png as declared",
		"image/bmp":  `content type "image/bmp" is not a supported image type`,
		"image/jpg":  `content type "image/jpg" is not a supported image type`,
		"image/webp": "the file is a JPEG image, not image/webp as declared",
	} {
		_, err := p.MakeVariants(t.Context(), bytes.NewReader(jpg), ct, 0)
		wantCode(t, err, domain.Invalid)
		if got := domain.ErrorMessage(err); got != want {
			t.Errorf("%s: message %q, want %q", ct, got, want)
		}
	}
	_, err := p.MakeVariants(t.Context(), bytes.NewReader([]byte("GIF89a but not really")), "image/jpeg", 0)
	if got := domain.ErrorMessage(err); got != "the file is a GIF image, not image/jpeg as declared" {
		t.Errorf("message %q", got)
	}
	_, err = p.MakeVariants(t.Context(), bytes.NewReader([]byte("hello")), "image/jpeg", 0)
	if got := domain.ErrorMessage(err); got != "the file is not a JPEG image" {
		t.Errorf("message %q", got)
	}
	if _, err := p.MakeVariants(t.Context(), bytes.NewReader(jpg), "IMAGE/JPEG; q=1", 0); err != nil {
		t.Errorf("upper case with a parameter: %v", err)
	}
}

func TestCancelledAndReadErrors(t *testing.T) {
	p := New(Config{})
	jpg := encodeJPEG(t, photo(40, 30, 1), 90)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.MakeVariants(ctx, bytes.NewReader(jpg), "image/jpeg", 0)
	wantCode(t, err, domain.Unavailable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v does not wrap context.Canceled", err)
	}

	boom := errors.New("connection reset")
	_, err = p.MakeVariants(t.Context(), io.MultiReader(bytes.NewReader(jpg[:100]), errReader{boom}), "image/jpeg", 0)
	wantCode(t, err, domain.Unavailable)
	if !errors.Is(err, boom) {
		t.Errorf("err %v does not wrap the read error", err)
	}
	gone := domain.Errorf(domain.NotFound, "no such object")
	_, err = p.MakeVariants(t.Context(), errReader{gone}, "image/jpeg", 0)
	if err != gone {
		t.Errorf("err = %v, want the reader's own domain error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Variants of a large photo: sizes, aspect and the 12-megapixel path.
func TestLargePhoto(t *testing.T) {
	skipUnderRace(t)
	vs := makeVariants(t, New(Config{}), jpeg12MP(t), "image/jpeg")
	for i, want := range [][2]int{{128, 128}, {320, 240}, {1080, 810}, {2048, 1536}} {
		if vs[i].Width != want[0] || vs[i].Height != want[1] {
			t.Errorf("%s is %dx%d, want %v", vs[i].Name, vs[i].Width, vs[i].Height, want)
		}
		decodeVariant(t, vs[i])
	}
}
