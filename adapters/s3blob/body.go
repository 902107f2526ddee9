package s3blob

import (
	"errors"
	"io"

	"github.com/cloudpost/cloudpost/core/domain"
)

// exactReader passes on exactly left bytes of r and fails when r holds more
// or fewer. It holds back the final bytes until it has seen r end: S3
// stores an object once it has received Content-Length bytes, so a longer
// body must be refused before the last declared byte leaves.
type exactReader struct {
	r    io.Reader
	left int64
	// err is errTooLong, errTooShort or r's own read error, once seen.
	err error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		if err := e.checkEOF(); err != nil {
			e.err = err
			return 0, err
		}
		return n, io.EOF
	case err == io.EOF:
		e.err = errTooShort
		return 0, e.err
	case err != nil:
		e.err = err
		return 0, err
	}
	return n, nil
}

// checkEOF reads one more byte from r: errTooLong if there is one, nil at
// EOF, r's error otherwise.
func (e *exactReader) checkEOF() error {
	var b [1]byte
	for range 100 { // io.Reader may return 0, nil; give up like bufio does
		n, err := e.r.Read(b[:])
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

// fail turns what the exactReader saw into the error Put returns.
func (e *exactReader) fail(size int64, err error) error {
	if errors.Is(err, errTooLong) || errors.Is(err, errTooShort) {
		return wrongSize(size)
	}
	return domain.Wrap(err, domain.Internal, "reading the object body failed")
}
