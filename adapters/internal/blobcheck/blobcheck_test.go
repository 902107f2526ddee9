package blobcheck

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cloudpost/cloudpost/core/domain"
)

func TestKey(t *testing.T) {
	for _, ok := range []string{"a", "uploads/u1/m1", "variants/m1/thumb", "é/ü", strings.Repeat("k", MaxKeyLen)} {
		if err := Key(ok); err != nil {
			t.Errorf("Key(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("k", MaxKeyLen+1), "\xff", "a\x00b", "a\x7f", "/a", "a/", "a//b", "a/./b", "../a", "a/.."} {
		if err := Key(bad); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("Key(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestContentType(t *testing.T) {
	for _, ok := range []string{"image/png", "text/plain; charset=utf-8"} {
		if err := ContentType(ok); err != nil {
			t.Errorf("ContentType(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "image", "image/png; =x", "/"} {
		if err := ContentType(bad); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("ContentType(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		size        int64
		upload, put bool
	}{{-1, false, false}, {0, false, true}, {1, true, true}, {MaxObjectSize, true, true}, {MaxObjectSize + 1, false, false}} {
		if got := UploadSize(c.size) == nil; got != c.upload {
			t.Errorf("UploadSize(%d) ok = %v, want %v", c.size, got, c.upload)
		}
		if got := PutSize(c.size) == nil; got != c.put {
			t.Errorf("PutSize(%d) ok = %v, want %v", c.size, got, c.put)
		}
	}
}

func TestReadExactly(t *testing.T) {
	failing := errors.New("read failed")
	for _, c := range []struct {
		name string
		r    io.Reader
		n    int
		last bool
		want error
	}{
		{"exact", strings.NewReader("abc"), 3, true, nil},
		{"exact, one byte at a time", iotest.OneByteReader(strings.NewReader("abc")), 3, true, nil},
		{"exact, EOF with the data", iotest.DataErrReader(strings.NewReader("abc")), 3, true, nil},
		{"empty", strings.NewReader(""), 0, true, nil},
		{"short", strings.NewReader("ab"), 3, true, ErrTooShort},
		{"long", strings.NewReader("abcd"), 3, true, ErrTooLong},
		{"long, not last", strings.NewReader("abcd"), 3, false, nil},
		{"read error", iotest.ErrReader(failing), 3, true, failing},
		{"read error after the size", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(failing)), 3, true, failing},
	} {
		buf := make([]byte, c.n)
		err := ReadExactly(c.r, buf, c.last)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if c.want == nil && !bytes.Equal(buf, []byte("abcd")[:c.n]) {
			t.Errorf("%s: read %q", c.name, buf)
		}
	}
}

func TestPutBodyError(t *testing.T) {
	for _, err := range []error{ErrTooShort, ErrTooLong} {
		got := PutBodyError(7, err)
		if domain.ErrorCode(got) != domain.Invalid || !strings.Contains(domain.ErrorMessage(got), "exactly 7 bytes") {
			t.Errorf("PutBodyError(%v) = %v, want Invalid naming the size", err, got)
		}
	}
	cause := errors.New("network")
	if got := PutBodyError(7, cause); domain.ErrorCode(got) != domain.Internal || !errors.Is(got, cause) {
		t.Errorf("PutBodyError(read failure) = %v, want Internal wrapping the cause", got)
	}
}
