package s3blob_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/testlog"
	"github.com/cloudpost/cloudpost/ports"
)

// fakeS3 answers every request with the status and S3 error code of the
// test case and counts the requests.
type fakeS3 struct {
	srv      *httptest.Server
	requests atomic.Int32
}

func newFakeS3(t *testing.T, h http.HandlerFunc) *fakeS3 {
	t.Helper()
	f := &fakeS3{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test %s</Message><RequestId>R1</RequestId></Error>`, code, code)
	}
}

func fakeStore(t *testing.T, endpoint string, log *slog.Logger) *s3blob.Store {
	t.Helper()
	s, err := s3blob.NewWithAWS(s3blob.Config{Bucket: "media-bucket", Region: "eu-west-1", Endpoint: endpoint, PathStyle: true},
		testAWSConfig("AKFAKE", "secret"), log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestErrorTranslation checks the mapping of S3 answers to domain errors,
// that the SDK retried what it retries before Unavailable is returned, and
// that access problems are logged with the bucket and key.
func TestErrorTranslation(t *testing.T) {
	const key = "uploads/u1/m1"
	cases := []struct {
		status   int
		code     string
		want     domain.Code
		attempts int32  // requests per operation (the standard retryer makes 3)
		logLevel string // "": no log line
	}{
		{404, "NoSuchKey", domain.NotFound, 1, ""},
		{403, "AccessDenied", domain.Internal, 1, "ERROR"},
		{403, "SignatureDoesNotMatch", domain.Internal, 1, "ERROR"},
		{403, "InvalidAccessKeyId", domain.Internal, 1, "ERROR"},
		{400, "InvalidArgument", domain.Internal, 1, "ERROR"},
		{503, "SlowDown", domain.Unavailable, 3, "WARN"},
		{500, "InternalError", domain.Unavailable, 3, "WARN"},
		{503, "ServiceUnavailable", domain.Unavailable, 3, "WARN"},
		{429, "TooManyRequests", domain.Unavailable, 3, "WARN"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) { writeS3Error(w, r, c.status, c.code) })
			var rec testlog.Buffer
			s := fakeStore(t, f.srv.URL, rec.Logger())
			ops := map[string]func() error{
				"Stat": func() error { _, err := s.Stat(t.Context(), key); return err },
				"Open": func() error { _, _, err := s.Open(t.Context(), key); return err },
				"ReadHead": func() error {
					_, err := s.ReadHead(t.Context(), key, 512)
					return err
				},
				"Put": func() error {
					return s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: 3}, strings.NewReader("abc"))
				},
				"PutStream": func() error {
					return s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: 3}, io.MultiReader(strings.NewReader("abc")))
				},
			}
			if c.code != "NoSuchKey" { // DeleteObjects does not report missing keys
				ops["Delete"] = func() error { return s.Delete(t.Context(), key, "variants/m1/thumb") }
			}
			for name, op := range ops {
				before := f.requests.Load()
				err := op()
				want := c.want
				if !domain.IsCode(err, want) {
					t.Errorf("%s: got %v, want %s", name, err, want)
				}
				if n := f.requests.Load() - before; n != c.attempts {
					t.Errorf("%s: %d requests, want %d", name, n, c.attempts)
				}
				if msg := domain.ErrorMessage(err); strings.Contains(msg, "media-bucket") || (want == domain.Internal && msg != "internal error") {
					t.Errorf("%s: client-visible message %q", name, msg)
				}
			}
			lines := rec.Lines(t)
			if c.logLevel == "" {
				if len(lines) != 0 {
					t.Errorf("log lines for %s: %v", c.code, lines)
				}
				return
			}
			if len(lines) != len(ops) {
				t.Fatalf("%d log lines, want one per operation (%d): %v", len(lines), len(ops), lines)
			}
			for _, l := range lines {
				if l["level"] != c.logLevel || l["bucket"] != "media-bucket" || l["key"] == "" || l["op"] == "" {
					t.Errorf("log line %v, want level %s with the bucket, key and op", l, c.logLevel)
				}
				if c.status != 404 && l["status"] != float64(c.status) {
					t.Errorf("log line %v: want status %d", l, c.status)
				}
			}
			if c.code == "AccessDenied" && !strings.Contains(fmt.Sprint(lines[0]["msg"]), "access denied") {
				t.Errorf("log message %q, want it to say access denied", lines[0]["msg"])
			}
		})
	}
}

// TestWriteErrorTranslation checks the answers only writes get: a refused
// conditional write (PreconditionFailed) and a full server (Unavailable,
// logged as an error since someone must make room).
func TestWriteErrorTranslation(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   domain.Code
		logged bool
	}{
		{412, "PreconditionFailed", domain.PreconditionFailed, false},
		{409, "ConditionalRequestConflict", domain.PreconditionFailed, false},
		{403, "QuotaExceeded", domain.Unavailable, true},
		{507, "InsufficientStorage", domain.Unavailable, true},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) { writeS3Error(w, r, c.status, c.code) })
			var rec testlog.Buffer
			s := fakeStore(t, f.srv.URL, rec.Logger())
			err := s.Put(t.Context(), ports.Object{Key: "variants/m1/thumb", ContentType: "image/png", Size: 3}, strings.NewReader("abc"))
			if !domain.IsCode(err, c.want) {
				t.Errorf("Put: got %v, want %s", err, c.want)
			}
			if n := f.requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
			if lines := rec.Lines(t); (len(lines) == 1 && lines[0]["level"] == "ERROR") != c.logged || len(lines) > 1 {
				t.Errorf("log lines %v, want logged=%v at error level", lines, c.logged)
			}
		})
	}
}

// TestHeadErrors covers HEAD answers, which have no body: the SDK names
// them by status only.
func TestHeadErrors(t *testing.T) {
	for status, want := range map[int]domain.Code{404: domain.NotFound, 403: domain.Internal, 503: domain.Unavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
			var rec testlog.Buffer
			s := fakeStore(t, f.srv.URL, rec.Logger())
			_, err := s.Stat(t.Context(), "variants/m/thumb")
			if !domain.IsCode(err, want) {
				t.Errorf("Stat: got %v, want %s", err, want)
			}
			if _, err := s.ReadHead(t.Context(), "variants/m/thumb", 0); !domain.IsCode(err, want) {
				t.Errorf("ReadHead(0): got %v, want %s", err, want)
			}
			if status == 403 {
				l := rec.Lines(t)
				if len(l) == 0 || l[0]["key"] != "variants/m/thumb" || l[0]["bucket"] != "media-bucket" || l[0]["msg"] != "s3blob: S3 access denied" {
					t.Errorf("log lines %v, want an access denied line naming bucket and key", l)
				}
			}
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Run("Refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close() // nothing listens there any more
		var rec testlog.Buffer
		s := fakeStore(t, url, rec.Logger())
		if _, err := s.Stat(t.Context(), "k/1"); !domain.IsCode(err, domain.Unavailable) {
			t.Errorf("Stat: got %v, want Unavailable", err)
		}
		if err := s.Put(t.Context(), ports.Object{Key: "k/1", ContentType: "image/png", Size: 1}, strings.NewReader("x")); !domain.IsCode(err, domain.Unavailable) {
			t.Errorf("Put: got %v, want Unavailable", err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		var rec testlog.Buffer
		s := fakeStore(t, f.srv.URL, rec.Logger())
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := s.Stat(ctx, "k/1"); !domain.IsCode(err, domain.Unavailable) {
			t.Errorf("Stat: got %v, want Unavailable", err)
		}
		if l := rec.Lines(t); len(l) != 0 {
			t.Errorf("a caller's own deadline is not logged: %v", l)
		}
	})
}

// TestDeletePerKeyErrors checks DeleteObjects answers: missing keys are
// fine, a refused key is Internal and logged with its key, and more than
// 1000 keys go in several requests.
func TestDeletePerKeyErrors(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || !r.URL.Query().Has("delete") {
			writeS3Error(w, r, 400, "UnexpectedRequest")
			return
		}
		mu.Lock()
		batches = append(batches, bytes.Count(body, []byte("<Key>")))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><DeleteResult>`)
		if bytes.Contains(body, []byte("<Key>uploads/u/denied</Key>")) {
			io.WriteString(w, `<Error><Key>uploads/u/denied</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		}
		io.WriteString(w, `<Error><Key>uploads/u/gone</Key><Code>NoSuchKey</Code><Message>gone</Message></Error></DeleteResult>`)
	})
	var rec testlog.Buffer
	s := fakeStore(t, f.srv.URL, rec.Logger())

	keys := []string{"uploads/u/gone"}
	for i := range 2100 {
		keys = append(keys, fmt.Sprintf("variants/m%d/thumb", i))
	}
	if err := s.Delete(t.Context(), keys...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if fmt.Sprint(batches) != "[1000 1000 101]" {
		t.Errorf("batches %v, want [1000 1000 101]", batches)
	}
	if err := s.Delete(t.Context(), "", "a//b", "uploads/u/denied"); !domain.IsCode(err, domain.Internal) {
		t.Errorf("Delete(denied key): got %v, want Internal", err)
	}
	if l := rec.Lines(t); len(l) != 1 || l[0]["key"] != "uploads/u/denied" || l[0]["level"] != "ERROR" {
		t.Errorf("log lines %v, want one error naming the denied key", l)
	}
	if err := s.Delete(t.Context()); err != nil {
		t.Errorf("Delete(): %v", err)
	}
	if n := f.requests.Load(); n != 4 {
		t.Errorf("%d requests, want 4 (no request for no keys)", n)
	}
}

// TestReadHeadEmptyObject: an empty object has no byte 0, so S3 answers a
// ranged GET with 416 InvalidRange; that is an empty head, not an error.
func TestReadHeadEmptyObject(t *testing.T) {
	f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) { writeS3Error(w, r, 416, "InvalidRange") })
	s := fakeStore(t, f.srv.URL, discardLog())
	head, err := s.ReadHead(t.Context(), "k/empty", 16)
	if err != nil || head == nil || len(head) != 0 {
		t.Errorf("ReadHead = %q, %v; want empty, nil", head, err)
	}
}
