// Package imaging is the pure-Go image pipeline behind ports.Images. It checks
// an uploaded JPEG, PNG, GIF (first frame) or WebP image against its declared
// content type and against byte, pixel and side limits (read from the header,
// before any pixel is allocated), decodes it once, applies its EXIF orientation
// and makes the thumb, small, medium and large variants, re-encoded without any
// metadata but the source's ICC colour profile: JPEG for opaque images, PNG for
// images with transparency.
//
// Speed comes from never converting or scaling more pixels than needed: a
// decoded JPEG (or lossy WebP) stays in its YCbCr planes, which are scaled
// independently and concurrently; each plane is reduced by exact 2x2 box
// averaging into a lazily built pyramid that all variants share, a separable
// fixed-point Catmull-Rom pass makes the last, less than 4x, step (see
// pyramidLevel for the trade-off), orientation is applied to the small
// results, and the JPEG encoder takes the YCbCr planes as they are; the
// variants are encoded concurrently. Other images are scaled as premultiplied
// RGBA, so transparent pixels never bleed into their neighbours.
//
// Colour: pixels are never converted between colour spaces. A well-formed ICC
// profile of the source (JPEG APP2, PNG iCCP, WebP ICCP) whose colour space
// matches the variants' pixels is written into every variant, so a Display P3
// photo shows as Display P3; without one, viewers assume sRGB, as they do for
// the source.
//
// Memory: the decoders allocate the whole image (and more: a progressive JPEG
// keeps 4 bytes per sample of coefficients), so MakeVariants estimates from
// the header what an image will cost before decoding it and waits until that
// much of the pipeline's memory budget (Config.MemoryBudget) is free; the
// encoded input and each pyramid level are released as soon as nothing needs
// them.
package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Limits and output sizes of the pipeline.
const (
	// DefaultMaxBytes is the byte limit used when MakeVariants gets maxBytes <= 0.
	DefaultMaxBytes = 10 << 20
	// DefaultMaxPixels is the pixel limit used when Config.MaxPixels is <= 0.
	DefaultMaxPixels = 40_000_000
	// DefaultJPEGQuality is the JPEG quality used when Config.JPEGQuality is <= 0.
	DefaultJPEGQuality = 82
	// DefaultMemoryBudget is the memory budget used when Config.MemoryBudget
	// is 0 and the Go runtime has no memory limit (GOMEMLIMIT): room for the
	// costliest image the default limits let in (a 40-megapixel interlaced
	// 16-bit PNG or progressive 4:4:4 JPEG) with typical photos beside it,
	// or for four 40-megapixel 8-bit PNGs (TestPeakMemoryTable prints the
	// estimate and the measured peak of each).
	DefaultMemoryBudget = 1 << 30

	// ThumbSize is the side of the square thumb variant (cover, centre crop).
	ThumbSize = 128
	// SmallWidth is the width of the small variant.
	SmallWidth = 320
	// MediumWidth is the width of the medium variant.
	MediumWidth = 1080
	// LargeSide is the longest side of the large variant, the full-size
	// rendition: enough for a full-screen view on a high-density phone or a
	// laptop, a quarter of a 12-megapixel photo's pixels.
	LargeSide = 2048
	// MaxSide is the longest side accepted: the largest a JPEG variant can
	// have (a 600x66000 strip is under 40 megapixels, but its medium variant
	// could not be encoded).
	MaxSide = 65535
)

// Config configures a Pipeline. The zero value gives the defaults.
type Config struct {
	// MaxPixels is the largest width*height accepted (DefaultMaxPixels when <= 0).
	MaxPixels int64
	// JPEGQuality is the quality of JPEG variants, 1 to 100 (DefaultJPEGQuality
	// when <= 0, 100 when above).
	JPEGQuality int
	// MemoryBudget bounds, in bytes, the memory that the images being
	// processed at once by this Pipeline may need together, as estimated
	// from their headers before decoding. A call waits until its image fits;
	// an image that needs more than the whole budget waits until it can run
	// alone. 0 picks a default: half the Go runtime's memory limit when
	// GOMEMLIMIT is set (the other half is for garbage not yet collected and
	// the rest of the process), else DefaultMemoryBudget. Negative means
	// unlimited. The budget bounds live image memory; only a memory limit
	// (GOMEMLIMIT) makes the collector keep garbage within a bound too.
	MemoryBudget int64
}

// Pipeline makes image variants. It holds no mutable state but its memory
// budget: one Pipeline may be used by many goroutines at once, and should be
// shared by all of a process's image work so the budget bounds it all.
type Pipeline struct {
	maxPixels int64
	quality   int
	// budget is the memory budget in bytes, mem its semaphore (nil when
	// unlimited).
	budget int64
	mem    *semaphore.Weighted
}

var _ ports.Images = (*Pipeline)(nil)

// New returns a Pipeline for cfg, with defaults for zero fields.
func New(cfg Config) *Pipeline {
	p := &Pipeline{maxPixels: cfg.MaxPixels, quality: cfg.JPEGQuality, budget: cfg.MemoryBudget}
	if p.maxPixels <= 0 {
		p.maxPixels = DefaultMaxPixels
	}
	if p.quality <= 0 {
		p.quality = DefaultJPEGQuality
	}
	p.quality = min(p.quality, 100)
	if p.budget == 0 {
		p.budget = defaultBudget(debug.SetMemoryLimit(-1))
	}
	if p.budget > 0 {
		p.mem = semaphore.NewWeighted(p.budget)
	}
	return p
}

// defaultBudget is the memory budget for a Go memory limit of limit bytes
// (math.MaxInt64 when there is none).
func defaultBudget(limit int64) int64 {
	if limit <= 0 || limit == math.MaxInt64 {
		return DefaultMemoryBudget
	}
	return max(limit/2, 1)
}

// MemoryBudget returns the pipeline's memory budget in bytes, -1 when
// unlimited.
func (p *Pipeline) MemoryBudget() int64 {
	if p.mem == nil {
		return -1
	}
	return p.budget
}

// MakeVariants reads at most maxBytes of src (DefaultMaxBytes when maxBytes <=
// 0), checks that they are a complete image of contentType (image/jpeg,
// image/png, image/gif or image/webp, sniffed from the magic bytes), decodes
// it, applies its EXIF orientation and returns the thumb, small, medium and
// large variants in domain.VariantNames order. Variants are never upscaled:
// the thumb is a centred square of side min(128, width, height), small and
// medium are min(320 or 1080, width) wide and large has its longer side
// min(LargeSide, longer side), each with the aspect ratio kept. Variants carry
// no metadata but the source's ICC colour profile, when it is well formed and
// of the variants' colour space (RGB, or gray for a gray JPEG variant; the
// profile of a CMYK JPEG is dropped, since its pixels are converted to RGB
// without it); they are JPEG (quality Config.JPEGQuality) unless the image
// has transparent pixels, then PNG.
//
// Before decoding, it estimates from the header the memory the image will
// need (the decoder's allocations for its layout, the pyramid, the
// variants) and waits until that much of the pipeline's memory budget is
// free.
//
// Returns Invalid when contentType is not a supported image type, the bytes are
// not an image of that type, the image is corrupt or truncated, or it would
// cost far more to decode than its size justifies (a JPEG of more than 64
// scans); the message says which. Returns TooLarge when src holds more than
// maxBytes, or the header declares more than Config.MaxPixels pixels or a side
// longer than MaxSide (nothing is decoded then). Returns Unavailable when ctx
// ends (also while waiting for memory) or src fails to read (a *domain.Error
// from src is returned as is).
func (p *Pipeline) MakeVariants(ctx context.Context, src io.Reader, contentType string, maxBytes int64) ([]domain.Variant, error) {
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	f, err := formatOf(contentType)
	if err != nil {
		return nil, err
	}
	data, err := readLimited(src, maxBytes)
	if err != nil {
		return nil, err
	}
	cfg, err := p.check(f, data)
	if err != nil {
		return nil, err
	}
	orient := orientation(f, data)
	icc := iccProfile(f, data)
	release, err := p.reserve(ctx, estimate(f, data, cfg))
	if err != nil {
		return nil, err
	}
	defer release()
	img, err := f.decode(data)
	if err != nil {
		return nil, err
	}
	// The decoders allocate exactly what the header declared (GIF frames are
	// checked against the screen); this guards against a decoder that does not.
	if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > p.maxPixels {
		return nil, domain.Errorf(domain.TooLarge, "the image is larger than its header declares")
	}
	// Neither data nor img is used below, so the collector may take the
	// encoded input (and whatever of the decoded image the source does not
	// keep) while the variants are made.
	s := newSource(img, cfg.Width, cfg.Height)
	if icc != nil && string(icc[16:20]) != s.colourSpace() {
		icc = nil // a profile of CMYK pixels now RGB, an RGB one of gray pixels...
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	// Each variant is encoded as soon as it is scaled, while the next ones
	// are: encoding is most of the remaining work (the large JPEG above all),
	// and a single-threaded encoder would otherwise leave cores idle.
	n := len(targets(s.w, s.h, orient))
	meta := newMetadata(icc, s.contentType())
	variants := make([]domain.Variant, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	s.eachVariant(orient, func(i int, o output) {
		wg.Go(func() {
			if errs[i] = ctx.Err(); errs[i] == nil {
				variants[i], errs[i] = o.encode(p.quality, meta)
			}
		})
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, domain.Wrap(err, domain.Internal, "encoding an image variant failed")
	}
	return variants, nil
}

// check reads the header of data and checks it against the limits. Returns
// Invalid or TooLarge.
func (p *Pipeline) check(f *format, data []byte) (image.Config, error) {
	if err := f.checkMagic(data); err != nil {
		return image.Config{}, err
	}
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return cfg, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, domain.Errorf(domain.Invalid, "the %s image has no pixels", f.name)
	}
	if cfg.Width > MaxSide || cfg.Height > MaxSide {
		return cfg, domain.Errorf(domain.TooLarge, "the image is %dx%d pixels; no side may be longer than %d pixels",
			cfg.Width, cfg.Height, MaxSide)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > p.maxPixels {
		return cfg, domain.Errorf(domain.TooLarge, "the image is %dx%d pixels, more than the limit of %s",
			cfg.Width, cfg.Height, megapixels(p.maxPixels))
	}
	if err := f.checkCost(data); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// reserve waits until need bytes (at most the whole budget) of the memory
// budget are free and takes them; release gives them back. Returns
// Unavailable when ctx ends first.
func (p *Pipeline) reserve(ctx context.Context, need int64) (release func(), err error) {
	if p.mem == nil {
		return func() {}, nil
	}
	n := min(max(need, 1), p.budget)
	if !p.mem.TryAcquire(n) {
		if err := p.mem.Acquire(ctx, n); err != nil {
			return nil, domain.Wrap(err, domain.Unavailable, "image processing was cancelled while waiting for memory")
		}
		// The memory just given back is garbage until the collector runs,
		// and the collector paces itself on the heap it last found live,
		// which included that memory: without a collection now, this image
		// would be decoded into fresh memory beside the last one's garbage.
		// A collection is cheap here (pixels hold no pointers to scan) and
		// happens only when calls contend for the budget.
		runtime.GC()
	}
	// Acquire may succeed on an ended context when the memory is free.
	if err := ctx.Err(); err != nil {
		p.mem.Release(n)
		return nil, cancelled(err)
	}
	return func() { p.mem.Release(n) }, nil
}

// readLimited reads all of r, failing with TooLarge once it holds more than max
// bytes.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	// Size the buffer from the reader when it knows its length (bytes.Reader,
	// strings.Reader, bytes.Buffer) so a large file is not copied while growing.
	hint := int64(bytes.MinRead)
	if l, ok := r.(interface{ Len() int }); ok {
		hint = int64(l.Len()) + bytes.MinRead
	}
	var buf bytes.Buffer
	buf.Grow(int(min(hint, max+bytes.MinRead)))
	if _, err := buf.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		if _, ok := errors.AsType[*domain.Error](err); ok {
			return nil, err
		}
		return nil, domain.Wrap(err, domain.Unavailable, "could not read the image")
	}
	if int64(buf.Len()) > max {
		return nil, domain.Errorf(domain.TooLarge, "the image is larger than %d bytes", max)
	}
	if buf.Len() == 0 {
		return nil, domain.Errorf(domain.Invalid, "the image is empty")
	}
	return buf.Bytes(), nil
}

// megapixels formats a pixel count for messages: "40 megapixels", "12345 pixels".
func megapixels(n int64) string {
	if n >= 1_000_000 && n%100_000 == 0 {
		return fmt.Sprintf("%g megapixels", float64(n)/1e6)
	}
	return fmt.Sprintf("%d pixels", n)
}

func cancelled(err error) error {
	return domain.Wrap(err, domain.Unavailable, "image processing was cancelled")
}
