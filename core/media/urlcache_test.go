package media_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/mocks"
	"github.com/cloudpost/cloudpost/ports"
)

type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// signer answers PresignDownload with a URL naming the key, the signing
// instant and the validity asked for, and counts the calls.
func validFor(d time.Duration) gomock.Matcher {
	return gomock.Cond(func(p ports.DownloadPolicy) bool { return p.Expires == d })
}

type signer struct {
	clock *manualClock
	mu    sync.Mutex
	calls int
}

func (s *signer) presign(_ context.Context, p ports.DownloadPolicy) (string, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return fmt.Sprintf("https://blobs.test/%s?signed=%d&valid=%s", p.Key, s.clock.Now().Unix(), p.Expires), nil
}

// owner views its own media: the original and three variants, four URLs.
var owner = domain.Principal{UserID: "u1"}

func readyMedia(id string) domain.Media {
	return domain.Media{ID: id, OwnerID: "u1", Status: domain.MediaReady, Variants: []string{"thumb", "small", "medium"}}
}

func TestDownloadURLsAreReusedWhileTheyLastTheExpiry(t *testing.T) {
	ctrl := gomock.NewController(t)
	blobs := mocks.NewMockBlobs(ctrl)
	clock := &manualClock{now: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
	s := &signer{clock: clock}
	blobs.EXPECT().PresignDownload(gomock.Any(), validFor(90*time.Minute)).DoAndReturn(s.presign).AnyTimes()
	svc := media.New(mocks.NewMockStorage(ctrl), blobs, mocks.NewMockImages(ctrl), fixedIDs{}, clock, nil,
		media.Config{DownloadExpiry: 80 * time.Minute})

	first, err := svc.View(t.Context(), owner, readyMedia("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.calls != 4 || len(first.URLs) != 4 {
		t.Fatalf("%d signatures for %d URLs, want 4 and 4", s.calls, len(first.URLs))
	}
	// Within the reuse window (an eighth of the expiry, 10 min) the same
	// URLs come back, signed for 90 min: at least 80 min left each time.
	clock.add(10*time.Minute - time.Second)
	again, err := svc.View(t.Context(), owner, readyMedia("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.calls != 4 {
		t.Errorf("%d signatures after a second view, want 4", s.calls)
	}
	for name, u := range first.URLs {
		if again.URLs[name] != u {
			t.Errorf("%s: %s then %s", name, u, again.URLs[name])
		}
	}
	// Other media are signed separately.
	if _, err := svc.View(t.Context(), owner, readyMedia("m2")); err != nil {
		t.Fatal(err)
	}
	if s.calls != 8 {
		t.Errorf("%d signatures after another item, want 8", s.calls)
	}
	// Past the window the URLs would last less than the expiry: new ones.
	clock.add(time.Second)
	later, err := svc.View(t.Context(), owner, readyMedia("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.calls != 12 {
		t.Errorf("%d signatures after the window, want 12", s.calls)
	}
	for name, u := range first.URLs {
		if later.URLs[name] == u {
			t.Errorf("%s: stale URL %s handed out after its window", name, u)
		}
	}
}

func TestDownloadURLReuseCanBeTurnedOff(t *testing.T) {
	ctrl := gomock.NewController(t)
	blobs := mocks.NewMockBlobs(ctrl)
	clock := &manualClock{now: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
	s := &signer{clock: clock}
	blobs.EXPECT().PresignDownload(gomock.Any(), validFor(time.Hour)).DoAndReturn(s.presign).Times(8)
	svc := media.New(mocks.NewMockStorage(ctrl), blobs, mocks.NewMockImages(ctrl), fixedIDs{}, clock, nil,
		media.Config{URLCacheEntries: -1})
	for range 2 {
		if _, err := svc.View(t.Context(), owner, readyMedia("m1")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDownloadURLCacheIsBounded(t *testing.T) {
	ctrl := gomock.NewController(t)
	blobs := mocks.NewMockBlobs(ctrl)
	clock := &manualClock{now: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
	s := &signer{clock: clock}
	blobs.EXPECT().PresignDownload(gomock.Any(), gomock.Any()).DoAndReturn(s.presign).AnyTimes()
	svc := media.New(mocks.NewMockStorage(ctrl), blobs, mocks.NewMockImages(ctrl), fixedIDs{}, clock, nil,
		media.Config{URLCacheEntries: 40})
	for i := range 100 {
		if _, err := svc.View(t.Context(), owner, readyMedia(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	// With at most 40 entries, at most 40 of the 400 URLs can be reused.
	before := s.calls
	for i := range 100 {
		if _, err := svc.View(t.Context(), owner, readyMedia(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	if resigned := s.calls - before; resigned < 400-40 {
		t.Errorf("only %d of 400 URLs signed again: the cache holds more than its 40 entries", resigned)
	}
}
