package porttest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

// The suite's own request building is checked here because the memory store
// only exercises the PUT path.

func TestBlobSendPostForm(t *testing.T) {
	type seen struct {
		fields      map[string]string
		order       []string
		fileType    string
		file        string
		contentLen  int64
		transferEnc []string
	}
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{fields: map[string]string{}, contentLen: r.ContentLength, transferEnc: r.TransferEncoding}
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			b, _ := io.ReadAll(p)
			got.order = append(got.order, p.FormName())
			if p.FormName() == "file" {
				got.fileType, got.file = p.Header.Get("Content-Type"), string(b)
			} else {
				got.fields[p.FormName()] = string(b)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	h := BlobHarness{HTTPClient: srv.Client()}
	tg := domain.UploadTarget{Method: "POST", URL: srv.URL + "/bucket", Fields: map[string]string{
		"key": "porttest/blob/a", "Content-Type": "image/png", "policy": "cG9saWN5", "x-amz-signature": "abcdef",
	}}

	if status, body := blobSend(t, h, blobAttempt{target: tg, body: []byte("pixels")}); status != http.StatusNoContent {
		t.Fatalf("status %d: %s", status, body)
	}
	if got.order[len(got.order)-1] != "file" || got.file != "pixels" || got.fileType != "image/png" || got.fields["key"] != "porttest/blob/a" || len(got.fields) != 4 {
		t.Errorf("form = %+v", got)
	}
	if got.contentLen <= 0 {
		t.Errorf("Content-Length = %d, want a declared length", got.contentLen)
	}

	forged := blobRewriteKey(t, blobTamperTarget(t, tg), "porttest/blob/a", "porttest/blob/b")
	if tg.Fields["x-amz-signature"] != "abcdef" || tg.Fields["key"] != "porttest/blob/a" {
		t.Fatalf("forging modified the original target: %v", tg.Fields)
	}
	blobSend(t, h, blobAttempt{target: forged, body: []byte("pixels"), contentType: "image/gif", chunked: true})
	if got.fields["x-amz-signature"] == "abcdef" || got.fields["key"] != "porttest/blob/b" || got.fields["Content-Type"] != "image/gif" || got.fileType != "image/gif" {
		t.Errorf("forged form = %+v", got)
	}
	if got.contentLen != -1 || len(got.transferEnc) != 1 || got.transferEnc[0] != "chunked" {
		t.Errorf("chunked: Content-Length %d, Transfer-Encoding %v", got.contentLen, got.transferEnc)
	}
}

func TestBlobForgeURL(t *testing.T) {
	const u = "https://s3.example/bkt/porttest/blob/0190-ab?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20250301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0f3a&X-Amz-SignedHeaders=content-type%3Bhost"
	tampered := blobTamperURL(t, u)
	if want := strings.Replace(u, "X-Amz-Signature=0f3a", "X-Amz-Signature=1f3a", 1); tampered != want {
		t.Errorf("tampered = %q, want %q", tampered, want)
	}
	rewritten := blobRewriteURLKey(t, u, "porttest/blob/0190-ab", "porttest/blob/0190-cd")
	if want := strings.Replace(u, "/0190-ab?", "/0190-cd?", 1); rewritten != want {
		t.Errorf("rewritten = %q, want %q", rewritten, want)
	}
	for in, want := range map[string]string{"%3Dabc": "%3D0bc", "0f": "1f", "Zm9v%3D": "0m9v%3D"} {
		if got := blobFlip(in); got != want {
			t.Errorf("blobFlip(%q) = %q, want %q", in, got, want)
		}
	}
}
