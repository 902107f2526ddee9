package memblob_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

func TestWriteOnce(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	var hooks int
	f.store.SetUploadHook(func(string) { hooks++ })
	data := []byte("\x89PNG first bytes")
	tg := f.presign(t, "uploads/u/m", "image/png", int64(len(data)))
	if got := tg.Headers["If-None-Match"]; got != "*" {
		t.Errorf("target headers %v, want If-None-Match: *", tg.Headers)
	}
	if resp, body := f.upload(t, tg, data); resp.StatusCode != http.StatusOK {
		t.Fatalf("first upload: %d %s", resp.StatusCode, body)
	}
	first, err := f.store.Stat(t.Context(), "uploads/u/m")
	if err != nil {
		t.Fatal(err)
	}
	html := []byte("<script>alert(1)</script>")[:len(data)]
	for name, target := range map[string]domain.UploadTarget{
		"Replay":      tg,
		"FreshTarget": f.presign(t, "uploads/u/m", "image/png", int64(len(data))),
	} {
		resp, body := f.upload(t, target, html)
		wantProblem(t, resp, body, http.StatusPreconditionFailed, domain.PreconditionFailed)
		if info, err := f.store.Stat(t.Context(), "uploads/u/m"); err != nil || info != first {
			t.Errorf("%s: object after the refused upload = %+v, %v; want %+v", name, info, err, first)
		}
	}
	if head, _ := f.store.ReadHead(t.Context(), "uploads/u/m", 64); !bytes.Equal(head, data) {
		t.Errorf("object bytes %q, want the first upload's", head)
	}
	if hooks != 1 {
		t.Errorf("upload hook called %d times, want once", hooks)
	}
}

func TestConcurrentUploadsOneWins(t *testing.T) {
	f := newFixture(t, memblob.Config{MaxBytes: 1 << 20})
	const n = 32
	size := 4096
	h := f.store.Handler()
	var wg sync.WaitGroup
	codes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		tg := f.presign(t, "uploads/u/race", "image/png", int64(size))
		path := strings.TrimPrefix(tg.URL, f.srv.URL)
		wg.Go(func() {
			req := httptest.NewRequest("PUT", path, bytes.NewReader(bytes.Repeat([]byte{byte(i)}, size)))
			for k, v := range tg.Headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			<-start
			h.ServeHTTP(rec, req)
			codes[i] = rec.Code
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, c := range codes {
		switch c {
		case http.StatusOK:
			if winner >= 0 {
				t.Fatalf("uploads %d and %d both stored", winner, i)
			}
			winner = i
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("upload %d: status %d", i, c)
		}
	}
	if winner < 0 {
		t.Fatal("no upload won")
	}
	if head, _ := f.store.ReadHead(t.Context(), "uploads/u/race", 1); len(head) != 1 || int(head[0]) != winner {
		t.Errorf("stored bytes start %v, want the winner's (%d)", head, winner)
	}
	// Losers gave back what they reserved: exactly the winner's bytes count.
	fill := int64(1<<20 - size)
	if err := f.store.Put(t.Context(), ports.Object{Key: "fill", ContentType: "x/y", Size: fill}, bytes.NewReader(make([]byte, fill))); err != nil {
		t.Errorf("filling the rest of the cap: %v", err)
	}
}

func TestMaxBytes(t *testing.T) {
	f := newFixture(t, memblob.Config{MaxBytes: 100})
	ctx := t.Context()
	put := func(key string, n int) error {
		return f.store.Put(ctx, ports.Object{Key: key, ContentType: "application/octet-stream", Size: int64(n)}, bytes.NewReader(bytes.Repeat([]byte("p"), n)))
	}
	upload := func(key string, n int) (*http.Response, []byte) {
		return f.upload(t, f.presign(t, key, "image/png", int64(n)), bytes.Repeat([]byte("u"), n))
	}
	full := func(used int) string {
		return "the local blob store is full: " + strconv.Itoa(used) + " of 100 bytes used; raise CLOUDPOST_MEMORY_BLOB_MAX_BYTES or delete media"
	}
	missing := func(key string) {
		t.Helper()
		if _, err := f.store.Stat(ctx, key); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("Stat(%s) = %v, want NotFound", key, err)
		}
	}

	if resp, body := upload("a", 60); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload a: %d %s", resp.StatusCode, body)
	}
	resp, body := upload("b", 60)
	wantProblem(t, resp, body, http.StatusInsufficientStorage, domain.Unavailable)
	if d := problemDetail(t, body); d != full(60) {
		t.Errorf("detail %q, want %q", d, full(60))
	}
	missing("b")
	if err := put("b", 60); !domain.IsCode(err, domain.Unavailable) || domain.ErrorMessage(err) != full(60) {
		t.Errorf("Put beyond the cap: %v", err)
	}
	missing("b")

	// Replacing counts the difference only.
	if err := put("a", 90); err != nil {
		t.Fatalf("Put replacing 60 bytes by 90: %v", err)
	}
	if err := put("c", 20); !domain.IsCode(err, domain.Unavailable) {
		t.Errorf("Put of 20 with 90 of 100 used: %v", err)
	}
	if err := put("a", 10); err != nil {
		t.Fatalf("Put shrinking a: %v", err)
	}
	if err := put("c", 20); err != nil {
		t.Fatalf("Put c: %v", err)
	}
	if resp, body := upload("b", 70); resp.StatusCode != http.StatusOK { // 100 of 100
		t.Fatalf("upload to exactly the cap: %d %s", resp.StatusCode, body)
	}
	if err := put("d", 1); !domain.IsCode(err, domain.Unavailable) {
		t.Errorf("Put beyond a full store: %v", err)
	}
	// A wrong-size Put or a refused upload frees what it reserved.
	if err := f.store.Delete(ctx, "b", "c"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Put(ctx, ports.Object{Key: "d", ContentType: "x/y", Size: 90}, strings.NewReader("short")); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("Put of a short body: %v", err)
	}
	if resp, body := f.upload(t, f.presign(t, "e", "image/png", 90), []byte("short")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("short upload: %d %s", resp.StatusCode, body)
	}
	if resp, body := upload("e", 90); resp.StatusCode != http.StatusOK { // 10 + 90
		t.Fatalf("upload after Delete: %d %s", resp.StatusCode, body)
	}
}

// TestMaxBytesCountsBodiesBeingRead checks that an upload's bytes count
// from the moment its body starts to be read, so concurrent uploads cannot
// together go beyond the cap.
func TestMaxBytesCountsBodiesBeingRead(t *testing.T) {
	f := newFixture(t, memblob.Config{MaxBytes: 100})
	tg := f.presign(t, "uploads/u/slow", "image/png", 60)
	pr, pw := io.Pipe()
	req := httptest.NewRequest("PUT", strings.TrimPrefix(tg.URL, f.srv.URL), pr)
	req.ContentLength = 60
	for k, v := range tg.Headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		f.store.Handler().ServeHTTP(rec, req)
		close(done)
	}()
	// The handler reads the body only once it has reserved the room.
	if _, err := pw.Write(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	err := f.store.Put(t.Context(), ports.Object{Key: "other", ContentType: "x/y", Size: 60}, bytes.NewReader(make([]byte, 60)))
	if !domain.IsCode(err, domain.Unavailable) || !strings.Contains(domain.ErrorMessage(err), "60 of 100 bytes used") {
		t.Errorf("Put while 60 bytes are being uploaded: %v", err)
	}
	if _, err := pw.Write(make([]byte, 50)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	<-done
	if rec.Code != http.StatusOK {
		t.Fatalf("slow upload: %d %s", rec.Code, rec.Body)
	}
}

// TestUploadAllocatesTheSignedSize checks that an upload body is read into
// one buffer of the signed size, not a growing one.
func TestUploadAllocatesTheSignedSize(t *testing.T) {
	const size = 8 << 20
	f := newFixture(t, memblob.Config{})
	h := f.store.Handler()
	measure := func(key string, body io.Reader) (uint64, int) {
		tg := f.presign(t, key, "image/png", size)
		req := httptest.NewRequest("PUT", strings.TrimPrefix(tg.URL, f.srv.URL), body)
		req.ContentLength = -1 // chunked: the handler cannot trust a length
		for k, v := range tg.Headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h.ServeHTTP(rec, req)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, rec.Code
	}
	for name, c := range map[string]struct {
		body   io.Reader
		status int
	}{
		"Exact":   {io.LimitReader(&countingReader{}, size), http.StatusOK},
		"Shorter": {io.LimitReader(&countingReader{}, size-1), http.StatusBadRequest},
		"Longer":  {io.LimitReader(&countingReader{}, size+1), http.StatusRequestEntityTooLarge},
	} {
		alloc, status := measure("uploads/u/"+name, c.body)
		if status != c.status {
			t.Errorf("%s: status %d, want %d", name, status, c.status)
		}
		if alloc > size+size/8 {
			t.Errorf("%s: allocated %d bytes for a %d-byte upload", name, alloc, size)
		}
	}
}

func TestDownloadPolicy(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	data := []byte("<svg onload=alert(1)>")
	if err := f.store.Put(t.Context(), ports.Object{Key: "uploads/u/m", ContentType: "text/html", Size: int64(len(data)), MaxAge: time.Hour}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	u, err := f.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "uploads/u/m", Expires: time.Minute, ContentType: "image/png", Attachment: true})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(20 * time.Second)
	resp, body := f.do(t, "GET", u, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	want := map[string]string{
		"Content-Type": "image/png", "Content-Disposition": "attachment",
		"Cache-Control": "private, max-age=40", "X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	// The overrides are signed: changing or dropping one is refused.
	for name, forged := range map[string]string{
		"OtherType":     strings.Replace(u, "image%2Fpng", "text%2Fhtml", 1),
		"NoType":        strings.Replace(u, "X-Cp-Response-Content-Type=image%2Fpng&", "", 1),
		"Inline":        strings.Replace(u, "=attachment", "=inline", 1),
		"NoDisposition": strings.Replace(u, "X-Cp-Response-Content-Disposition=attachment&", "", 1),
	} {
		if forged == u {
			t.Fatalf("%s: nothing replaced in %s", name, u)
		}
		resp, body := f.do(t, "GET", forged, nil, nil)
		wantProblem(t, resp, body, http.StatusForbidden, domain.Forbidden)
	}
	if _, err := f.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "k", Expires: time.Minute, ContentType: "not a type"}); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("PresignDownload(bad content type): %v", err)
	}
}

func problemDetail(t *testing.T, body []byte) string {
	t.Helper()
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	return p.Detail
}
