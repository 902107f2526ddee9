package s3blob

import (
	"errors"
	"io"

	"github.com/cloudpost/cloudpost/core/domain"
)

// errTooLong and errTooShort report a body of another size than declared.
var (
	errTooLong  = errors.New("body is longer than declared")
	errTooShort = errors.New("body is shorter than declared")
)

// readExactly fills buf from r: errTooShort if r ends first, r's error if
// reading fails. With last, it then reads one more byte to check that r
// ends there: errTooLong if it does not.
func readExactly(r io.Reader, buf []byte, last bool) error {
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errTooShort
		}
		return err
	}
	if !last {
		return nil
	}
	var b [1]byte
	for range 100 { // io.Reader may return 0, nil; give up like bufio does
		n, err := r.Read(b[:])
		switch {
		case n > 0:
			return errTooLong
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// bodyError is the error Put returns for what readExactly reported.
func bodyError(size int64, err error) error {
	if errors.Is(err, errTooLong) || errors.Is(err, errTooShort) {
		return wrongSize(size)
	}
	return domain.Wrap(err, domain.Internal, "reading the object body failed")
}
