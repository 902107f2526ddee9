package ports

import (
	"context"
	"io"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Images turns an uploaded image into display variants.
type Images interface {
	// MakeVariants decodes the image in src (at most maxBytes are read),
	// applies its orientation and returns the thumb, small, medium and
	// large variants (domain.VariantNames; variants are never upscaled).
	// Variants carry no metadata (no EXIF, XMP, IPTC, comments) except the
	// image's colour profile, so wide-gamut photos keep their colour.
	// Returns Invalid when the bytes are not a decodable image of
	// contentType (the message says why), TooLarge when the image exceeds
	// the byte or pixel limits, Unavailable when ctx ends first.
	MakeVariants(ctx context.Context, src io.Reader, contentType string, maxBytes int64) ([]domain.Variant, error)
}
