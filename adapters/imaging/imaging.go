// Package imaging is the pure-Go image pipeline behind ports.Images. It checks
// an uploaded JPEG, PNG, GIF (first frame) or WebP image against its declared
// content type and against byte, pixel and side limits (read from the header,
// before any pixel is allocated), decodes it once, applies its EXIF orientation
// and makes the thumb, small and medium variants, re-encoded without any
// metadata: JPEG for opaque images, PNG for images with transparency.
//
// Speed comes from never converting or scaling more pixels than needed: a
// decoded JPEG (or lossy WebP) stays in its YCbCr planes, which are scaled
// independently and concurrently; each plane is reduced by exact 2x2 box
// averaging into a lazily built pyramid that all variants share, a separable
// fixed-point Catmull-Rom pass makes the last, less than 4x, step (see
// pyramidLevel for the trade-off), orientation is applied to the small
// results, and the JPEG encoder takes the YCbCr planes as they are. Other
// images are scaled as premultiplied RGBA, so transparent pixels never bleed
// into their neighbours.
package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

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

	// ThumbSize is the side of the square thumb variant (cover, centre crop).
	ThumbSize = 128
	// SmallWidth is the width of the small variant.
	SmallWidth = 320
	// MediumWidth is the width of the medium variant.
	MediumWidth = 1080
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
}

// Pipeline makes image variants. It holds no mutable state: one Pipeline may be
// used by many goroutines at once.
type Pipeline struct {
	maxPixels int64
	quality   int
}

var _ ports.Images = (*Pipeline)(nil)

// New returns a Pipeline for cfg, with defaults for zero fields.
func New(cfg Config) *Pipeline {
	p := &Pipeline{maxPixels: cfg.MaxPixels, quality: cfg.JPEGQuality}
	if p.maxPixels <= 0 {
		p.maxPixels = DefaultMaxPixels
	}
	if p.quality <= 0 {
		p.quality = DefaultJPEGQuality
	}
	p.quality = min(p.quality, 100)
	return p
}

// MakeVariants reads at most maxBytes of src (DefaultMaxBytes when maxBytes <=
// 0), checks that they are a complete image of contentType (image/jpeg,
// image/png, image/gif or image/webp, sniffed from the magic bytes), decodes
// it, applies its EXIF orientation and returns the thumb, small and medium
// variants in domain.VariantNames order. Variants are never upscaled: the thumb
// is a centred square of side min(128, width, height), small and medium are
// min(320 or 1080, width) wide with the aspect ratio kept. Variants carry no
// metadata; they are JPEG (quality Config.JPEGQuality) unless the image has
// transparent pixels, then PNG.
//
// Returns Invalid when contentType is not a supported image type, the bytes are
// not an image of that type, the image is corrupt or truncated, or it would
// cost far more to decode than its size justifies (a JPEG of more than 64
// scans); the message says which. Returns TooLarge when src holds more than
// maxBytes, or the header declares more than Config.MaxPixels pixels or a side
// longer than MaxSide (nothing is decoded then). Returns Unavailable when ctx
// ends or src fails to read (a *domain.Error from src is returned as is).
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
	if err := f.checkMagic(data); err != nil {
		return nil, err
	}
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, domain.Errorf(domain.Invalid, "the %s image has no pixels", f.name)
	}
	if cfg.Width > MaxSide || cfg.Height > MaxSide {
		return nil, domain.Errorf(domain.TooLarge, "the image is %dx%d pixels; no side may be longer than %d pixels",
			cfg.Width, cfg.Height, MaxSide)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > p.maxPixels {
		return nil, domain.Errorf(domain.TooLarge, "the image is %dx%d pixels, more than the limit of %s",
			cfg.Width, cfg.Height, megapixels(p.maxPixels))
	}
	if err := f.checkCost(data); err != nil {
		return nil, err
	}
	orient := orientation(f, data)
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	img, err := f.decode(data)
	if err != nil {
		return nil, err
	}
	// The decoders allocate exactly what the header declared (GIF frames are
	// checked against the screen); this guards against a decoder that does not.
	if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > p.maxPixels {
		return nil, domain.Errorf(domain.TooLarge, "the image is larger than its header declares")
	}
	s := newSource(img, cfg.Width, cfg.Height)
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	outs := s.makeVariants(orient)
	variants := make([]domain.Variant, 0, len(outs))
	for _, o := range outs {
		if err := ctx.Err(); err != nil {
			return nil, cancelled(err)
		}
		v, err := o.encode(p.quality)
		if err != nil {
			return nil, domain.Wrap(err, domain.Internal, "encoding an image variant failed")
		}
		variants = append(variants, v)
	}
	return variants, nil
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
