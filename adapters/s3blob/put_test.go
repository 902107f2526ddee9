package s3blob_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// stream hides every method but Read, so Put cannot measure or rewind it.
type stream struct{ r io.Reader }

func (s stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// failingReader returns some bytes, then an error.
type failingReader struct{ n int }

var errDisk = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errDisk
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

// patternReader yields n deterministic bytes without holding them.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n-r.off))
	for i := range k {
		x := r.off + int64(i)
		p[i] = byte(x*2654435761>>13) ^ byte(x)
	}
	r.off += int64(k)
	return k, nil
}

// TestPutStreams covers bodies that are not io.ReadSeekers: they are
// streamed and checked as they go, and a wrong size stores nothing.
func TestPutStreams(t *testing.T) {
	testPutStreams(t, newTestStore(t, discardLog()))
}

func testPutStreams(t *testing.T, s *s3blob.Store) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096+3) // 64 KiB and a bit: several reads
	old := []byte("old object")
	put := func(t *testing.T, key string, body io.Reader, size int64) error {
		t.Helper()
		return s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: size}, body)
	}
	expect := func(t *testing.T, key string, want []byte) {
		t.Helper()
		rc, info, err := s.Open(t.Context(), key)
		if want == nil {
			if !domain.IsCode(err, domain.NotFound) {
				t.Errorf("Open(%s): %v, want NotFound", key, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Open(%s): %v", key, err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, want) || info.Size != int64(len(want)) {
			t.Errorf("Open(%s): %d bytes (Size %d), %v; want the %d bytes", key, len(got), info.Size, err, len(want))
		}
	}
	t.Run("Exact", func(t *testing.T) {
		t.Parallel()
		key := "variants/" + porttest.NewID() + "/thumb"
		if err := put(t, key, stream{bytes.NewReader(data)}, int64(len(data))); err != nil {
			t.Fatalf("Put: %v", err)
		}
		expect(t, key, data)
	})
	for _, c := range []struct {
		name string
		body func() io.Reader
		want domain.Code
	}{
		{"OneByteLonger", func() io.Reader { return stream{bytes.NewReader(append(bytes.Clone(data), 'x'))} }, domain.Invalid},
		{"MuchLonger", func() io.Reader { return stream{io.MultiReader(bytes.NewReader(data), bytes.NewReader(data))} }, domain.Invalid},
		{"OneByteShorter", func() io.Reader { return stream{bytes.NewReader(data[1:])} }, domain.Invalid},
		{"Empty", func() io.Reader { return stream{strings.NewReader("")} }, domain.Invalid},
		{"ReadError", func() io.Reader { return &failingReader{n: len(data) / 2} }, domain.Internal},
		{"ReadErrorAtEnd", func() io.Reader { return &failingReader{n: len(data)} }, domain.Internal},
	} {
		for _, existing := range []bool{false, true} {
			name := c.name + "/Fresh"
			if existing {
				name = c.name + "/Existing"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				key := "variants/" + porttest.NewID() + "/thumb"
				var want []byte
				if existing {
					if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "text/plain", Size: int64(len(old))}, bytes.NewReader(old)); err != nil {
						t.Fatal(err)
					}
					want = old
				}
				err := put(t, key, c.body(), int64(len(data)))
				if !domain.IsCode(err, c.want) {
					t.Errorf("Put: %v, want %s", err, c.want)
				}
				if c.want == domain.Internal && !errors.Is(err, errDisk) {
					t.Errorf("Put: %v does not wrap the body's error", err)
				}
				expect(t, key, want)
			})
		}
	}
	t.Run("ZeroSize", func(t *testing.T) {
		t.Parallel()
		key := "variants/" + porttest.NewID() + "/empty"
		if err := put(t, key, stream{strings.NewReader("x")}, 0); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Put(1 byte, size 0): %v, want Invalid", err)
		}
		expect(t, key, nil)
		if err := put(t, key, stream{strings.NewReader("")}, 0); err != nil {
			t.Fatalf("Put(empty stream): %v", err)
		}
		expect(t, key, []byte{})
		// An empty object has no byte 0: S3 answers the ranged GET with 416.
		if head, err := s.ReadHead(t.Context(), key, 16); err != nil || len(head) != 0 {
			t.Errorf("ReadHead(empty object) = %q, %v", head, err)
		}
	})
}

// TestPutRejectsBadInput: nothing reaches S3 for arguments it would refuse.
func TestPutRejectsBadInput(t *testing.T) {
	s := newTestStore(t, discardLog())
	for _, key := range []string{"", "a//b", "/a", "a/", "a/./b", "a/../b", "a\x00b", "a\nb", string([]byte{0xff, 'a'}), strings.Repeat("k", s3blob.MaxKeyLen+1)} {
		if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: 1}, strings.NewReader("x")); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Put(key %q): %v, want Invalid", key, err)
		}
		if _, err := s.PresignUpload(t.Context(), porttestPolicy(key)); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("PresignUpload(key %q): %v, want Invalid", key, err)
		}
		if _, err := s.Stat(t.Context(), key); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("Stat(key %q): %v, want NotFound", key, err)
		}
	}
	for _, ct := range []string{"", "image", "image/png; charset"} {
		if err := s.Put(t.Context(), ports.Object{Key: "k/1", ContentType: ct, Size: 1}, strings.NewReader("x")); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Put(content type %q): %v, want Invalid", ct, err)
		}
	}
	for _, size := range []int64{-1, s3blob.MaxObjectSize + 1} {
		if err := s.Put(t.Context(), ports.Object{Key: "k/1", ContentType: "image/png", Size: size}, stream{strings.NewReader("x")}); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Put(size %d): %v, want Invalid", size, err)
		}
	}
	if _, err := s.ReadHead(t.Context(), "k/1", -1); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("ReadHead(-1): %v, want Invalid", err)
	}
	// A key with spaces and non-ASCII survives the round trip.
	key := "uploads/ü ber/" + porttest.NewID() + "+x"
	if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: 3}, strings.NewReader("xyz")); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if info, err := s.Stat(t.Context(), key); err != nil || info.Size != 3 || info.Key != key {
		t.Errorf("Stat(%q) = %+v, %v", key, info, err)
	}
}

// TestLargeObjectsStream puts and reads back an object much larger than
// the memory the adapter may use for it: neither direction buffers it.
func TestLargeObjectsStream(t *testing.T) {
	s := newTestStore(t, discardLog())
	const size = 6*s3blob.PartSize + 12345
	const budget = 3 * s3blob.PartSize // one part buffer plus the SDK's own, well under the object's size
	key := "uploads/large/" + porttest.NewID()

	wantSum := sha256.New()
	io.Copy(wantSum, &patternReader{n: size})

	before := totalAlloc()
	if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: size}, stream{&patternReader{n: size}}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	used := totalAlloc() - before
	t.Logf("Put of %d MiB allocated %.1f MiB", size>>20, float64(used)/(1<<20))
	if used > budget {
		t.Errorf("Put of %d MiB allocated %d MiB: the body was buffered", size>>20, used>>20)
	}

	before = totalAlloc()
	rc, info, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sum := sha256.New()
	n, err := io.Copy(sum, rc)
	rc.Close()
	if err != nil || n != size || info.Size != size {
		t.Fatalf("Open: read %d of %d bytes (Size %d): %v", n, size, info.Size, err)
	}
	used = totalAlloc() - before
	t.Logf("Open of %d MiB allocated %.1f MiB", size>>20, float64(used)/(1<<20))
	if used > budget {
		t.Errorf("Open of %d MiB allocated %d MiB: the body was buffered", size>>20, used>>20)
	}
	if !bytes.Equal(sum.Sum(nil), wantSum.Sum(nil)) {
		t.Error("read back other bytes than were put")
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func porttestPolicy(key string) ports.UploadPolicy {
	return ports.UploadPolicy{Key: key, ContentType: "image/png", Size: 1, Expires: time.Minute}
}

// TestPutMultipartWrongSize: a stream larger than one part goes as a
// multipart upload, which is aborted, not completed, when the body turns
// out shorter or longer than declared.
func TestPutMultipartWrongSize(t *testing.T) {
	s := newTestStore(t, discardLog())
	const size = s3blob.PartSize + 1000
	for name, n := range map[string]int64{"Shorter": size - 1, "Longer": size + 1, "MuchShorter": 10} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := "uploads/mp/" + porttest.NewID()
			if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: size}, stream{&patternReader{n: n}}); !domain.IsCode(err, domain.Invalid) {
				t.Errorf("Put(%d bytes, size %d): %v, want Invalid", n, int64(size), err)
			}
			if _, err := s.Stat(t.Context(), key); !domain.IsCode(err, domain.NotFound) {
				t.Errorf("Stat after a refused Put: %v, want NotFound", err)
			}
			ups, err := s.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket()), Prefix: &key})
			if err != nil {
				t.Fatal(err)
			}
			if len(ups.Uploads) != 0 {
				t.Errorf("%d multipart uploads left for %s, want them aborted", len(ups.Uploads), key)
			}
		})
	}
}
