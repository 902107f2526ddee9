package imaging

import (
	"bytes"
	"context"
	"image/jpeg"
	"image/png"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDecodeOnly is the yardstick of the issue: the standard library
// decoding the 12-megapixel JPEG, nothing else.
func BenchmarkDecodeOnly(b *testing.B) {
	data := jpeg12MP(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkPipeline4000x3000 is everything MakeVariants does for the same file:
// read, sniff, header check, EXIF and ICC, decode, scale, orient, encode four
// variants. The first issue's target, a ratio to BenchmarkDecodeOnly, was
// set for three variants; the large one (a 3-megapixel JPEG made from the
// full-size planes) adds to the CPU time.
func BenchmarkPipeline4000x3000(b *testing.B) {
	benchPipeline(b, jpeg12MP(b), "image/jpeg")
}

// BenchmarkDecodeOnlyPNG10MiB decodes the 10 MiB PNG with the standard library.
func BenchmarkDecodeOnlyPNG10MiB(b *testing.B) {
	data := png10MiB(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkPipelinePNG10MiB runs the pipeline on the 10 MiB PNG.
func BenchmarkPipelinePNG10MiB(b *testing.B) {
	benchPipeline(b, png10MiB(b), "image/png")
}

func benchPipeline(b *testing.B, data []byte, ct string) {
	p := New(Config{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := p.MakeVariants(context.Background(), bytes.NewReader(data), ct, DefaultMaxBytes); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start (all cores): on a
// shared machine a steadier yardstick than the wall time, which the
// pipeline's concurrency shortens when cores are free.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	}
}
