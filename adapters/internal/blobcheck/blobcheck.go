// Package blobcheck holds the argument and body rules that every blob
// adapter (adapters/s3blob, adapters/memory/memblob) applies the same way,
// so that code that works against the in-memory fake also works against
// S3: key, content type and size limits (S3's), and reading a body that
// must hold exactly the declared number of bytes (ports.Blobs.Put). Every
// error is an Invalid domain error unless its doc says otherwise.
package blobcheck

import (
	"errors"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/cloudpost/cloudpost/core/domain"
)

// S3's limits, which the fake mirrors.
const (
	// MaxKeyLen is the longest key in bytes.
	MaxKeyLen = 1024
	// MaxObjectSize is the largest object a single PUT may carry.
	MaxObjectSize = 5 << 30
)

// Key checks a blob key: non-empty, at most MaxKeyLen bytes, UTF-8, no
// control characters, no empty, "." or ".." segments (they do not survive
// URL path cleaning in browsers, CDNs and the fake's handler). Returns
// Invalid.
func Key(key string) error {
	switch {
	case key == "":
		return domain.Errorf(domain.Invalid, "key is required")
	case len(key) > MaxKeyLen:
		return domain.Errorf(domain.Invalid, "key must have at most %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return domain.Errorf(domain.Invalid, "key must be valid UTF-8")
	}
	start := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) && key[i] != '/' {
			if c := key[i]; c < 0x20 || c == 0x7f {
				return domain.Errorf(domain.Invalid, "key must not contain control characters")
			}
			continue
		}
		if seg := key[start:i]; seg == "" || seg == "." || seg == ".." {
			return domain.Errorf(domain.Invalid, "key must not have empty, '.' or '..' segments")
		}
		start = i + 1
	}
	return nil
}

// ContentType checks that ct is a media type ("type/subtype", parameters
// allowed). Returns Invalid.
func ContentType(ct string) error {
	if ct == "" {
		return domain.Errorf(domain.Invalid, "content type is required")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(mt, "/") {
		return domain.Errorf(domain.Invalid, "content type is not a valid media type")
	}
	return nil
}

// UploadSize checks the size a presigned upload declares: 1 to
// MaxObjectSize bytes. Returns Invalid.
func UploadSize(size int64) error {
	if size < 1 || size > MaxObjectSize {
		return domain.Errorf(domain.Invalid, "size must be between 1 and %d bytes", int64(MaxObjectSize))
	}
	return nil
}

// PutSize checks the size of an object the application writes itself
// (ports.Blobs.Put): 0 to MaxObjectSize bytes. Returns Invalid.
func PutSize(size int64) error {
	if size < 0 || size > MaxObjectSize {
		return domain.Errorf(domain.Invalid, "size must be between 0 and %d bytes", int64(MaxObjectSize))
	}
	return nil
}

// ErrTooShort and ErrTooLong report a body of another size than declared
// (ReadExactly).
var (
	ErrTooShort = errors.New("body is shorter than declared")
	ErrTooLong  = errors.New("body is longer than declared")
)

// ReadExactly fills buf from r. It returns ErrTooShort if r ends first
// and r's error if reading fails. With last, it then reads one more byte
// to check that r ends there: ErrTooLong if it does not, so a body without
// a declared length (chunked) is never read more than one byte beyond the
// size. io.ErrNoProgress when r keeps returning nothing.
func ReadExactly(r io.Reader, buf []byte, last bool) error {
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return ErrTooShort
		}
		return err
	}
	if !last {
		return nil
	}
	var b [1]byte
	for range 100 { // an io.Reader may return 0, nil; give up as bufio does
		n, err := r.Read(b[:])
		switch {
		case n > 0:
			return ErrTooLong
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// WrongSize is the Invalid error of Put for a body that does not hold
// exactly size bytes.
func WrongSize(size int64) error {
	return domain.Errorf(domain.Invalid, "body does not hold exactly %d bytes", size)
}

// PutBodyError is what Put returns for an error of ReadExactly on a body
// declared to hold size bytes: WrongSize (Invalid) for ErrTooShort and
// ErrTooLong, Internal (keeping err as the cause) for a failed read.
func PutBodyError(size int64, err error) error {
	if errors.Is(err, ErrTooShort) || errors.Is(err, ErrTooLong) {
		return WrongSize(size)
	}
	return domain.Wrap(err, domain.Internal, "reading the object body failed")
}
