package s3blob_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/s3blob/s3test"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestBrowserUploadCORS applies the documented bucket CORS rule and checks,
// against versitygw's bucket CORS, what a browser on an allowed origin does:
// a preflight for the presigned PUT, then the upload itself, then a GET of
// the presigned download. Another origin gets no CORS grant.
func TestBrowserUploadCORS(t *testing.T) {
	s := newTestStore(t, discardLog())
	const origin = "https://app.example.com"
	if err := s.PutCORS(t.Context(), []string{origin, "http://localhost:5173"}); err != nil {
		t.Fatalf("PutCORS: %v", err)
	}
	data := []byte("\x89PNG\r\n\x1a\n not really a png")
	key := "uploads/cors/" + porttest.NewID()
	tg, err := s.PresignUpload(t.Context(), ports.UploadPolicy{Key: key, ContentType: "image/png", Size: int64(len(data)), Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	preflight := func(origin string) *http.Response {
		t.Helper()
		resp, err := s3test.UploadPreflight(t.Context(), tg.URL, origin)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := preflight(origin)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("preflight from %s: status %d", origin, resp.StatusCode)
	}
	h := resp.Header
	if got := h.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
	if !headerListHas(h.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("Access-Control-Allow-Methods = %q, want PUT in it", h.Get("Access-Control-Allow-Methods"))
	}
	for _, want := range []string{"content-type", "if-none-match"} {
		if !headerListHas(h.Get("Access-Control-Allow-Headers"), want) {
			t.Errorf("Access-Control-Allow-Headers = %q, want %s in it", h.Get("Access-Control-Allow-Headers"), want)
		}
	}

	// S3 answers 403 to a preflight that no rule matches.
	if resp := preflight("https://evil.example.net"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v, want 403 without a CORS grant", resp.StatusCode, resp.Header)
	}

	res := sendUpload(t, tg.Method, tg.URL, tg.Headers["Content-Type"], data, false, http.Header{"Origin": {origin}})
	if res.status != http.StatusOK {
		t.Fatalf("upload with Origin: %d %s", res.status, res.err.Code)
	}
	if got := res.header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("upload: Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
	if !headerListHas(res.header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("upload: Access-Control-Expose-Headers = %q, want ETag", res.header.Get("Access-Control-Expose-Headers"))
	}

	u, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: key, Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("Origin", origin)
	get, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusOK || get.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("download with Origin: %d, Access-Control-Allow-Origin %q", get.StatusCode, get.Header.Get("Access-Control-Allow-Origin"))
	}
}

func headerListHas(list, want string) bool {
	return slices.ContainsFunc(strings.Split(list, ","), func(s string) bool {
		return strings.EqualFold(strings.TrimSpace(s), want)
	})
}
