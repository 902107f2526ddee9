package memblob_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/fakeclock"
	"github.com/cloudpost/cloudpost/ports"
)

// t0 is a whole second, so expiries are exactly now+d.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	store *memblob.Store
	srv   *httptest.Server
	clock *fakeclock.Clock
}

func newFixture(t *testing.T, cfg memblob.Config) *fixture {
	t.Helper()
	f := &fixture{clock: fakeclock.New(t0)}
	if cfg.Clock == nil {
		cfg.Clock = f.clock
	}
	cfg.BaseURL = func() string { return f.srv.URL }
	f.store = memblob.New(cfg)
	f.srv = httptest.NewServer(f.store.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) presign(t *testing.T, key, ct string, size int64) domain.UploadTarget {
	t.Helper()
	tg, err := f.store.PresignUpload(t.Context(), ports.UploadPolicy{Key: key, ContentType: ct, Size: size, Expires: 10 * time.Second})
	if err != nil {
		t.Fatalf("PresignUpload: %v", err)
	}
	return tg
}

// do sends a request and returns the response with its body read.
func (f *fixture) do(t *testing.T, method, url string, header map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (f *fixture) upload(t *testing.T, tg domain.UploadTarget, body []byte) (*http.Response, []byte) {
	t.Helper()
	return f.do(t, tg.Method, tg.URL, tg.Headers, body)
}

type problem struct {
	Type   string
	Title  string
	Status int
	Detail string
	Code   string
}

func wantProblem(t *testing.T, resp *http.Response, body []byte, status int, code domain.Code) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Type != "about:blank" || p.Status != status || p.Title != http.StatusText(status) || p.Code != string(code) || p.Detail == "" {
		t.Errorf("problem = %+v, want status %d and code %s", p, status, code)
	}
}

func TestUploadHook(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	var mu sync.Mutex
	var calls []string
	f.store.SetUploadHook(func(key string) {
		// The object is stored before the hook runs, and no lock is held.
		if _, err := f.store.Stat(t.Context(), key); err != nil {
			t.Errorf("hook: Stat(%q): %v", key, err)
		}
		mu.Lock()
		calls = append(calls, key)
		mu.Unlock()
	})
	hookCalls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), calls...)
	}
	data := []byte("0123456789")

	tg := f.presign(t, "uploads/u1/m1", "image/png", int64(len(data)))
	if resp, body := f.upload(t, tg, data); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("upload: %d %s, ETag %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if got := hookCalls(); len(got) != 1 || got[0] != "uploads/u1/m1" {
		t.Fatalf("hook calls after one upload = %q", got)
	}

	// Failures and Put never call it.
	tg2 := f.presign(t, "uploads/u1/m2", "image/png", int64(len(data)))
	f.upload(t, tg2, data[:5])
	f.upload(t, tg2, append(bytes.Clone(data), 'x'))
	f.do(t, "PUT", tg2.URL, map[string]string{"Content-Type": "image/gif"}, data)
	f.do(t, "PUT", strings.Replace(tg2.URL, "X-Cp-Signature=", "X-Cp-Signature=0", 1), tg2.Headers, data)
	if err := f.store.Put(t.Context(), ports.Object{Key: "uploads/u1/m3", ContentType: "image/png", Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	if resp, body := f.upload(t, tg2, data); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired upload: %d %s", resp.StatusCode, body)
	}
	if got := hookCalls(); len(got) != 1 {
		t.Fatalf("hook calls = %q, want only the one successful upload", got)
	}

	f.store.SetUploadHook(nil)
	tg3 := f.presign(t, "uploads/u1/m4", "image/png", int64(len(data)))
	if resp, body := f.upload(t, tg3, data); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload without hook: %d %s", resp.StatusCode, body)
	}
	if got := hookCalls(); len(got) != 1 {
		t.Fatalf("removed hook was called: %q", got)
	}
}

func TestDownloadHeadersAndHead(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	data := []byte("\x89PNG fake image bytes")
	if err := f.store.Put(t.Context(), ports.Object{Key: "variants/m1/thumb", ContentType: "image/png", Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	info, err := f.store.Stat(t.Context(), "variants/m1/thumb")
	if err != nil {
		t.Fatal(err)
	}
	url, err := f.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/m1/thumb", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(15 * time.Second)

	for _, method := range []string{"GET", "HEAD"} {
		resp, body := f.do(t, method, url, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", method, resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("Content-Type") != "image/png" || h.Get("Content-Length") != strconv.Itoa(len(data)) ||
			h.Get("ETag") != info.ETag || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Cache-Control") != "private, max-age=45" {
			t.Errorf("%s headers = %v", method, h)
		}
		want := data
		if method == "HEAD" {
			want = nil
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s body = %q, want %q", method, body, want)
		}
	}

	// Conditional and range requests come with ServeContent.
	resp, _ := f.do(t, "GET", url, map[string]string{"If-None-Match": info.ETag}, nil)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	resp, body := f.do(t, "GET", url, map[string]string{"Range": "bytes=0-3"}, nil)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[:4]) {
		t.Errorf("Range: status %d body %q", resp.StatusCode, body)
	}

	missing, err := f.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/none/thumb", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = f.do(t, "GET", missing, nil, nil)
	wantProblem(t, resp, body, http.StatusNotFound, domain.NotFound)
	if resp, body = f.do(t, "HEAD", missing, nil, nil); resp.StatusCode != http.StatusNotFound || len(body) != 0 {
		t.Errorf("HEAD missing: %d %q", resp.StatusCode, body)
	}

	// A download URL is not an upload URL and vice versa.
	resp, body = f.do(t, "PUT", url, map[string]string{"Content-Type": "image/png"}, data)
	wantProblem(t, resp, body, http.StatusForbidden, domain.Forbidden)
	tg := f.presign(t, "variants/m1/thumb", "image/png", int64(len(data)))
	resp, body = f.do(t, "GET", tg.URL, nil, nil)
	wantProblem(t, resp, body, http.StatusForbidden, domain.Forbidden)

	f.clock.Advance(45 * time.Second)
	resp, body = f.do(t, "GET", url, nil, nil)
	wantProblem(t, resp, body, http.StatusForbidden, domain.Forbidden)
}

func TestMethodsAndRoutes(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	tg := f.presign(t, "uploads/u/m", "image/png", 3)
	for _, method := range []string{"POST", "DELETE", "PATCH"} {
		resp, body := f.do(t, method, tg.URL, tg.Headers, []byte("abc"))
		wantProblem(t, resp, body, http.StatusMethodNotAllowed, domain.Invalid)
		if resp.Header.Get("Allow") == "" {
			t.Errorf("%s: no Allow header", method)
		}
	}
	if _, err := f.store.Stat(t.Context(), "uploads/u/m"); !domain.IsCode(err, domain.NotFound) {
		t.Errorf("Stat after refused methods: %v", err)
	}

	resp, body := f.do(t, "OPTIONS", tg.URL, map[string]string{
		"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,if-none-match",
	}, nil)
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		resp.Header.Get("Access-Control-Allow-Headers") != "Content-Type, If-None-Match" || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("preflight: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	for _, path := range []string{"/", "/v1/blobs/", "/v1/other/uploads/u/m"} {
		resp, body := f.do(t, "GET", f.srv.URL+path, nil, nil)
		wantProblem(t, resp, body, http.StatusNotFound, domain.NotFound)
	}
}

func TestUploadRefusals(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	data := []byte("exactly 20 bytes!!!!")
	tg := f.presign(t, "uploads/u/m", "image/jpeg", int64(len(data)))
	cases := []struct {
		name   string
		url    string
		header map[string]string
		body   []byte
		status int
		code   domain.Code
	}{
		{"Smaller", tg.URL, tg.Headers, data[:19], 400, domain.Invalid},
		{"Larger", tg.URL, tg.Headers, append(bytes.Clone(data), '!'), 413, domain.TooLarge},
		{"OtherType", tg.URL, map[string]string{"Content-Type": "image/jpg", "If-None-Match": "*"}, data, 403, domain.Forbidden},
		{"NoIfNoneMatch", tg.URL, map[string]string{"Content-Type": "image/jpeg"}, data, 403, domain.Forbidden},
		{"OtherIfNoneMatch", tg.URL, map[string]string{"Content-Type": "image/jpeg", "If-None-Match": `"abc"`}, data, 403, domain.Forbidden},
		{"NoType", tg.URL, nil, data, 403, domain.Forbidden},
		{"TamperedSize", strings.Replace(tg.URL, "X-Cp-Size=20", "X-Cp-Size=21", 1), tg.Headers, append(bytes.Clone(data), '!'), 403, domain.Forbidden},
		{"TamperedExpiry", strings.Replace(tg.URL, "X-Cp-Expires=", "X-Cp-Expires=9", 1), tg.Headers, data, 403, domain.Forbidden},
		{"NoSignature", strings.Split(tg.URL, "?")[0], tg.Headers, data, 403, domain.Forbidden},
		{"OtherKey", strings.Replace(tg.URL, "/u/m?", "/u/n?", 1), tg.Headers, data, 403, domain.Forbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := f.do(t, "PUT", c.url, c.header, c.body)
			wantProblem(t, resp, body, c.status, c.code)
		})
	}
	for _, key := range []string{"uploads/u/m", "uploads/u/n"} {
		if _, err := f.store.Stat(t.Context(), key); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("Stat(%q) after refusals: %v", key, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	data := []byte("abc")
	tg := f.presign(t, "uploads/u/m", "image/png", 3)
	if want := t0.Add(10 * time.Second); !tg.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", tg.ExpiresAt, want)
	}
	f.clock.Advance(10*time.Second - time.Nanosecond)
	if resp, body := f.upload(t, tg, data); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload just before expiry: %d %s", resp.StatusCode, body)
	}
	f.clock.Advance(time.Nanosecond)
	resp, body := f.upload(t, tg, []byte("xyz"))
	wantProblem(t, resp, body, http.StatusForbidden, domain.Forbidden)
	if head, err := f.store.ReadHead(t.Context(), "uploads/u/m", 3); err != nil || string(head) != "abc" {
		t.Errorf("object after expired upload: %q, %v", head, err)
	}
}

// failReader fails the test when the handler reads a body it should refuse
// unread.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("the body was read")
	return 0, io.EOF
}

// countingReader is an endless body that counts what was read from it.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n += int64(len(p))
	return len(p), nil
}

func TestBodyReading(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	h := f.store.Handler()
	tg := f.presign(t, "uploads/u/m", "image/png", 100)
	path := strings.TrimPrefix(tg.URL, f.srv.URL)

	for cl, status := range map[int64]int{0: 400, 99: 400, 101: 413, 1 << 40: 413} {
		req := httptest.NewRequest("PUT", path, failReader{t})
		req.ContentLength = cl
		req.Header.Set("Content-Type", "image/png")
		req.Header.Set("If-None-Match", "*")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != status {
			t.Errorf("Content-Length %d: status %d, want %d", cl, rec.Code, status)
		}
	}

	// Chunked (unknown length): at most size+1 bytes are read.
	body := &countingReader{}
	req := httptest.NewRequest("PUT", path, body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("If-None-Match", "*")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), `"TooLarge"`) {
		t.Errorf("endless chunked body: %d %s", rec.Code, rec.Body)
	}
	if body.n > 101 {
		t.Errorf("read %d bytes of an endless body, want at most 101", body.n)
	}

	// Chunked with exactly the signed size is accepted.
	req = httptest.NewRequest("PUT", path, io.LimitReader(&countingReader{}, 100))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("If-None-Match", "*")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("chunked body of the right size: %d %s", rec.Code, rec.Body)
	}
}

func TestSpecialKeysRoundTrip(t *testing.T) {
	f := newFixture(t, memblob.Config{})
	data := []byte("hello")
	for _, key := range []string{"uploads/ü ber/a%20b+c?d#e&f=g", "x", "a/b/c/d/e/f"} {
		tg := f.presign(t, key, "text/plain; charset=utf-8", int64(len(data)))
		if resp, body := f.upload(t, tg, data); resp.StatusCode != http.StatusOK {
			t.Fatalf("upload %q: %d %s", key, resp.StatusCode, body)
		}
		url, err := f.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: key, Expires: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if resp, body := f.do(t, "GET", url, nil, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("download %q: %d %q", key, resp.StatusCode, body)
		}
	}
}

func TestSecrets(t *testing.T) {
	put := func(f *fixture) {
		if err := f.store.Put(t.Context(), ports.Object{Key: "k", ContentType: "text/plain", Size: 1}, strings.NewReader("v")); err != nil {
			t.Fatal(err)
		}
	}
	// Random secrets: one store's URLs are worthless to another.
	a, b := newFixture(t, memblob.Config{}), newFixture(t, memblob.Config{})
	put(a)
	put(b)
	url, err := a.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "k", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := b.do(t, "GET", strings.Replace(url, a.srv.URL, b.srv.URL, 1), nil, nil)
	wantProblem(t, resp, body, http.StatusForbidden, domain.Forbidden)

	// A shared secret makes URLs portable (e.g. across a restart).
	secret := []byte("shared secret")
	c, d := newFixture(t, memblob.Config{Secret: secret}), newFixture(t, memblob.Config{Secret: secret})
	put(d)
	url, err = c.store.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "k", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := d.do(t, "GET", strings.Replace(url, c.srv.URL, d.srv.URL, 1), nil, nil); resp.StatusCode != http.StatusOK || string(body) != "v" {
		t.Errorf("shared secret: %d %q", resp.StatusCode, body)
	}
}

func TestConfig(t *testing.T) {
	ctx := t.Context()
	s := memblob.New(memblob.Config{})
	url, err := s.PresignDownload(ctx, ports.DownloadPolicy{Key: "a/b", Expires: time.Minute})
	if err != nil || !strings.HasPrefix(url, "/v1/blobs/a/b?") {
		t.Errorf("default URL = %q, %v", url, err)
	}
	s = memblob.New(memblob.Config{PathPrefix: "files", BaseURL: func() string { return "https://media.example/" }})
	url, err = s.PresignDownload(ctx, ports.DownloadPolicy{Key: "a/b", Expires: time.Minute})
	if err != nil || !strings.HasPrefix(url, "https://media.example/files/a/b?") {
		t.Errorf("configured URL = %q, %v", url, err)
	}
	if err := s.Put(ctx, ports.Object{Key: "a/b", ContentType: "text/plain", Size: 1}, strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", strings.TrimPrefix(url, "https://media.example"), nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "v" {
		t.Errorf("GET under the custom prefix: %d %s", rec.Code, rec.Body)
	}
}

func TestInvalidArguments(t *testing.T) {
	ctx := t.Context()
	s := memblob.New(memblob.Config{})
	ok := ports.UploadPolicy{Key: "uploads/u/m", ContentType: "image/png", Size: 10, Expires: time.Minute}
	for name, mod := range map[string]func(p *ports.UploadPolicy){
		"EmptyKey":        func(p *ports.UploadPolicy) { p.Key = "" },
		"LeadingSlash":    func(p *ports.UploadPolicy) { p.Key = "/uploads/u" },
		"DotSegment":      func(p *ports.UploadPolicy) { p.Key = "uploads/../u" },
		"ControlChar":     func(p *ports.UploadPolicy) { p.Key = "uploads/u\n" },
		"BadUTF8":         func(p *ports.UploadPolicy) { p.Key = "uploads/\xff" },
		"LongKey":         func(p *ports.UploadPolicy) { p.Key = strings.Repeat("k", memblob.MaxKeyLen+1) },
		"NoContentType":   func(p *ports.UploadPolicy) { p.ContentType = "" },
		"BadContentType":  func(p *ports.UploadPolicy) { p.ContentType = "image png" },
		"ZeroSize":        func(p *ports.UploadPolicy) { p.Size = 0 },
		"HugeSize":        func(p *ports.UploadPolicy) { p.Size = memblob.MaxObjectSize + 1 },
		"ZeroExpiry":      func(p *ports.UploadPolicy) { p.Expires = 0 },
		"TooLongExpiry":   func(p *ports.UploadPolicy) { p.Expires = memblob.MaxExpires + time.Second },
		"NegativeExpires": func(p *ports.UploadPolicy) { p.Expires = -time.Second },
	} {
		p := ok
		mod(&p)
		if _, err := s.PresignUpload(ctx, p); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("%s: PresignUpload: %v, want Invalid", name, err)
		}
	}
	if _, err := s.PresignUpload(ctx, ok); err != nil {
		t.Errorf("valid policy: %v", err)
	}
	if _, err := s.PresignDownload(ctx, ports.DownloadPolicy{Key: "", Expires: time.Minute}); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("PresignDownload(empty key): %v", err)
	}
	if _, err := s.PresignDownload(ctx, ports.DownloadPolicy{Key: "k", Expires: 0}); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("PresignDownload(0 expiry): %v", err)
	}
	if err := s.Put(ctx, ports.Object{Key: "k", ContentType: "", Size: 1}, strings.NewReader("v")); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("Put(no content type): %v", err)
	}
	if err := s.Put(ctx, ports.Object{Key: "k", ContentType: "text/plain", Size: -1}, strings.NewReader("")); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("Put(negative size): %v", err)
	}
	if err := s.Put(ctx, ports.Object{Key: "a//b", ContentType: "text/plain", Size: 1}, strings.NewReader("v")); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("Put(empty segment): %v", err)
	}
	readErr := errors.New("disk on fire")
	if err := s.Put(ctx, ports.Object{Key: "k", ContentType: "text/plain", Size: 2}, io.MultiReader(strings.NewReader("v"), errReader{readErr})); !domain.IsCode(err, domain.Internal) || !errors.Is(err, readErr) {
		t.Errorf("Put(failing body): %v, want Internal wrapping the cause", err)
	}
	if err := s.Put(ctx, ports.Object{Key: "k", ContentType: "text/plain", Size: 0}, strings.NewReader("")); err != nil {
		t.Errorf("Put(empty object): %v", err)
	}
	if _, err := s.ReadHead(ctx, "k", -1); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("ReadHead(-1): %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
