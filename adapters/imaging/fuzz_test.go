package imaging

import (
	"bytes"
	"image"
	"image/color"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

var fuzzTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// FuzzMakeVariants feeds arbitrary bytes to the decoder entry point. It must
// never panic or hang, must fail only with Invalid or TooLarge, and whatever it
// accepts must yield four decodable variants no larger than the input, with
// no ICC profile but a well-formed one of the input.
// typ picks the declared type; values past the list declare the sniffed type
// so that mutations reach the decoders rather than the magic-byte check.
// CI runs it briefly:
//
//	go test -run XXX -fuzz FuzzMakeVariants -fuzztime 20s -fuzzminimizetime 3s ./adapters/imaging
//
// (a short minimisation time keeps the fuzzer from spending the whole run
// minimising its first finds).
func FuzzMakeVariants(f *testing.F) {
	small := photo(40, 30, 1)
	alpha := image.NewNRGBA(image.Rect(0, 0, 24, 20))
	for i := range alpha.Pix {
		alpha.Pix[i] = uint8(i * 13)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 16, 12), color.Palette{color.Black, color.White, color.Transparent})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	lossy := lossyWebP(f)
	seeds := [][]byte{
		encodeJPEG(f, small, 80),
		porttest.ImagesJPEGWithEXIF(encodeJPEG(f, small, 60), porttest.ImagesEXIF(6)),
		encodeJPEG(f, image.NewGray(image.Rect(0, 0, 9, 7)), 80),
		encodePNG(f, small),
		encodePNG(f, alpha),
		pngWithEXIF(f, small, porttest.ImagesEXIF(7)),
		encodePNG(f, pal),
		encodeGIF(f, pal),
		porttest.ImagesLosslessWebP(alpha),
		lossy,
		webpExtended(150, 100, lossy[12:], append([]byte{0}, make([]byte, 150*100)...), porttest.ImagesEXIF(3)),
		porttest.ImagesPNGBomb(50000, 50000),
		// colour profiles: several APP2 chunks, iCCP, ICCP
		porttest.ImagesJPEGWithICC(encodeJPEG(f, small, 70), withPrivateTag(porttest.ImagesDisplayP3Profile(), 70_000)),
		porttest.ImagesPNGWithICC(encodePNG(f, alpha), porttest.ImagesDisplayP3Profile()),
		webpExtendedICC(40, 30, porttest.ImagesLosslessWebP(small)[12:], porttest.ImagesDisplayP3Profile()),
		// every metadata block
		jpegWithEverything(encodeJPEG(f, small, 60), porttest.ImagesSRGBProfile()),
		pngWithEverything(encodePNG(f, small), nil),
		webpWithEverything(alpha, porttest.ImagesDisplayP3Profile()),
		// layouts the standard encoder does not write
		testJPEG(f, 24, 16, jpegCMYK),
		testJPEG(f, 24, 16, jpegProgressive444),
		rawPNG(f, 13, 11, 6, 16, true),
		// broken ones
		encodePNG(f, small)[:100],
		encodeJPEG(f, small, 80)[:300],
		[]byte("GIF89a\x10\x00\x10\x00"),
		[]byte("RIFF\x10\x00\x00\x00WEBPVP8L"),
		{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8},
		nil,
	}
	for i, s := range seeds {
		f.Add(s, uint8(len(fuzzTypes)+i%2))
		f.Add(s, uint8(i%len(fuzzTypes)))
	}
	// A small pixel limit keeps each run fast; the limit logic is the same.
	p := New(Config{MaxPixels: 1 << 18})
	f.Fuzz(func(t *testing.T, data []byte, typ uint8) {
		ct := "image/png"
		if int(typ) < len(fuzzTypes) {
			ct = fuzzTypes[typ]
		} else {
			for _, g := range formats {
				if g.magic(data) {
					ct = g.contentType
				}
			}
		}
		vs, err := p.MakeVariants(t.Context(), bytes.NewReader(data), ct, 1<<20)
		if err != nil {
			if c := domain.ErrorCode(err); c != domain.Invalid && c != domain.TooLarge {
				t.Fatalf("error code %s: %v", c, err)
			}
			if domain.ErrorMessage(err) == "" {
				t.Fatal("error without a message")
			}
			return
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("accepted a file image.DecodeConfig rejects: %v", err)
		}
		if len(vs) != len(domain.VariantNames) {
			t.Fatalf("%d variants", len(vs))
		}
		var src *format
		for _, g := range formats {
			if g.contentType == ct {
				src = g
			}
		}
		profile := iccProfile(src, data)
		for i, v := range vs {
			if p := porttest.ImagesICCProfile(v.Data); p != nil && !bytes.Equal(p, profile) {
				t.Fatalf("%s carries a profile of %d bytes that is not the input's", v.Name, len(p))
			}
			if v.Name != domain.VariantNames[i] || len(v.Data) == 0 || v.Width < 1 || v.Height < 1 {
				t.Fatalf("variant %d: %s %dx%d, %d bytes", i, v.Name, v.Width, v.Height, len(v.Data))
			}
			if err == nil && v.Width*v.Height > cfg.Width*cfg.Height {
				t.Fatalf("%s is %dx%d, larger than the %dx%d input", v.Name, v.Width, v.Height, cfg.Width, cfg.Height)
			}
			m, _, derr := image.Decode(bytes.NewReader(v.Data))
			if derr != nil || m.Bounds().Dx() != v.Width || m.Bounds().Dy() != v.Height {
				t.Fatalf("%s does not decode to its size: %v", v.Name, derr)
			}
		}
	})
}
