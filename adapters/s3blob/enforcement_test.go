package s3blob_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// s3Error is the body of an S3 error answer.
type s3Error struct {
	Code    string
	Message string
}

type uploadResult struct {
	status int
	err    s3Error
	header http.Header
}

// sendUpload sends body to a presigned target as a plain HTTP client would,
// with the given Content-Type and the target's "If-None-Match: *" (unless
// extra sets If-None-Match, to nil to leave it out), and chunked (no
// Content-Length) if asked.
func sendUpload(t *testing.T, method, rawURL, contentType string, body []byte, chunked bool, extra http.Header) uploadResult {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = struct{ io.Reader }{r} // unknown length: Transfer-Encoding: chunked
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("If-None-Match", "*")
	for k, vs := range extra {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e s3Error
	if resp.StatusCode >= 300 && len(data) > 0 {
		if err := xml.Unmarshal(data, &e); err != nil {
			t.Fatalf("error body %q: %v", data, err)
		}
	}
	return uploadResult{status: resp.StatusCode, err: e, header: resp.Header}
}

// TestUploadEnforcement checks that each forged upload is refused by the S3
// server for the right reason (its error code), not by accident, and that
// nothing is stored.
func TestUploadEnforcement(t *testing.T) {
	s := newTestStore(t, discardLog())
	data := bytes.Repeat([]byte("cloudpost"), 200)
	presign := func(t *testing.T, key string, expires time.Duration) domain.UploadTarget {
		t.Helper()
		tg, err := s.PresignUpload(t.Context(), ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: expires})
		if err != nil {
			t.Fatalf("PresignUpload: %v", err)
		}
		if tg.Method != http.MethodPut || len(tg.Headers) != 2 || tg.Headers["Content-Type"] != "image/png" || tg.Headers["If-None-Match"] != "*" {
			t.Fatalf("target = %+v, want a PUT with the headers Content-Type and If-None-Match: *", tg)
		}
		u, err := url.Parse(tg.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Query().Get("X-Amz-SignedHeaders"); got != "content-length;content-type;host;if-none-match" {
			t.Fatalf("signed headers %q, want content-length;content-type;host;if-none-match", got)
		}
		return tg
	}
	cases := []struct {
		name        string
		forge       func(tg domain.UploadTarget, key, other string) (rawURL, contentType string, body []byte, chunked bool)
		status      int
		code, other string // code: the S3 error code; other: an alternative one
		// ifNoneMatch replaces the If-None-Match header (nil: leave it out).
		ifNoneMatch []string
	}{
		{"TamperedSignature", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tamperSignature(t, tg.URL), "image/png", data, false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		{"WrongContentType", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "image/jpeg", data, false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		{"MissingContentType", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "", data, false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		{"LargerBody", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "image/png", append(bytes.Clone(data), 'x'), false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		{"SmallerBody", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "image/png", data[1:], false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		// Without a Content-Length the signed header cannot match; real S3
		// answers 411 MissingContentLength before even checking it.
		{"LargerBodyChunked", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "image/png", append(bytes.Clone(data), 'x'), true
		}, 403, "SignatureDoesNotMatch", "MissingContentLength", []string{"*"}},
		{"OtherKey", func(tg domain.UploadTarget, key, other string) (string, string, []byte, bool) {
			return strings.Replace(tg.URL, key, other, 1), "image/png", data, false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		{"DownloadURLUsedForUpload", func(_ domain.UploadTarget, key, _ string) (string, string, []byte, bool) {
			u, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: key, Expires: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			return u, "image/png", data, false
		}, 403, "SignatureDoesNotMatch", "", []string{"*"}},
		// The write-once header is signed: leaving it out or changing it
		// breaks the signature.
		{"MissingIfNoneMatch", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "image/png", data, false
		}, 403, "SignatureDoesNotMatch", "", nil},
		{"OtherIfNoneMatch", func(tg domain.UploadTarget, _, _ string) (string, string, []byte, bool) {
			return tg.URL, "image/png", data, false
		}, 403, "SignatureDoesNotMatch", "", []string{`"0123456789abcdef0123456789abcdef"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			key, other := "uploads/enf/"+porttest.NewID(), "uploads/enf/"+porttest.NewID()
			rawURL, ct, body, chunked := c.forge(presign(t, key, 5*time.Minute), key, other)
			res := sendUpload(t, http.MethodPut, rawURL, ct, body, chunked, http.Header{"If-None-Match": c.ifNoneMatch})
			if res.status != c.status || (res.err.Code != c.code && res.err.Code != c.other) {
				t.Errorf("status %d %q (%s), want %d %s", res.status, res.err.Code, res.err.Message, c.status, c.code)
			}
			for _, k := range []string{key, other} {
				if _, err := s.Stat(t.Context(), k); !domain.IsCode(err, domain.NotFound) {
					t.Errorf("Stat(%s) after a refused upload: %v, want NotFound", k, err)
				}
			}
		})
	}
	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		key := "uploads/enf/" + porttest.NewID()
		tg := presign(t, key, time.Second)
		time.Sleep(time.Until(tg.ExpiresAt) + 1100*time.Millisecond)
		res := sendUpload(t, http.MethodPut, tg.URL, "image/png", data, false, nil)
		if res.status != 403 || res.err.Code != "AccessDenied" || !strings.Contains(res.err.Message, "expired") {
			t.Errorf("expired upload: %d %s %q, want 403 AccessDenied (expired)", res.status, res.err.Code, res.err.Message)
		}
	})
	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		key := "uploads/enf/" + porttest.NewID()
		tg := presign(t, key, 5*time.Minute)
		if res := sendUpload(t, http.MethodPut, tg.URL, "image/png", data, false, nil); res.status != 200 || res.header.Get("ETag") == "" {
			t.Fatalf("valid upload: %d %s %s", res.status, res.err.Code, res.err.Message)
		}
		info, err := s.Stat(t.Context(), key)
		if err != nil || info.Size != int64(len(data)) || info.ContentType != "image/png" {
			t.Errorf("Stat = %+v, %v", info, err)
		}
	})
}

// TestUploadTargetExpiry checks ExpiresAt against the URL's own signing
// time and validity: the URL never dies before ExpiresAt.
func TestUploadTargetExpiry(t *testing.T) {
	s := newTestStore(t, discardLog())
	for _, d := range []time.Duration{time.Second, 15 * time.Minute, s3blob.MaxExpires} {
		tg, err := s.PresignUpload(t.Context(), ports.UploadPolicy{Key: "uploads/x/" + porttest.NewID(), ContentType: "image/webp", Size: 1, Expires: d})
		if err != nil {
			t.Fatalf("PresignUpload(%s): %v", d, err)
		}
		u, _ := url.Parse(tg.URL)
		signed, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
		if err != nil {
			t.Fatal(err)
		}
		if exp := u.Query().Get("X-Amz-Expires"); exp != strconv.Itoa(int(d/time.Second)) {
			t.Errorf("X-Amz-Expires = %s for %s", exp, d)
		}
		if urlExp := signed.Add(d); tg.ExpiresAt.After(urlExp) || urlExp.Sub(tg.ExpiresAt) > time.Second {
			t.Errorf("ExpiresAt %v, URL expires %v", tg.ExpiresAt, urlExp)
		}
	}
	for _, d := range []time.Duration{0, 999 * time.Millisecond, s3blob.MaxExpires + time.Second} {
		if _, err := s.PresignUpload(t.Context(), ports.UploadPolicy{Key: "k", ContentType: "image/png", Size: 1, Expires: d}); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("PresignUpload(expires %s): %v, want Invalid", d, err)
		}
		if _, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "k", Expires: d}); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("PresignDownload(expires %s): %v, want Invalid", d, err)
		}
	}
}

// tamperSignature changes one hex digit of the URL's X-Amz-Signature.
func tamperSignature(t *testing.T, rawURL string) string {
	t.Helper()
	i := strings.Index(rawURL, "X-Amz-Signature=")
	if i < 0 {
		t.Fatalf("no X-Amz-Signature in %q", rawURL)
	}
	i += len("X-Amz-Signature=")
	flipped := byte('0')
	if rawURL[i] == '0' {
		flipped = '1'
	}
	return rawURL[:i] + string(flipped) + rawURL[i+1:]
}

// TestWriteOnceAnswers records what the S3 server answers to uploads to a
// key that holds an object (the contract suite checks the status only):
// 412 PreconditionFailed, for a replay of the same signed request and for a
// fresh target alike, and for the losers of a race 412 too (versitygw
// checks under its per-object publish lock; AWS may answer 409
// ConditionalRequestConflict instead). The object keeps its first bytes.
func TestWriteOnceAnswers(t *testing.T) {
	s := newTestStore(t, discardLog())
	data := bytes.Repeat([]byte("first"), 100)
	other := bytes.Repeat([]byte("other"), 100)
	presign := func(t *testing.T, key string) domain.UploadTarget {
		t.Helper()
		tg, err := s.PresignUpload(t.Context(), ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	key := "uploads/once/" + porttest.NewID()
	tg := presign(t, key)
	if res := sendUpload(t, tg.Method, tg.URL, "image/png", data, false, nil); res.status != http.StatusOK {
		t.Fatalf("first upload: %d %s %s", res.status, res.err.Code, res.err.Message)
	}
	first, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	for name, tg := range map[string]domain.UploadTarget{"Replay": tg, "FreshTarget": presign(t, key)} {
		res := sendUpload(t, tg.Method, tg.URL, "image/png", other, false, nil)
		if res.status != http.StatusPreconditionFailed || res.err.Code != "PreconditionFailed" {
			t.Errorf("%s: %d %s %q, want 412 PreconditionFailed", name, res.status, res.err.Code, res.err.Message)
		}
		t.Logf("%s: %d %s %q", name, res.status, res.err.Code, res.err.Message)
	}
	if info, err := s.Stat(t.Context(), key); err != nil || info != first {
		t.Errorf("object after refused uploads = %+v, %v; want %+v", info, err, first)
	}

	// A race: exactly one upload is stored, the others are refused.
	raceKey := "uploads/once/" + porttest.NewID()
	const n = 8
	results := make([]uploadResult, n)
	targets := make([]domain.UploadTarget, n)
	for i := range targets {
		targets[i] = presign(t, raceKey)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = sendUploadNoFatal(t.Context(), targets[i].URL, bytes.Repeat([]byte{byte('a' + i)}, len(data)))
		})
	}
	wg.Wait()
	won, codes := 0, map[string]int{}
	for _, r := range results {
		if r.status == http.StatusOK {
			won++
			continue
		}
		codes[strconv.Itoa(r.status)+" "+r.err.Code]++
	}
	t.Logf("race of %d uploads: %d stored, refusals %v", n, won, codes)
	if won != 1 {
		t.Errorf("%d uploads stored, want exactly 1", won)
	}
	for c := range codes {
		if c != "412 PreconditionFailed" && c != "409 ConditionalRequestConflict" {
			t.Errorf("refusal %q, want 412 PreconditionFailed or 409 ConditionalRequestConflict", c)
		}
	}
}

// sendUploadNoFatal is sendUpload for other goroutines: a transport error
// comes back as status 0 with the error as the code.
func sendUploadNoFatal(ctx context.Context, rawURL string, body []byte) uploadResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, rawURL, bytes.NewReader(body))
	if err != nil {
		return uploadResult{err: s3Error{Code: err.Error()}}
	}
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("If-None-Match", "*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return uploadResult{err: s3Error{Code: err.Error()}}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e s3Error
	if resp.StatusCode >= 300 {
		_ = xml.Unmarshal(data, &e)
	}
	return uploadResult{status: resp.StatusCode, err: e, header: resp.Header}
}
