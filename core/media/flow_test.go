package media_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/ports"
)

// These tests run the media use cases over the memory fakes (which pass
// the same contract suites as MySQL and S3) and the real pipeline.

type flow struct {
	svc      *media.Service
	store    *memstore.Store
	blobs    *memblob.Store
	srv      *httptest.Server
	clock    *manualClock
	mu       sync.Mutex
	complete []string
}

func newFlow(t *testing.T, cfg media.Config) *flow {
	t.Helper()
	f := &flow{clock: &manualClock{now: time.Now().UTC().Truncate(time.Second)}}
	f.store = memstore.New(f.clock)
	var base string
	f.blobs = memblob.New(memblob.Config{BaseURL: func() string { return base }, Clock: f.clock})
	f.srv = httptest.NewServer(f.blobs.Handler())
	t.Cleanup(f.srv.Close)
	base = f.srv.URL
	cfg.OnComplete = func(owner, id string) {
		f.mu.Lock()
		f.complete = append(f.complete, owner+"/"+id)
		f.mu.Unlock()
	}
	f.svc = media.New(f.store, f.blobs, imaging.New(imaging.Config{}), system.IDs{}, f.clock, slog.New(slog.DiscardHandler), cfg)
	return f
}

func testImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload sends data with the target as a client does and returns the status.
func upload(t *testing.T, tg domain.UploadTarget, data []byte) int {
	t.Helper()
	req, err := http.NewRequest(tg.Method, tg.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tg.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var (
	ada = domain.Principal{UserID: "ada"}
	bob = domain.Principal{UserID: "bob"}
)

func TestCompleteWithoutBytesIsConflict(t *testing.T) {
	f := newFlow(t, media.Config{})
	ctx := t.Context()
	img := testImage(t, 64, 48)
	up, err := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(ctx, ada, up.Media.ID); !domain.IsCode(err, domain.Conflict) {
		t.Fatalf("Complete before the bytes: %v, want Conflict", err)
	}
	if len(f.complete) != 0 {
		t.Fatalf("processing triggered for an upload that is not there: %v", f.complete)
	}
	if _, err := f.svc.Complete(ctx, bob, up.Media.ID); !domain.IsCode(err, domain.Forbidden) {
		t.Fatalf("Complete by another user: %v, want Forbidden", err)
	}
	if st := upload(t, up.Target, img); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	if _, err := f.svc.Complete(ctx, ada, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.complete, []string{"ada/" + up.Media.ID}) {
		t.Fatalf("OnComplete calls %v", f.complete)
	}
}

func TestInFlightCap(t *testing.T) {
	f := newFlow(t, media.Config{MaxInFlight: 3, UploadExpiry: 10 * time.Minute, ExpiryGrace: 5 * time.Minute})
	ctx := t.Context()
	var ups []media.Upload
	for range 3 {
		up, err := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", 100)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, up)
		f.clock.add(time.Minute)
	}
	_, err := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", 100)
	if !domain.IsCode(err, domain.TooManyRequests) {
		t.Fatalf("fourth upload in flight: %v, want TooManyRequests", err)
	}
	// The oldest was created 3 min ago and expires 15 min after creation.
	if ra := domain.RetryAfter(err); ra != 12*time.Minute {
		t.Errorf("RetryAfter %v, want 12m", ra)
	}
	if _, err := f.svc.CreateUpload(ctx, bob, domain.PurposePost, "image/png", 100); err != nil {
		t.Fatalf("another user is not capped by ada's uploads: %v", err)
	}
	// A processed upload frees its slot.
	if _, err := f.store.UpdateMedia(ctx, ups[0].Media.ID, func(m *domain.Media) error { m.Status = domain.MediaReady; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", 100); err != nil {
		t.Fatalf("a slot freed by processing: %v", err)
	}
}

func TestViewersNeverGetTheRawUpload(t *testing.T) {
	f := newFlow(t, media.Config{})
	ctx := t.Context()
	img := testImage(t, 300, 200)
	up, err := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if st := upload(t, up.Target, img); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	m, err := f.store.GetMedia(ctx, up.Media.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.MediaReady || m.ETag == "" || len(m.Checksum) != 64 {
		t.Fatalf("processed item %+v: want ready with ETag and SHA-256", m)
	}
	own, err := f.svc.View(ctx, ada, m)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.View(ctx, bob, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := own.URLs[media.Original]; !ok {
		t.Errorf("the owner lost the raw upload: %v", own.URLs)
	}
	if _, ok := other.URLs[media.Original]; ok {
		t.Errorf("another user gets the raw upload: %v", other.URLs)
	}
	for _, name := range domain.VariantNames {
		if other.URLs[name] == "" || own.URLs[name] == "" {
			t.Errorf("variant %s missing: owner %v, other %v", name, own.URLs, other.URLs)
		}
	}
	// The owner's original downloads as an attachment of the verified type.
	res, err := http.Get(own.URLs[media.Original])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("original: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
}

// TestUploadWritesOnce: replaying the upload URL with HTML bytes of the
// same size and declared type is refused, before and after processing, and
// the item keeps serving what the pipeline verified.
func TestUploadWritesOnce(t *testing.T) {
	f := newFlow(t, media.Config{})
	ctx := t.Context()
	img := testImage(t, 40, 30)
	up, err := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	html := []byte("<html><script>alert(1)</script>" + strings.Repeat(" ", len(img)))[:len(img)]
	if st := upload(t, up.Target, img); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	if st := upload(t, up.Target, html); st != http.StatusPreconditionFailed {
		t.Fatalf("replay before processing: %d, want 412", st)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	if st := upload(t, up.Target, html); st != http.StatusPreconditionFailed {
		t.Fatalf("replay after processing: %d, want 412", st)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil { // the trigger a replay would fire
		t.Fatal(err)
	}
	m, _ := f.store.GetMedia(ctx, up.Media.ID)
	if m.Status != domain.MediaReady {
		t.Fatalf("item %s after refused replays, want ready", m.Status)
	}
}

// TestReplacedUploadFailsTheItem: if the stored bytes change after
// processing anyway (a storage service that ignores If-None-Match, someone
// with bucket access), the next trigger fails the item instead of serving
// other bytes, and its renditions are gone.
func TestReplacedUploadFailsTheItem(t *testing.T) {
	f := newFlow(t, media.Config{})
	ctx := t.Context()
	img := testImage(t, 40, 30)
	up, _ := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	if st := upload(t, up.Target, img); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	// Same bytes written again (another ETag on an encrypted bucket): fine.
	key := domain.UploadKey("ada", up.Media.ID)
	if err := f.blobs.Put(ctx, ports.Object{Key: key, ContentType: "image/png", Size: int64(len(img))}, bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.store.GetMedia(ctx, up.Media.ID); m.Status != domain.MediaReady {
		t.Fatalf("identical bytes rewritten: %s, want ready", m.Status)
	}
	other := bytes.Clone(img)
	other[len(other)/2] ^= 0xFF
	if err := f.blobs.Put(ctx, ports.Object{Key: key, ContentType: "image/png", Size: int64(len(other))}, bytes.NewReader(other)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	m, _ := f.store.GetMedia(ctx, up.Media.ID)
	if m.Status != domain.MediaFailed || m.FailureReason != media.ReasonReplaced {
		t.Fatalf("replaced upload: %s %q, want failed", m.Status, m.FailureReason)
	}
	v, _ := f.svc.View(ctx, ada, m)
	if len(v.URLs) != 0 {
		t.Errorf("a failed item still has URLs: %v", v.URLs)
	}
	for _, name := range domain.VariantNames {
		if _, err := f.blobs.Stat(ctx, domain.VariantKey(m.ID, name)); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("variant %s of a failed item: %v, want deleted", name, err)
		}
	}
	if info, err := f.blobs.Stat(ctx, key); err != nil || info.Size != 0 {
		t.Errorf("the replaced bytes: %+v %v, want an empty object holding the key", info, err)
	}
}

func TestFailedUploadDropsItsBytes(t *testing.T) {
	f := newFlow(t, media.Config{})
	ctx := t.Context()
	junk := bytes.Repeat([]byte("not an image "), 1000)
	up, _ := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(junk)))
	if st := upload(t, up.Target, junk); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	if err := f.svc.Process(ctx, up.Media.ID); err != nil {
		t.Fatal(err)
	}
	m, _ := f.store.GetMedia(ctx, up.Media.ID)
	if m.Status != domain.MediaFailed {
		t.Fatalf("status %s", m.Status)
	}
	info, err := f.blobs.Stat(ctx, domain.UploadKey("ada", m.ID))
	if err != nil || info.Size != 0 {
		t.Fatalf("bytes of a failed upload: %+v %v, want an empty object", info, err)
	}
	if st := upload(t, up.Target, junk); st != http.StatusPreconditionFailed {
		t.Fatalf("replay after failure: %d, want 412", st)
	}
}

// TestSweep: an upload whose bytes arrived but whose trigger was lost is
// found and processed; one whose bytes never came expires after the upload
// URL's expiry plus the grace; one still within its time is left alone;
// stray bytes of an expired upload are deleted.
func TestSweep(t *testing.T) {
	f := newFlow(t, media.Config{UploadExpiry: 10 * time.Minute, ExpiryGrace: 5 * time.Minute, SweepSettle: time.Minute})
	ctx := t.Context()
	img := testImage(t, 20, 20)
	lost, _ := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	never, _ := f.svc.CreateUpload(ctx, ada, domain.PurposePost, "image/png", int64(len(img)))
	if st := upload(t, lost.Target, img); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	var handed []string
	process := func(owner, id string) {
		handed = append(handed, owner+"/"+id)
		if err := f.svc.Process(ctx, id); err != nil {
			t.Errorf("Process: %v", err)
		}
	}
	// Within the settle time nothing is visited: a queue may be on it.
	if st, err := f.svc.Sweep(ctx, process); err != nil || st.Visited != 0 {
		t.Fatalf("fresh sweep: %+v %v", st, err)
	}
	f.clock.add(2 * time.Minute)
	late, _ := f.svc.CreateUpload(ctx, bob, domain.PurposePost, "image/png", int64(len(img)))
	st, err := f.svc.Sweep(ctx, process)
	if err != nil || st.Processed != 1 || st.Expired != 0 || !slices.Equal(handed, []string{"ada/" + lost.Media.ID}) {
		t.Fatalf("sweep: %+v %v, handed %v", st, err, handed)
	}
	if m, _ := f.store.GetMedia(ctx, lost.Media.ID); m.Status != domain.MediaReady {
		t.Fatalf("lost trigger: %s, want ready", m.Status)
	}
	// Past expiry + grace the missing upload expires; bytes arriving with a
	// slow, last-moment upload are deleted with it.
	f.clock.add(14 * time.Minute)
	stray := []byte("late bytes")
	if err := f.blobs.Put(ctx, ports.Object{Key: domain.VariantKey(never.Media.ID, domain.VariantThumb), ContentType: "image/png", Size: int64(len(stray))}, bytes.NewReader(stray)); err != nil {
		t.Fatal(err)
	}
	st, err = f.svc.Sweep(ctx, process)
	if err != nil || st.Expired != 1 {
		t.Fatalf("expiry sweep: %+v %v", st, err)
	}
	m, _ := f.store.GetMedia(ctx, never.Media.ID)
	if m.Status != domain.MediaFailed || m.FailureReason != domain.ReasonExpired {
		t.Fatalf("never uploaded: %s %q, want failed/expired", m.Status, m.FailureReason)
	}
	if _, err := f.blobs.Stat(ctx, domain.VariantKey(never.Media.ID, domain.VariantThumb)); !domain.IsCode(err, domain.NotFound) {
		t.Errorf("stray bytes of an expired upload: %v, want deleted", err)
	}
	if m, _ := f.store.GetMedia(ctx, late.Media.ID); m.Status != domain.MediaPending {
		t.Fatalf("an upload within its time: %s, want pending", m.Status)
	}
}

func TestProcessTimeoutReleasesClaim(t *testing.T) {
	f := newFlow(t, media.Config{})
	img := testImage(t, 20, 20)
	up, _ := f.svc.CreateUpload(t.Context(), ada, domain.PurposePost, "image/png", int64(len(img)))
	if st := upload(t, up.Target, img); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.svc.Process(ctx, up.Media.ID); err == nil {
		t.Fatal("Process with an ended context succeeded")
	}
	m, _ := f.store.GetMedia(t.Context(), up.Media.ID)
	if m.Status != domain.MediaPending {
		t.Fatalf("status %s after a cancelled attempt, want pending (claim released)", m.Status)
	}
}
