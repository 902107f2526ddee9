package imaging

import (
	"bytes"
	"context"
	"image/jpeg"
	"image/png"
	"testing"
)

// BenchmarkDecodeOnly is the yardstick of the issue: the standard library
// decoding the 12-megapixel JPEG, nothing else.
func BenchmarkDecodeOnly(b *testing.B) {
	data := jpeg12MP(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeline4000x3000 is everything MakeVariants does for the same file:
// read, sniff, header check, EXIF, decode, scale, orient, encode three
// variants. The target: at most 1.8x BenchmarkDecodeOnly.
func BenchmarkPipeline4000x3000(b *testing.B) {
	benchPipeline(b, jpeg12MP(b), "image/jpeg")
}

// BenchmarkDecodeOnlyPNG10MiB decodes the 10 MiB PNG with the standard library.
func BenchmarkDecodeOnlyPNG10MiB(b *testing.B) {
	data := png10MiB(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipelinePNG10MiB runs the pipeline on the 10 MiB PNG.
func BenchmarkPipelinePNG10MiB(b *testing.B) {
	benchPipeline(b, png10MiB(b), "image/png")
}

func benchPipeline(b *testing.B, data []byte, ct string) {
	p := New(Config{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MakeVariants(context.Background(), bytes.NewReader(data), ct, DefaultMaxBytes); err != nil {
			b.Fatal(err)
		}
	}
}
