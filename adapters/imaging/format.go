package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"

	"golang.org/x/image/webp"

	"github.com/cloudpost/cloudpost/core/domain"
)

// format is one accepted input format.
type format struct {
	contentType string
	name        string // for messages: "JPEG"
	magic       func([]byte) bool
	configFn    func(io.Reader) (image.Config, error)
	decodeFn    func(io.Reader) (image.Image, error)
}

var formats = []*format{
	{"image/jpeg", "JPEG", isJPEG, jpeg.DecodeConfig, jpeg.Decode},
	{"image/png", "PNG", isPNG, png.DecodeConfig, png.Decode},
	// gif.Decode returns the first frame only; gif.DecodeAll would decode
	// every frame, a memory bomb of its own.
	{"image/gif", "GIF", isGIF, gif.DecodeConfig, gif.Decode},
	{"image/webp", "WebP", isWebP, webp.DecodeConfig, webp.Decode},
}

func isJPEG(b []byte) bool { return len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF }
func isPNG(b []byte) bool  { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }
func isGIF(b []byte) bool {
	return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
}
func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}

// formatOf returns the format of a declared content type (parameters and case
// ignored). Returns Invalid for any type outside domain.AllowedImageTypes.
func formatOf(contentType string) (*format, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil && domain.AllowedImageTypes[mt] {
		for _, f := range formats {
			if f.contentType == mt {
				return f, nil
			}
		}
	}
	return nil, domain.Errorf(domain.Invalid, "content type %q is not a supported image type", contentType)
}

// checkMagic checks that data starts with f's signature. Returns Invalid naming
// the format the bytes do have, if any.
func (f *format) checkMagic(data []byte) error {
	if f.magic(data) {
		return nil
	}
	for _, g := range formats {
		if g.magic(data) {
			return domain.Errorf(domain.Invalid, "the file is a %s image, not %s as declared", g.name, f.contentType)
		}
	}
	return domain.Errorf(domain.Invalid, "the file is not a %s image", f.name)
}

// maxJPEGScans bounds the scans of a JPEG. The standard decoder walks every
// block of the image once per scan and sets no limit, so a small progressive
// file with thousands of near-empty scans would cost minutes of CPU. Encoders
// write one scan (baseline) or about ten (progressive).
const maxJPEGScans = 64

// checkCost refuses files whose decoding cost is not bounded by their pixel
// count: JPEGs with more than maxJPEGScans start-of-scan markers. Every scan
// begins with the bytes FF DA, which entropy-coded data never contains, so
// counting them over the whole file can only over-count (an embedded EXIF
// thumbnail adds its own one or two). Returns Invalid.
func (f *format) checkCost(data []byte) error {
	if f.contentType == "image/jpeg" && bytes.Count(data, []byte{0xFF, 0xDA}) > maxJPEGScans {
		return domain.Errorf(domain.Invalid, "the JPEG image has more than %d scans", maxJPEGScans)
	}
	return nil
}

// decodeConfig reads the dimensions from the header. Returns Invalid.
func (f *format) decodeConfig(data []byte) (cfg image.Config, err error) {
	defer f.recoverInvalid(&err)
	cfg, err = f.configFn(bytes.NewReader(data))
	if err != nil {
		return cfg, f.invalid(err)
	}
	return cfg, nil
}

// decode decodes the image. Returns Invalid.
func (f *format) decode(data []byte) (m image.Image, err error) {
	defer f.recoverInvalid(&err)
	m, err = f.decodeFn(bytes.NewReader(data))
	if err != nil {
		return nil, f.invalid(err)
	}
	return m, nil
}

// invalid turns a decoder error into a client-safe Invalid error.
func (f *format) invalid(err error) error {
	var (
		je jpeg.UnsupportedError
		pe png.UnsupportedError
	)
	if errors.As(err, &je) || errors.As(err, &pe) {
		return domain.Wrap(err, domain.Invalid, fmt.Sprintf("the %s image uses a feature that is not supported", f.name))
	}
	return domain.Wrap(err, domain.Invalid, fmt.Sprintf("the %s image is corrupt or truncated", f.name))
}

// recoverInvalid turns a decoder panic into Invalid: a decoder bug must not take
// down the process that handles untrusted uploads.
func (f *format) recoverInvalid(err *error) {
	if r := recover(); r != nil {
		*err = domain.Wrap(fmt.Errorf("decoder panic: %v", r), domain.Invalid,
			fmt.Sprintf("the %s image could not be decoded", f.name))
	}
}
