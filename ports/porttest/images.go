package porttest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// imagesMaxBytes is the byte limit the suite passes unless a case tests it.
const imagesMaxBytes = 10 << 20

// RunImages checks img against the ports.Images contract with small images of
// every allowed type (WebP made by ImagesLosslessWebP):
//   - the three variants come in domain.VariantNames order with the documented
//     sizes (thumb: centred square of side min(128, width, height); small and
//     medium: min(320 or 1080, width) wide, aspect kept, height within one
//     pixel), never upscaled, each a JPEG or PNG file of exactly that size
//     whose colours match the input;
//   - the EXIF orientation is applied and the EXIF block (with its GPS data)
//     is not copied into any variant;
//   - transparent pixels stay transparent;
//   - a declared type that does not match the bytes, an unsupported type,
//     garbage, empty and truncated files fail with Invalid;
//   - more bytes than maxBytes, or a header declaring 50000x50000 pixels
//     (far above any sane pixel limit), fail with TooLarge.
func RunImages(t *testing.T, img ports.Images) {
	pattern := func(w, h int) image.Image { return imagesQuadrants(w, h, 255) }

	t.Run("Variants", func(t *testing.T) {
		cases := []struct {
			name        string
			contentType string
			data        []byte
			w, h        int
		}{
			{"jpeg landscape", "image/jpeg", imagesEncode(t, "jpeg", pattern(1600, 1200)), 1600, 1200},
			{"png smaller than every variant", "image/png", imagesEncode(t, "png", pattern(200, 100)), 200, 100},
			{"png tall and narrow", "image/png", imagesEncode(t, "png", pattern(90, 700)), 90, 700},
			{"gif", "image/gif", imagesEncode(t, "gif", pattern(400, 300)), 400, 300},
			{"gif one pixel", "image/gif", imagesEncode(t, "gif", pattern(1, 1)), 1, 1},
			{"webp", "image/webp", ImagesLosslessWebP(pattern(360, 180)), 360, 180},
			{"content type with parameters", "image/png; charset=binary", imagesEncode(t, "png", pattern(40, 30)), 40, 30},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				vs, err := img.MakeVariants(t.Context(), bytes.NewReader(c.data), c.contentType, imagesMaxBytes)
				if err != nil {
					t.Fatalf("MakeVariants: %v", err)
				}
				ms := imagesCheckVariants(t, vs, c.w, c.h)
				for i, m := range ms {
					imagesCheckQuadrants(t, vs[i].Name, m, imagesQuadrantColours(255), 12)
				}
			})
		}
	})

	t.Run("OrientationApplied", func(t *testing.T) {
		// Stored 400x200: left half red, right half blue. The orientation says
		// how to turn it for display.
		stored := image.NewRGBA(image.Rect(0, 0, 400, 200))
		for y := range 200 {
			for x := range 400 {
				c := color.RGBA{200, 30, 30, 255}
				if x >= 200 {
					c = color.RGBA{30, 30, 200, 255}
				}
				stored.SetRGBA(x, y, c)
			}
		}
		jpg := imagesEncode(t, "jpeg", stored)
		red, blue := [3]float64{200, 30, 30}, [3]float64{30, 30, 200}
		for _, c := range []struct {
			orientation int
			w, h        int
			// where the red and the blue half are on display, as fractions of the size
			redAt, blueAt [2]float64
		}{
			{1, 400, 200, [2]float64{0.25, 0.5}, [2]float64{0.75, 0.5}},
			{3, 400, 200, [2]float64{0.75, 0.5}, [2]float64{0.25, 0.5}}, // rotated 180°
			{6, 200, 400, [2]float64{0.5, 0.25}, [2]float64{0.5, 0.75}}, // rotated 90° clockwise: left goes up
			{8, 200, 400, [2]float64{0.5, 0.75}, [2]float64{0.5, 0.25}}, // rotated 90° counter-clockwise: left goes down
		} {
			t.Run(fmt.Sprint(c.orientation), func(t *testing.T) {
				data := ImagesJPEGWithEXIF(jpg, ImagesEXIF(c.orientation))
				vs, err := img.MakeVariants(t.Context(), bytes.NewReader(data), "image/jpeg", imagesMaxBytes)
				if err != nil {
					t.Fatalf("MakeVariants: %v", err)
				}
				ms := imagesCheckVariants(t, vs, c.w, c.h)
				m := ms[2] // medium
				b := m.Bounds()
				at := func(f [2]float64) image.Rectangle {
					x, y := int(f[0]*float64(b.Dx())), int(f[1]*float64(b.Dy()))
					return image.Rect(x-10, y-10, x+10, y+10)
				}
				imagesCheckMean(t, "medium red half", m, at(c.redAt), red, 12)
				imagesCheckMean(t, "medium blue half", m, at(c.blueAt), blue, 12)
			})
		}
	})

	t.Run("MetadataStripped", func(t *testing.T) {
		data := ImagesJPEGWithEXIF(imagesEncode(t, "jpeg", pattern(600, 400)), ImagesEXIF(1))
		vs, err := img.MakeVariants(t.Context(), bytes.NewReader(data), "image/jpeg", imagesMaxBytes)
		if err != nil {
			t.Fatalf("MakeVariants: %v", err)
		}
		imagesCheckVariants(t, vs, 600, 400)
		for _, v := range vs {
			if bytes.Contains(v.Data, []byte(ImagesGPSMarker)) || bytes.Contains(v.Data, []byte("Exif\x00")) {
				t.Errorf("%s variant still holds the EXIF/GPS block", v.Name)
			}
		}
	})

	t.Run("TransparencyKept", func(t *testing.T) {
		// Left half fully transparent, right half opaque green.
		m := image.NewNRGBA(image.Rect(0, 0, 300, 200))
		for y := range 200 {
			for x := 150; x < 300; x++ {
				m.SetNRGBA(x, y, color.NRGBA{20, 180, 40, 255})
			}
		}
		for _, c := range []struct{ ct, format string }{{"image/png", "png"}, {"image/webp", "webp"}} {
			t.Run(c.format, func(t *testing.T) {
				var data []byte
				if c.format == "webp" {
					data = ImagesLosslessWebP(m)
				} else {
					data = imagesEncode(t, "png", m)
				}
				vs, err := img.MakeVariants(t.Context(), bytes.NewReader(data), c.ct, imagesMaxBytes)
				if err != nil {
					t.Fatalf("MakeVariants: %v", err)
				}
				for i, out := range imagesCheckVariants(t, vs, 300, 200) {
					b := out.Bounds()
					_, _, _, a := out.At(b.Min.X+b.Dx()/8, b.Min.Y+b.Dy()/2).RGBA()
					if a != 0 {
						t.Errorf("%s: transparent half has alpha %#x", vs[i].Name, a)
					}
					right := image.Rect(b.Dx()*5/8, 0, b.Dx(), b.Dy())
					imagesCheckMean(t, vs[i].Name+" opaque half", out, right, [3]float64{20, 180, 40}, 8)
				}
			})
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		png1 := imagesEncode(t, "png", pattern(64, 48))
		jpg1 := imagesEncode(t, "jpeg", pattern(64, 48))
		gif1 := imagesEncode(t, "gif", pattern(64, 48))
		webp1 := ImagesLosslessWebP(pattern(64, 48))
		garbage := make([]byte, 4096)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range garbage {
			garbage[i] = byte(r.Uint32())
		}
		cases := []struct {
			name, contentType string
			data              []byte
		}{
			{"png declared as jpeg", "image/jpeg", png1},
			{"jpeg declared as png", "image/png", jpg1},
			{"gif declared as webp", "image/webp", gif1},
			{"webp declared as gif", "image/gif", webp1},
			{"unsupported type", "image/bmp", png1},
			{"not an image type", "text/plain", png1},
			{"empty content type", "", png1},
			{"empty file", "image/png", nil},
			{"garbage", "image/jpeg", garbage},
			{"jpeg magic then garbage", "image/jpeg", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, garbage...)},
			{"png signature only", "image/png", png1[:8]},
			{"truncated png", "image/png", png1[:len(png1)/2]},
			{"truncated jpeg", "image/jpeg", jpg1[:len(jpg1)/2]},
			{"truncated gif", "image/gif", gif1[:len(gif1)/2]},
			{"truncated webp", "image/webp", webp1[:len(webp1)/2]},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				vs, err := img.MakeVariants(t.Context(), bytes.NewReader(c.data), c.contentType, imagesMaxBytes)
				if !domain.IsCode(err, domain.Invalid) {
					t.Fatalf("got %d variants, error %v; want Invalid", len(vs), err)
				}
				if domain.ErrorMessage(err) == "" {
					t.Error("Invalid error without a message")
				}
			})
		}
	})

	t.Run("TooManyBytes", func(t *testing.T) {
		data := imagesEncode(t, "png", pattern(64, 48))
		n := int64(len(data))
		if _, err := img.MakeVariants(t.Context(), bytes.NewReader(data), "image/png", n-1); !domain.IsCode(err, domain.TooLarge) {
			t.Fatalf("maxBytes one below the size: err = %v, want TooLarge", err)
		}
		if _, err := img.MakeVariants(t.Context(), bytes.NewReader(data), "image/png", n); err != nil {
			t.Fatalf("maxBytes equal to the size: %v", err)
		}
	})

	t.Run("TooManyPixels", func(t *testing.T) {
		data := ImagesPNGBomb(50000, 50000)
		if _, err := img.MakeVariants(t.Context(), bytes.NewReader(data), "image/png", imagesMaxBytes); !domain.IsCode(err, domain.TooLarge) {
			t.Fatalf("PNG declaring 50000x50000: err = %v, want TooLarge", err)
		}
	})
}

// ImagesPNGBomb returns a small, well-formed PNG file whose header declares a
// w x h RGBA image while its data holds a single zlib-compressed row: a
// decompression bomb for any decoder that allocates before checking the size.
func ImagesPNGBomb(w, h uint32) []byte {
	chunk := func(out []byte, typ string, data []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(out, typ...)
		out = append(out, data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, deflate, no filter method, no interlace
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 1+4*min(w, 4096)))
	_ = zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = chunk(out, "IHDR", ihdr)
	out = chunk(out, "IDAT", z.Bytes())
	return chunk(out, "IEND", nil)
}

// imagesQuadrants returns a w x h image of four flat quadrants (see
// imagesQuadrantColours) with alpha a.
func imagesQuadrants(w, h int, a uint8) *image.NRGBA {
	cs := imagesQuadrantColours(a)
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			m.SetNRGBA(x, y, cs[q])
		}
	}
	return m
}

// imagesQuadrantColours are the top-left, top-right, bottom-left and
// bottom-right colours of imagesQuadrants.
func imagesQuadrantColours(a uint8) [4]color.NRGBA {
	return [4]color.NRGBA{{220, 40, 40, a}, {40, 200, 60, a}, {50, 60, 210, a}, {230, 220, 90, a}}
}

// imagesEncode encodes m with the standard library: "jpeg" (quality 90),
// "png" or "gif" (a palette of m's own colours, which must be at most 256).
func imagesEncode(t testing.TB, format string, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
	case "png":
		err = png.Encode(&buf, m)
	case "gif":
		err = gif.Encode(&buf, imagesPaletted(t, m), nil)
	default:
		t.Fatalf("imagesEncode: unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("encoding %s: %v", format, err)
	}
	return buf.Bytes()
}

// imagesPaletted returns m as a paletted image of its exact colours.
func imagesPaletted(t testing.TB, m image.Image) *image.Paletted {
	t.Helper()
	b := m.Bounds()
	index := map[color.NRGBA]uint8{}
	p := image.NewPaletted(b, nil)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			i, ok := index[c]
			if !ok {
				if len(p.Palette) == 256 {
					t.Fatal("imagesPaletted: more than 256 colours")
				}
				i = uint8(len(p.Palette))
				index[c] = i
				p.Palette = append(p.Palette, c)
			}
			p.SetColorIndex(x, y, i)
		}
	}
	return p
}

// imagesCheckVariants checks names, order, sizes and encodings of the variants
// of a w x h (as displayed) image, and returns them decoded.
func imagesCheckVariants(t *testing.T, vs []domain.Variant, w, h int) []image.Image {
	t.Helper()
	if len(vs) != len(domain.VariantNames) {
		t.Fatalf("got %d variants, want %d", len(vs), len(domain.VariantNames))
	}
	side := min(128, w, h)
	want := map[string][2]int{domain.VariantThumb: {side, side}}
	for name, width := range map[string]int{domain.VariantSmall: 320, domain.VariantMedium: 1080} {
		ow := min(width, w)
		want[name] = [2]int{ow, max(1, int(math.Round(float64(h)*float64(ow)/float64(w))))}
	}
	out := make([]image.Image, len(vs))
	for i, v := range vs {
		if v.Name != domain.VariantNames[i] {
			t.Fatalf("variant %d is %q, want %q", i, v.Name, domain.VariantNames[i])
		}
		ww := want[v.Name]
		if v.Width != ww[0] || imagesAbs(v.Height-ww[1]) > 1 || (v.Name == domain.VariantThumb && v.Height != ww[1]) {
			t.Errorf("%s is %dx%d, want %dx%d", v.Name, v.Width, v.Height, ww[0], ww[1])
		}
		m, format, err := image.Decode(bytes.NewReader(v.Data))
		if err != nil {
			t.Fatalf("%s does not decode: %v", v.Name, err)
		}
		if "image/"+format != v.ContentType || (format != "jpeg" && format != "png") {
			t.Errorf("%s is %s, labelled %q; want a JPEG or PNG labelled as such", v.Name, format, v.ContentType)
		}
		if b := m.Bounds(); b.Dx() != v.Width || b.Dy() != v.Height {
			t.Errorf("%s decodes to %dx%d, labelled %dx%d", v.Name, b.Dx(), b.Dy(), v.Width, v.Height)
		}
		out[i] = m
	}
	return out
}

// imagesCheckQuadrants checks the mean colour inside each quadrant (away from
// the edges, which filters may blend) of a variant of an imagesQuadrants
// image.
func imagesCheckQuadrants(t *testing.T, name string, m image.Image, cs [4]color.NRGBA, tol float64) {
	t.Helper()
	b := m.Bounds()
	if b.Dx() < 8 || b.Dy() < 8 {
		return // too small for quadrants to have an inside
	}
	w, h := b.Dx(), b.Dy()
	for q, c := range cs {
		x0, y0 := b.Min.X+(q%2)*w/2, b.Min.Y+(q/2)*h/2
		r := image.Rect(x0+w/8, y0+h/8, x0+w/2-w/8, y0+h/2-h/8)
		imagesCheckMean(t, fmt.Sprintf("%s quadrant %d", name, q), m, r, [3]float64{float64(c.R), float64(c.G), float64(c.B)}, tol)
	}
}

// imagesCheckMean checks that the mean non-premultiplied colour of m inside r
// is within tol of want on every channel.
func imagesCheckMean(t *testing.T, what string, m image.Image, r image.Rectangle, want [3]float64, tol float64) {
	t.Helper()
	r = r.Intersect(m.Bounds())
	if r.Empty() {
		t.Fatalf("%s: empty region", what)
	}
	var sum [3]float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			sum[0] += float64(c.R)
			sum[1] += float64(c.G)
			sum[2] += float64(c.B)
		}
	}
	n := float64(r.Dx() * r.Dy())
	for i := range sum {
		if got := sum[i] / n; math.Abs(got-want[i]) > tol {
			t.Errorf("%s: mean colour %.1f, %.1f, %.1f; want %v within %g", what, sum[0]/n, sum[1]/n, sum[2]/n, want, tol)
			return
		}
	}
}

func imagesAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
