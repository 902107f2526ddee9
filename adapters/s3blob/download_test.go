package s3blob_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestDownloadOverrides checks the signed response overrides of a presigned
// GET and what versitygw serves with them.
func TestDownloadOverrides(t *testing.T) {
	s := newTestStore(t, discardLog())
	key := "uploads/dl/" + porttest.NewID()
	data := []byte("<html>stored as text/html</html>")
	if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "text/html", Size: int64(len(data)), MaxAge: 90 * time.Minute}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: key, Expires: 10 * time.Minute, ContentType: "image/png", Attachment: true})
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, u).Query()
	for k, v := range map[string]string{
		"response-content-type": "image/png", "response-content-disposition": "attachment",
		"response-cache-control": "private, max-age=600", "X-Amz-Expires": "600",
	} {
		if got := q.Get(k); got != v {
			t.Errorf("query %s = %q, want %q", k, got, v)
		}
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k, v := range map[string]string{"Content-Type": "image/png", "Content-Disposition": "attachment", "Cache-Control": "private, max-age=600"} {
		if got := resp.Header.Get(k); resp.StatusCode != http.StatusOK || got != v {
			t.Errorf("GET: %d, %s %q, want %q", resp.StatusCode, k, got, v)
		}
	}

	// Without overrides only the Cache-Control is set, over the stored one.
	u, err = s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: key, Expires: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if q := mustParse(t, u).Query(); q.Has("response-content-type") || q.Has("response-content-disposition") || q.Get("response-cache-control") != "private, max-age=90" {
		t.Errorf("plain download URL query %v", q)
	}
}

// TestPutCacheControl checks that MaxAge is stored as the object's
// Cache-Control, what a CDN serves, and that no MaxAge stores none.
func TestPutCacheControl(t *testing.T) {
	s := newTestStore(t, discardLog())
	for maxAge, want := range map[time.Duration]string{0: "", 90*time.Minute + 500*time.Millisecond: "max-age=5400"} {
		key := "variants/cc/" + porttest.NewID()
		for name, body := range map[string]func() io.Reader{
			"Seekable": func() io.Reader { return strings.NewReader("RIFF") },
			"Stream":   func() io.Reader { return stream{strings.NewReader("RIFF")} },
		} {
			if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/webp", Size: 4, MaxAge: maxAge}, body()); err != nil {
				t.Fatalf("%s Put: %v", name, err)
			}
			out, err := s.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: &key})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.CacheControl); got != want {
				t.Errorf("%s Put with MaxAge %s: Cache-Control %q, want %q", name, maxAge, got, want)
			}
		}
	}
	// A multipart Put stores it too.
	key := "variants/cc/" + porttest.NewID()
	size := int64(s3blob.PartSize + 10)
	if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/webp", Size: size, MaxAge: time.Hour}, stream{&patternReader{n: size}}); err != nil {
		t.Fatal(err)
	}
	out, err := s.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: &key})
	if err != nil || aws.ToString(out.CacheControl) != "max-age=3600" {
		t.Errorf("multipart Put: Cache-Control %q, %v", aws.ToString(out.CacheControl), err)
	}
}

// TestCDNIgnoresOverrides documents that a CDN URL cannot carry the
// overrides: it is the same URL with or without them.
func TestCDNIgnoresOverrides(t *testing.T) {
	s, err := s3blob.NewWithAWS(s3blob.Config{Bucket: "media-bucket", Region: "eu-west-1", CDNURL: "https://media.example.com"},
		testAWSConfig("AKFAKE", "secret"), discardLog())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/m1/thumb", Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	with, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/m1/thumb", Expires: time.Hour, ContentType: "image/png", Attachment: true})
	if err != nil || with != plain || plain != "https://media.example.com/variants/m1/thumb" {
		t.Errorf("CDN URLs %q and %q (%v), want the plain URL both times", plain, with, err)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
