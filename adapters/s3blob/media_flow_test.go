package s3blob_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
)

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMediaFlow runs the core's media use cases over this adapter and
// versitygw, as a server does: presigned upload by a plain HTTP client,
// POST /complete (Config.OnComplete) starting processing once, the stat and
// magic-byte checks, variant URLs that download, and the deletion of every
// object of an item.
func TestMediaFlow(t *testing.T) {
	blobs := newTestStore(t, discardLog())
	clock := system.Clock{}
	var triggered []string
	svc := media.New(memstore.New(clock), blobs, imaging.New(imaging.Config{}), system.IDs{}, clock, discardLog(), media.Config{
		OnComplete: func(_, id string) { triggered = append(triggered, id) },
	})
	ctx := t.Context()
	ada := domain.Principal{UserID: "ada"}
	img := testPNG(t, 640, 480)

	up, err := svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	// The S3 server itself refuses a tampered or oversized upload.
	if res := sendUpload(t, up.Target.Method, up.Target.URL, "image/jpeg", img, false, nil); res.status != http.StatusForbidden {
		t.Errorf("upload with another content type: %d, want 403", res.status)
	}
	if res := sendUpload(t, up.Target.Method, up.Target.URL, "image/png", append(bytes.Clone(img), 0), false, nil); res.status != http.StatusForbidden {
		t.Errorf("oversized upload: %d, want 403", res.status)
	}
	if res := sendUpload(t, up.Target.Method, up.Target.URL, up.Target.Headers["Content-Type"], img, false, nil); res.status != http.StatusOK {
		t.Fatalf("presigned upload: %d %s", res.status, res.err.Code)
	}

	// Complete triggers processing while pending; Process runs once.
	for range 2 {
		if _, err := svc.Complete(ctx, ada, up.Media.ID); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	if len(triggered) != 2 || triggered[0] != up.Media.ID {
		t.Fatalf("OnComplete calls %v, want two for %s while pending", triggered, up.Media.ID)
	}
	for _, id := range triggered {
		if err := svc.Process(ctx, id); err != nil {
			t.Fatalf("Process: %v", err)
		}
	}
	m, err := svc.Get(ctx, ada, up.Media.ID)
	if err != nil || m.Status != domain.MediaReady || len(m.Variants) != len(domain.VariantNames) {
		t.Fatalf("after processing: %+v, %v; want ready with every variant", m, err)
	}
	if _, err := svc.Complete(ctx, ada, up.Media.ID); err != nil || len(triggered) != 2 {
		t.Errorf("Complete on a ready item: %v, triggers %d; want a no-op", err, len(triggered))
	}

	view, err := svc.View(ctx, ada, m)
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range view.URLs {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") || len(body) == 0 {
			t.Errorf("GET %s URL: %d %q, %d bytes", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if name == media.Original && (!bytes.Equal(body, img) || resp.Header.Get("Content-Disposition") != "attachment") {
			t.Errorf("the original URL serves %d bytes with Content-Disposition %q, want the uploaded bytes as an attachment",
				len(body), resp.Header.Get("Content-Disposition"))
		}
	}

	// Bytes that are not what was declared fail the item (magic-byte sniff
	// of a ranged GET), without retry.
	fake := bytes.Repeat([]byte("not an image "), 40)
	up2, err := svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(fake)))
	if err != nil {
		t.Fatal(err)
	}
	if res := sendUpload(t, up2.Target.Method, up2.Target.URL, "image/png", fake, false, nil); res.status != http.StatusOK {
		t.Fatalf("upload: %d", res.status)
	}
	if err := svc.Process(ctx, up2.Media.ID); err != nil {
		t.Fatalf("Process(fake): %v", err)
	}
	if m2, _ := svc.Get(ctx, ada, up2.Media.ID); m2.Status != domain.MediaFailed || !strings.Contains(m2.FailureReason, "not image/png") {
		t.Errorf("fake image: %+v, want failed by the sniff", m2)
	}

	// Deleting items removes the original and every variant.
	svc.DeleteObjects(ctx, []domain.Media{m, up2.Media})
	keys := []string{domain.UploadKey("ada", m.ID), domain.UploadKey("ada", up2.Media.ID)}
	for _, v := range domain.VariantNames {
		keys = append(keys, domain.VariantKey(m.ID, v))
	}
	for _, k := range keys {
		if _, err := blobs.Stat(ctx, k); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("Stat(%s) after DeleteObjects: %v, want NotFound", k, err)
		}
	}
}
