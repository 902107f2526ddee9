package porttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// BlobHarness is one ports.Blobs adapter under test plus the HTTP client
// that talks to the storage service behind its presigned URLs.
type BlobHarness struct {
	// Blobs is the adapter under test.
	Blobs ports.Blobs
	// HTTPClient sends the presigned requests. Nil: http.DefaultClient.
	HTTPClient *http.Client
}

// RunBlobs runs the ports.Blobs contract against the adapter that newHarness
// returns. newHarness is called once per group of cases (from parallel
// subtests) and may return the same store every time: every case uses fresh
// keys under "porttest/blob/".
//
// Presigned requests are sent as a browser or app would: PUT with the
// target's Headers, or for POST a multipart form with the target's Fields
// followed by the file in a part named "file". To forge requests the suite
// relies on two conventions that SigV4 (X-Amz-Signature, x-amz-signature)
// and memblob both follow: the signature is a query parameter (POST: a form
// field) whose name contains "signature", case-insensitively; and a POST
// target names its key in the "key" field.
//
// Upload targets write once: the suite checks that replays, fresh targets
// and racing uploads to a key that holds an object are refused with 412
// (409 is accepted for the losers of a race, as S3 may answer
// ConditionalRequestConflict), and that downloads carry the policy's
// overrides and a private Cache-Control no longer than the URL's validity.
//
// The expiry cases sleep about two seconds, once, in parallel with the rest.
func RunBlobs(t *testing.T, newHarness func(t *testing.T) BlobHarness) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		blobTestRoundTrip(t, newHarness(t))
	})
	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx, key := t.Context(), blobKey()
		blobAssertMissing(t, h.Blobs, key)
		if _, err := h.Blobs.ReadHead(ctx, key, 0); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("ReadHead(missing, 0): got %v, want NotFound", err)
		}
		if err := h.Blobs.Delete(ctx, key, blobKey()); err != nil {
			t.Errorf("Delete(missing keys): %v", err)
		}
		if err := h.Blobs.Delete(ctx); err != nil {
			t.Errorf("Delete(no keys): %v", err)
		}
	})
	t.Run("PutWrongSize", func(t *testing.T) {
		t.Parallel()
		blobTestPutWrongSize(t, newHarness(t))
	})
	t.Run("ConcurrentPutsAreAtomic", func(t *testing.T) {
		t.Parallel()
		blobTestConcurrentPuts(t, newHarness(t))
	})
	t.Run("PresignUploadInvalid", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for name, p := range map[string]ports.UploadPolicy{
			"ZeroSize":     {Key: blobKey(), ContentType: "image/png", Size: 0, Expires: time.Minute},
			"NegativeSize": {Key: blobKey(), ContentType: "image/png", Size: -1, Expires: time.Minute},
			"EmptyKey":     {Key: "", ContentType: "image/png", Size: 10, Expires: time.Minute},
		} {
			if _, err := h.Blobs.PresignUpload(t.Context(), p); !domain.IsCode(err, domain.Invalid) {
				t.Errorf("%s: PresignUpload(%+v): got %v, want Invalid", name, p, err)
			}
		}
	})
	t.Run("PresignedUpload", func(t *testing.T) {
		t.Parallel()
		blobTestPresignedUpload(t, newHarness(t))
	})
	t.Run("WriteOnce", func(t *testing.T) {
		t.Parallel()
		blobTestWriteOnce(t, newHarness(t))
	})
	t.Run("DownloadPolicy", func(t *testing.T) {
		t.Parallel()
		blobTestDownloadPolicy(t, newHarness(t))
	})
	t.Run("PresignedUploadRefused", func(t *testing.T) {
		t.Parallel()
		blobTestUploadRefused(t, newHarness(t))
	})
	t.Run("PresignedDownloadRefused", func(t *testing.T) {
		t.Parallel()
		blobTestDownloadRefused(t, newHarness(t))
	})
	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		blobTestExpired(t, newHarness(t))
	})
}

func blobTestRoundTrip(t *testing.T, h BlobHarness) {
	ctx, b := t.Context(), h.Blobs
	key := blobKey()
	data := blobData(1000)
	src := bytes.Clone(data)
	if err := b.Put(ctx, ports.Object{Key: key, ContentType: "application/octet-stream", Size: int64(len(src))}, bytes.NewReader(src)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	clear(src) // the store must have copied the bytes
	info := blobAssertObject(t, b, key, "application/octet-stream", data)
	if info.ETag == "" {
		t.Error("Stat: empty ETag")
	}

	for _, n := range []int64{0, 1, 16, int64(len(data)), int64(len(data)) + 10} {
		head, err := b.ReadHead(ctx, key, n)
		if err != nil {
			t.Fatalf("ReadHead(%d): %v", n, err)
		}
		if want := data[:min(n, int64(len(data)))]; !bytes.Equal(head, want) {
			t.Errorf("ReadHead(%d): got %d bytes, want the first %d bytes", n, len(head), len(want))
		}
		clear(head) // must not reach the stored object
	}
	blobAssertObject(t, b, key, "application/octet-stream", data)

	// Put replaces the object, content type and ETag included; a MaxAge
	// (how long a CDN may cache it) changes nothing else.
	data2 := blobData(300)[7:]
	if err := b.Put(ctx, ports.Object{Key: key, ContentType: "text/plain", Size: int64(len(data2)), MaxAge: time.Hour}, bytes.NewReader(data2)); err != nil {
		t.Fatalf("Put (replace): %v", err)
	}
	if info2 := blobAssertObject(t, b, key, "text/plain", data2); info2.ETag == info.ETag {
		t.Errorf("ETag unchanged after replacing the content: %q", info2.ETag)
	}

	other := blobKey()
	blobMustPut(t, b, other, "image/gif", []byte("GIF89a"))
	if err := b.Delete(ctx, key, blobKey()); err != nil {
		t.Fatalf("Delete(existing, missing): %v", err)
	}
	blobAssertMissing(t, b, key)
	blobAssertObject(t, b, other, "image/gif", []byte("GIF89a"))
	if err := b.Delete(ctx, key); err != nil {
		t.Errorf("Delete(already deleted): %v", err)
	}
	if err := b.Delete(ctx, other); err != nil {
		t.Fatalf("Delete(other): %v", err)
	}
	blobAssertMissing(t, b, other)
}

func blobTestPutWrongSize(t *testing.T, h BlobHarness) {
	ctx, b := t.Context(), h.Blobs
	data := blobData(500)
	existing := blobKey()
	old := []byte("old object")
	blobMustPut(t, b, existing, "text/plain", old)
	for _, key := range []string{blobKey(), existing} {
		for _, size := range []int64{int64(len(data)) - 1, int64(len(data)) + 1} {
			err := b.Put(ctx, ports.Object{Key: key, ContentType: "application/octet-stream", Size: size}, bytes.NewReader(data))
			if !domain.IsCode(err, domain.Invalid) {
				t.Errorf("Put(%d bytes, size %d): got %v, want Invalid", len(data), size, err)
			}
		}
	}
	blobAssertObject(t, b, existing, "text/plain", old)
}

// blobTestConcurrentPuts checks that replacement is atomic: a reader sees the
// bytes and content type of one single Put, never a mix.
func blobTestConcurrentPuts(t *testing.T, h BlobHarness) {
	ctx, b := t.Context(), h.Blobs
	key := blobKey()
	version := func(i int) (string, []byte) {
		return "application/x-porttest-" + strconv.Itoa(i), bytes.Repeat([]byte{byte(i)}, 100+i)
	}
	check := func(info domain.ObjectInfo, got []byte) error {
		i, err := strconv.Atoi(strings.TrimPrefix(info.ContentType, "application/x-porttest-"))
		if err != nil {
			return fmt.Errorf("unexpected content type %q", info.ContentType)
		}
		if _, want := version(i); !bytes.Equal(got, want) || info.Size != int64(len(want)) {
			return fmt.Errorf("content type %q with %d bytes (Size %d) that belong to another version", info.ContentType, len(got), info.Size)
		}
		return nil
	}
	ct, data := version(0)
	blobMustPut(t, b, key, ct, data)

	const writers, readers, rounds = 4, 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, (writers+readers)*rounds)
	for w := 1; w <= writers; w++ {
		wg.Go(func() {
			for range rounds {
				ct, data := version(w)
				if err := b.Put(ctx, ports.Object{Key: key, ContentType: ct, Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
					errs <- fmt.Errorf("concurrent Put: %w", err)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				rc, info, err := b.Open(ctx, key)
				if err != nil {
					errs <- fmt.Errorf("concurrent Open: %w", err)
					continue
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err == nil {
					err = check(info, got)
				}
				if err != nil {
					errs <- fmt.Errorf("concurrent Open: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rc, info, err := b.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if err := check(info, got); err != nil {
		t.Errorf("after concurrent Puts: %v", err)
	}
}

func blobTestPresignedUpload(t *testing.T, h BlobHarness) {
	b := h.Blobs
	data := blobData(2065)
	t.Run("Fresh", func(t *testing.T) {
		t.Parallel()
		ctx, key := t.Context(), blobKey()
		before := time.Now()
		tg, err := b.PresignUpload(ctx, ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: 5 * time.Minute})
		if err != nil {
			t.Fatalf("PresignUpload: %v", err)
		}
		blobCheckTarget(t, tg, before, 5*time.Minute)
		blobAssertMissing(t, b, key) // presigning stores nothing
		if status, body := blobSend(t, h, blobAttempt{target: tg, body: data}); status/100 != 2 {
			t.Fatalf("presigned upload: status %d, want 2xx: %s", status, body)
		}
		if info := blobAssertObject(t, b, key, "image/png", data); info.ETag == "" {
			t.Error("Stat after upload: empty ETag")
		}

		url, err := b.PresignDownload(ctx, ports.DownloadPolicy{Key: key, Expires: 5 * time.Minute})
		if err != nil {
			t.Fatalf("PresignDownload: %v", err)
		}
		status, hdr, body := blobGet(t, h, url)
		if status != http.StatusOK {
			t.Fatalf("presigned download: status %d, want 200: %s", status, body)
		}
		if !bytes.Equal(body, data) {
			t.Errorf("presigned download: got %d bytes, want the %d uploaded", len(body), len(data))
		}
		if ct := hdr.Get("Content-Type"); ct != "image/png" {
			t.Errorf("presigned download: Content-Type %q, want image/png", ct)
		}
	})
}

// blobTestWriteOnce checks that an upload target writes once: after an
// object exists at the key, a replay of the same request, a fresh target
// and racing uploads are all refused and the object keeps its first bytes.
func blobTestWriteOnce(t *testing.T, h BlobHarness) {
	b := h.Blobs
	data := blobData(1024)
	// Same size and declared type, other bytes: what an attacker who saw
	// the URL would send to swap a verified image for a page.
	html := blobHTML(len(data))
	presign := func(t *testing.T, key string) domain.UploadTarget {
		t.Helper()
		tg, err := b.PresignUpload(t.Context(), ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: 5 * time.Minute})
		if err != nil {
			t.Fatalf("PresignUpload: %v", err)
		}
		return tg
	}
	t.Run("Replay", func(t *testing.T) {
		t.Parallel()
		key := blobKey()
		tg := presign(t, key)
		if status, body := blobSend(t, h, blobAttempt{target: tg, body: data}); status/100 != 2 {
			t.Fatalf("first upload: status %d, want 2xx: %s", status, body)
		}
		first := blobAssertObject(t, b, key, "image/png", data)
		if status, body := blobSend(t, h, blobAttempt{target: tg, body: html}); status != http.StatusPreconditionFailed {
			t.Errorf("replayed upload: status %d, want 412: %s", status, body)
		}
		if info := blobAssertObject(t, b, key, "image/png", data); info.ETag != first.ETag {
			t.Errorf("ETag after the refused replay = %q, want %q", info.ETag, first.ETag)
		}
		// A target issued after the upload is refused too.
		if status, body := blobSend(t, h, blobAttempt{target: presign(t, key), body: html}); status != http.StatusPreconditionFailed {
			t.Errorf("upload with a fresh target: status %d, want 412: %s", status, body)
		}
		blobAssertObject(t, b, key, "image/png", data)
	})
	t.Run("AfterPut", func(t *testing.T) {
		t.Parallel()
		key := blobKey()
		tg := presign(t, key) // issued before the object exists
		old := []byte("the application's own object")
		blobMustPut(t, b, key, "text/plain", old)
		if status, body := blobSend(t, h, blobAttempt{target: tg, body: data}); status != http.StatusPreconditionFailed {
			t.Errorf("upload to a key written by Put: status %d, want 412: %s", status, body)
		}
		blobAssertObject(t, b, key, "text/plain", old)
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		const n = 8
		key := blobKey()
		bodies := make([][]byte, n)
		targets := make([]domain.UploadTarget, n)
		for i := range n {
			bodies[i] = bytes.Repeat([]byte{byte('a' + i)}, len(data))
			targets[i] = presign(t, key)
		}
		statuses := make([]int, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				statuses[i], _, errs[i] = blobDo(t.Context(), h, blobAttempt{target: targets[i], body: bodies[i]})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i := range n {
			switch {
			case errs[i] != nil:
				t.Errorf("upload %d: %v", i, errs[i])
			case statuses[i]/100 == 2:
				if winner >= 0 {
					t.Errorf("uploads %d and %d both succeeded", winner, i)
				}
				winner = i
			case statuses[i] != http.StatusPreconditionFailed && statuses[i] != http.StatusConflict:
				// S3 may answer 409 ConditionalRequestConflict to a loser of a race.
				t.Errorf("upload %d: status %d, want 2xx, 412 or 409", i, statuses[i])
			}
		}
		if winner < 0 {
			t.Fatalf("no upload succeeded: %v", statuses)
		}
		blobAssertObject(t, b, key, "image/png", bodies[winner])
	})
}

// blobTestDownloadPolicy checks the response overrides of PresignDownload
// and that the URL's holder cannot change them.
func blobTestDownloadPolicy(t *testing.T, h BlobHarness) {
	ctx, b := t.Context(), h.Blobs
	const expires = 5 * time.Minute
	key := blobKey()
	data := blobData(700)
	// The stored type and Cache-Control are what the overrides replace.
	if err := b.Put(ctx, ports.Object{Key: key, ContentType: "application/octet-stream", Size: int64(len(data)), MaxAge: 24 * time.Hour}, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for name, c := range map[string]struct {
		p        ports.DownloadPolicy
		wantType string
	}{
		"Plain":       {ports.DownloadPolicy{Key: key, Expires: expires}, "application/octet-stream"},
		"ContentType": {ports.DownloadPolicy{Key: key, Expires: expires, ContentType: "image/png"}, "image/png"},
		"Attachment":  {ports.DownloadPolicy{Key: key, Expires: expires, Attachment: true}, "application/octet-stream"},
		"Both":        {ports.DownloadPolicy{Key: key, Expires: expires, ContentType: "image/webp", Attachment: true}, "image/webp"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u, err := b.PresignDownload(t.Context(), c.p)
			if err != nil {
				t.Fatalf("PresignDownload(%+v): %v", c.p, err)
			}
			status, hdr, body := blobGet(t, h, u)
			if status != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("GET: status %d with %d bytes, want 200 with the %d stored", status, len(body), len(data))
			}
			if got := hdr.Get("Content-Type"); got != c.wantType {
				t.Errorf("Content-Type %q, want %q", got, c.wantType)
			}
			cd := strings.ToLower(hdr.Get("Content-Disposition"))
			if attachment := strings.HasPrefix(cd, "attachment"); attachment != c.p.Attachment {
				t.Errorf("Content-Disposition %q with Attachment=%v", cd, c.p.Attachment)
			}
			blobCheckCacheControl(t, hdr.Get("Cache-Control"), c.p.Expires)

			if c.p.ContentType != "" {
				forged := blobReplaceInURL(t, u, url.QueryEscape(c.p.ContentType), url.QueryEscape("text/html"))
				if status, hdr, _ := blobGet(t, h, forged); status/100 != 4 {
					t.Errorf("GET with the content type changed to text/html: status %d (Content-Type %q), want 4xx", status, hdr.Get("Content-Type"))
				}
			}
			if c.p.Attachment {
				forged := blobReplaceInURL(t, u, "attachment", "inline")
				if status, hdr, _ := blobGet(t, h, forged); status/100 != 4 {
					t.Errorf("GET with the disposition changed to inline: status %d (Content-Disposition %q), want 4xx", status, hdr.Get("Content-Disposition"))
				}
			}
		})
	}
	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		for name, p := range map[string]ports.DownloadPolicy{
			"EmptyKey":    {Key: "", Expires: time.Minute},
			"ZeroExpiry":  {Key: key, Expires: 0},
			"Negative":    {Key: key, Expires: -time.Minute},
			"EightDays":   {Key: key, Expires: 8 * 24 * time.Hour},
			"BadType":     {Key: key, Expires: time.Minute, ContentType: "image png"},
			"EmptyKeyAtt": {Key: "", Expires: time.Minute, Attachment: true},
		} {
			if u, err := b.PresignDownload(t.Context(), p); !domain.IsCode(err, domain.Invalid) {
				t.Errorf("%s: PresignDownload(%+v) = %q, %v; want Invalid", name, p, u, err)
			}
		}
	})
}

// blobCheckCacheControl checks that a download may be kept by the browser
// only (private) and for no longer than the URL's validity.
func blobCheckCacheControl(t *testing.T, cc string, expires time.Duration) {
	t.Helper()
	private, maxAge := false, int64(-1)
	for d := range strings.SplitSeq(strings.ToLower(cc), ",") {
		d = strings.TrimSpace(d)
		switch {
		case d == "private":
			private = true
		case d == "public" || strings.HasPrefix(d, "s-maxage"):
			t.Errorf("Cache-Control %q lets shared caches keep the response", cc)
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.TrimPrefix(d, "max-age="), 10, 64)
			if err != nil {
				t.Errorf("Cache-Control %q: bad max-age", cc)
			}
			maxAge = n
		}
	}
	if !private || maxAge < 0 || maxAge > int64(expires/time.Second) {
		t.Errorf("Cache-Control %q, want private with a max-age of at most %d", cc, int64(expires/time.Second))
	}
}

// blobReplaceInURL replaces the one occurrence of old in the URL's query.
func blobReplaceInURL(t *testing.T, rawURL, old, repl string) string {
	t.Helper()
	base, query, _ := strings.Cut(rawURL, "?")
	if strings.Count(query, old) != 1 {
		t.Fatalf("URL %q does not hold %q exactly once in its query", rawURL, old)
	}
	return base + "?" + strings.Replace(query, old, repl, 1)
}

// blobHTML returns an HTML page of exactly n bytes.
func blobHTML(n int) []byte {
	page := []byte("<!doctype html><html><body><script>alert(document.domain)</script>")
	out := bytes.Repeat([]byte(" "), n)
	copy(out, page)
	return out
}

// blobTestUploadRefused sends forged or mismatching uploads, each to a fresh
// key and to one that holds an object, and checks that every one is refused
// with a 4xx and changes nothing.
func blobTestUploadRefused(t *testing.T, h BlobHarness) {
	data := blobData(1500)
	larger := append(bytes.Clone(data), 0x42)
	smaller := data[:len(data)-1]
	cases := []struct {
		name string
		// forge turns a valid attempt for key into a bad one; otherKey is
		// free for it to use.
		forge func(t *testing.T, a blobAttempt, key, otherKey string) blobAttempt
	}{
		{"TamperedSignature", func(t *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.target = blobTamperTarget(t, a.target)
			return a
		}},
		{"WrongContentType", func(_ *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.contentType = "image/jpeg"
			return a
		}},
		{"LargerBody", func(_ *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.body = larger
			return a
		}},
		{"SmallerBody", func(_ *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.body = smaller
			return a
		}},
		{"LargerBodyChunked", func(_ *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.body, a.chunked = larger, true
			return a
		}},
		{"SmallerBodyChunked", func(_ *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.body, a.chunked = smaller, true
			return a
		}},
		{"EmptyBody", func(_ *testing.T, a blobAttempt, _, _ string) blobAttempt {
			a.body = nil
			return a
		}},
		{"OtherKey", func(t *testing.T, a blobAttempt, key, otherKey string) blobAttempt {
			a.target = blobRewriteKey(t, a.target, key, otherKey)
			return a
		}},
	}
	for _, c := range cases {
		for _, existing := range []bool{false, true} {
			name := c.name + "/Fresh"
			if existing {
				name = c.name + "/Existing"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				key, otherKey := blobKey(), blobKey()
				old := []byte("old object at " + key)
				if existing {
					blobMustPut(t, h.Blobs, key, "text/plain", old)
					blobMustPut(t, h.Blobs, otherKey, "text/plain", old)
				}
				tg, err := h.Blobs.PresignUpload(t.Context(), ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: 5 * time.Minute})
				if err != nil {
					t.Fatalf("PresignUpload: %v", err)
				}
				a := c.forge(t, blobAttempt{target: tg, body: data}, key, otherKey)
				if status, body := blobSend(t, h, a); status/100 != 4 {
					t.Errorf("forged upload: status %d, want 4xx: %s", status, body)
				}
				for _, k := range []string{key, otherKey} {
					if existing {
						blobAssertObject(t, h.Blobs, k, "text/plain", old)
					} else {
						blobAssertMissing(t, h.Blobs, k)
					}
				}
			})
		}
	}
}

func blobTestDownloadRefused(t *testing.T, h BlobHarness) {
	ctx, b := t.Context(), h.Blobs
	secret := []byte("porttest secret object")
	key, otherKey := blobKey(), blobKey()
	blobMustPut(t, b, key, "text/plain", []byte("object at "+key))
	blobMustPut(t, b, otherKey, "text/plain", secret)
	url, err := b.PresignDownload(ctx, ports.DownloadPolicy{Key: key, Expires: 5 * time.Minute})
	if err != nil {
		t.Fatalf("PresignDownload: %v", err)
	}
	missingURL, err := b.PresignDownload(ctx, ports.DownloadPolicy{Key: blobKey(), Expires: 5 * time.Minute})
	if err != nil {
		t.Fatalf("PresignDownload(missing key): %v", err)
	}
	for name, u := range map[string]string{
		"TamperedSignature": blobTamperURL(t, url),
		"OtherKey":          blobRewriteURLKey(t, url, key, otherKey),
		"MissingObject":     missingURL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			status, _, body := blobGet(t, h, u)
			if status/100 != 4 {
				t.Errorf("GET: status %d, want 4xx: %s", status, body)
			}
			if bytes.Contains(body, secret) {
				t.Error("the refused response leaks another object's bytes")
			}
		})
	}
}

// blobTestExpired presigns everything first, sleeps once past the expiry,
// then tries each URL in parallel.
func blobTestExpired(t *testing.T, h BlobHarness) {
	ctx, b := t.Context(), h.Blobs
	const expires = time.Second
	data := blobData(300)
	old := []byte("old object")

	type upload struct {
		key      string
		existing bool
		target   domain.UploadTarget
	}
	var uploads []upload
	for _, existing := range []bool{false, true} {
		key := blobKey()
		if existing {
			blobMustPut(t, b, key, "text/plain", old)
		}
		before := time.Now()
		tg, err := b.PresignUpload(ctx, ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: expires})
		if err != nil {
			t.Fatalf("PresignUpload: %v", err)
		}
		blobCheckTarget(t, tg, before, expires)
		uploads = append(uploads, upload{key, existing, tg})
	}
	dlKey := blobKey()
	blobMustPut(t, b, dlKey, "image/png", data)
	dlURL, err := b.PresignDownload(ctx, ports.DownloadPolicy{Key: dlKey, Expires: expires})
	if err != nil {
		t.Fatalf("PresignDownload: %v", err)
	}

	time.Sleep(2*expires + 100*time.Millisecond)

	for _, u := range uploads {
		t.Run("Upload/Existing="+strconv.FormatBool(u.existing), func(t *testing.T) {
			t.Parallel()
			if status, body := blobSend(t, h, blobAttempt{target: u.target, body: data}); status/100 != 4 {
				t.Errorf("expired upload: status %d, want 4xx: %s", status, body)
			}
			if u.existing {
				blobAssertObject(t, b, u.key, "text/plain", old)
			} else {
				blobAssertMissing(t, b, u.key)
			}
		})
	}
	t.Run("Download", func(t *testing.T) {
		t.Parallel()
		status, _, body := blobGet(t, h, dlURL)
		if status/100 != 4 {
			t.Errorf("expired download: status %d, want 4xx", status)
		}
		if bytes.Equal(body, data) {
			t.Error("expired download served the object")
		}
	})
}

// blobAttempt is one presigned upload request to send.
type blobAttempt struct {
	target domain.UploadTarget
	// contentType replaces the target's Content-Type header (PUT) or field
	// and file part type (POST) when not empty.
	contentType string
	body        []byte
	// chunked sends the body without a Content-Length.
	chunked bool
}

// blobSend sends a presigned upload and returns the status and (the start
// of) the response body.
func blobSend(t *testing.T, h BlobHarness, a blobAttempt) (int, string) {
	t.Helper()
	status, body, err := blobDo(t.Context(), h, a)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// blobDo is blobSend for any goroutine: it returns what went wrong.
func blobDo(ctx context.Context, h BlobHarness, a blobAttempt) (int, string, error) {
	tg := a.target
	headers := map[string]string{}
	for k, v := range tg.Headers {
		headers[k] = v
	}
	var payload []byte
	switch tg.Method {
	case http.MethodPut:
		payload = a.body
		if a.contentType != "" {
			blobSetFold(headers, "Content-Type", a.contentType)
		}
	case http.MethodPost:
		fields := map[string]string{}
		for k, v := range tg.Fields {
			fields[k] = v
		}
		fileType := "application/octet-stream"
		if v, ok := blobGetFold(fields, "Content-Type"); ok {
			fileType = v
		}
		if a.contentType != "" {
			blobSetFold(fields, "Content-Type", a.contentType)
			fileType = a.contentType
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if err := mw.WriteField(k, fields[k]); err != nil {
				return 0, "", fmt.Errorf("building the form: %w", err)
			}
		}
		ph := textproto.MIMEHeader{}
		ph.Set("Content-Disposition", `form-data; name="file"; filename="upload"`)
		ph.Set("Content-Type", fileType)
		part, err := mw.CreatePart(ph)
		if err == nil {
			_, err = part.Write(a.body)
		}
		if err == nil {
			err = mw.Close()
		}
		if err != nil {
			return 0, "", fmt.Errorf("building the form: %w", err)
		}
		payload = buf.Bytes()
		blobSetFold(headers, "Content-Type", mw.FormDataContentType())
	default:
		return 0, "", fmt.Errorf("UploadTarget.Method = %q, want PUT or POST", tg.Method)
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, tg.Method, tg.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, "", fmt.Errorf("building the upload request for %q: %w", tg.URL, err)
	}
	if a.chunked {
		// A reader of unknown length makes the client send chunked encoding.
		req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(payload)})
		req.ContentLength = -1
		req.GetBody = nil
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := blobClient(h).Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", tg.Method, tg.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return resp.StatusCode, string(body), nil
}

// blobGet fetches a presigned download URL.
func blobGet(t *testing.T, h BlobHarness, url string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("building the download request for %q: %v", url, err)
	}
	resp, err := blobClient(h).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, body
}

func blobClient(h BlobHarness) *http.Client {
	if h.HTTPClient != nil {
		return h.HTTPClient
	}
	return http.DefaultClient
}

// blobCheckTarget checks the shape of an upload target issued at about
// before for a validity of expires.
func blobCheckTarget(t *testing.T, tg domain.UploadTarget, before time.Time, expires time.Duration) {
	t.Helper()
	if tg.Method != http.MethodPut && tg.Method != http.MethodPost {
		t.Errorf("UploadTarget.Method = %q, want PUT or POST", tg.Method)
	}
	if u, err := url.Parse(tg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Errorf("UploadTarget.URL = %q, want an absolute http(s) URL", tg.URL)
	}
	// S3's write-once PUT signs this header; every adapter returns it so
	// that clients send one set of headers whatever the store.
	if v, _ := blobGetFold(tg.Headers, "If-None-Match"); tg.Method == http.MethodPut && v != "*" {
		t.Errorf("UploadTarget.Headers = %v, want If-None-Match: *", tg.Headers)
	}
	// Signing times have second precision, hence the slack.
	lo, hi := before.Add(expires-2*time.Second), time.Now().Add(expires+2*time.Second)
	if tg.ExpiresAt.Before(lo) || tg.ExpiresAt.After(hi) {
		t.Errorf("UploadTarget.ExpiresAt = %v, want about %v", tg.ExpiresAt, before.Add(expires))
	}
}

// blobTamperTarget changes the signature of an upload target.
func blobTamperTarget(t *testing.T, tg domain.UploadTarget) domain.UploadTarget {
	t.Helper()
	if tg.Method != http.MethodPost {
		tg.URL = blobTamperURL(t, tg.URL)
		return tg
	}
	fields := map[string]string{}
	found := false
	for k, v := range tg.Fields {
		if strings.Contains(strings.ToLower(k), "signature") {
			v, found = blobFlip(v), true
		}
		fields[k] = v
	}
	if !found {
		t.Fatalf("no form field named like *signature* in %v", tg.Fields)
	}
	tg.Fields = fields
	return tg
}

// blobTamperURL changes the value of the URL's signature query parameter,
// working on the raw query so nothing else is re-encoded.
func blobTamperURL(t *testing.T, rawURL string) string {
	t.Helper()
	base, query, _ := strings.Cut(rawURL, "?")
	pairs := strings.Split(query, "&")
	found := false
	for i, p := range pairs {
		name, value, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && strings.Contains(strings.ToLower(n), "signature") && value != "" {
			pairs[i], found = name+"="+blobFlip(value), true
		}
	}
	if !found {
		t.Fatalf("no query parameter named like *signature* in %q", rawURL)
	}
	return base + "?" + strings.Join(pairs, "&")
}

// blobFlip changes the first alphanumeric character of s outside a
// percent-escape to another one that is valid in hex and base64.
func blobFlip(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			i += 2
			continue
		}
		if '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			r := byte('0')
			if c == '0' {
				r = '1'
			}
			return s[:i] + string(r) + s[i+1:]
		}
	}
	return s + "0"
}

// blobRewriteKey points an upload target at otherKey instead of key.
func blobRewriteKey(t *testing.T, tg domain.UploadTarget, key, otherKey string) domain.UploadTarget {
	t.Helper()
	if tg.Method != http.MethodPost {
		tg.URL = blobRewriteURLKey(t, tg.URL, key, otherKey)
		return tg
	}
	fields := map[string]string{}
	for k, v := range tg.Fields {
		fields[k] = v
	}
	if _, ok := blobGetFold(fields, "key"); !ok {
		t.Fatalf("POST target without a key field: %v", tg.Fields)
	}
	blobSetFold(fields, "key", otherKey)
	tg.Fields = fields
	return tg
}

// blobRewriteURLKey replaces the key's last segment (a plain id, the same in
// escaped and unescaped form) at the end of the URL's path.
func blobRewriteURLKey(t *testing.T, rawURL, key, otherKey string) string {
	t.Helper()
	oldSeg, newSeg := key[strings.LastIndexByte(key, '/')+1:], otherKey[strings.LastIndexByte(otherKey, '/')+1:]
	path, query, hasQuery := strings.Cut(rawURL, "?")
	if !strings.HasSuffix(path, "/"+oldSeg) {
		t.Fatalf("URL %q does not end its path with the key's last segment %q", rawURL, oldSeg)
	}
	path = strings.TrimSuffix(path, oldSeg) + newSeg
	if hasQuery {
		return path + "?" + query
	}
	return path
}

func blobGetFold(m map[string]string, name string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// blobSetFold sets name in m, replacing any key that differs only in case.
func blobSetFold(m map[string]string, name, value string) {
	for k := range m {
		if strings.EqualFold(k, name) {
			m[k] = value
			return
		}
	}
	m[name] = value
}

// blobKey returns a fresh key whose last segment is a plain id.
func blobKey() string { return "porttest/blob/" + NewID() }

// blobData returns n bytes that, for n >= 256, hold every byte value.
func blobData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) ^ byte(i>>8)
	}
	return b
}

func blobMustPut(t *testing.T, b ports.Blobs, key, contentType string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), ports.Object{Key: key, ContentType: contentType, Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// blobAssertObject checks Stat and Open of key against the expected content
// and returns the Stat result.
func blobAssertObject(t *testing.T, b ports.Blobs, key, contentType string, data []byte) domain.ObjectInfo {
	t.Helper()
	info, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(data)) || info.ContentType != contentType {
		t.Errorf("Stat(%q) = %+v, want key %q, size %d, content type %q", key, info, key, len(data), contentType)
	}
	rc, oinfo, err := b.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Open(%q): reading: %v", key, err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Open(%q): got %d bytes, not the %d expected", key, len(got), len(data))
	}
	if oinfo != info {
		t.Errorf("Open(%q) info = %+v, Stat = %+v", key, oinfo, info)
	}
	return info
}

func blobAssertMissing(t *testing.T, b ports.Blobs, key string) {
	t.Helper()
	if info, err := b.Stat(t.Context(), key); !domain.IsCode(err, domain.NotFound) {
		t.Errorf("Stat(%q) = %+v, %v; want NotFound", key, info, err)
	}
	if rc, _, err := b.Open(t.Context(), key); !domain.IsCode(err, domain.NotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Open(%q): got %v, want NotFound", key, err)
	}
	if _, err := b.ReadHead(t.Context(), key, 16); !domain.IsCode(err, domain.NotFound) {
		t.Errorf("ReadHead(%q): got %v, want NotFound", key, err)
	}
}
