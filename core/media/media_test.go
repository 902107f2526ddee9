package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/mocks"
	"github.com/cloudpost/cloudpost/ports"
)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

type fixedIDs struct{}

func (fixedIDs) NewID() string { return "m1" }

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// updater runs UpdateMedia's fn against *m, like a store would.
func updater(m *domain.Media) func(context.Context, string, func(*domain.Media) error) (domain.Media, error) {
	return func(_ context.Context, _ string, fn func(*domain.Media) error) (domain.Media, error) {
		c := *m
		if err := fn(&c); err != nil {
			return domain.Media{}, err
		}
		*m = c
		return c, nil
	}
}

func setup(t *testing.T) (*media.Service, *mocks.MockStorage, *mocks.MockBlobs, *mocks.MockImages) {
	ctrl := gomock.NewController(t)
	store, blobs, images := mocks.NewMockStorage(ctrl), mocks.NewMockBlobs(ctrl), mocks.NewMockImages(ctrl)
	return media.New(store, blobs, images, fixedIDs{}, fixedClock{}, nil, media.Config{}), store, blobs, images
}

func TestProcessMakesVariantsAndMarksReady(t *testing.T) {
	svc, store, blobs, images := setup(t)
	data := pngBytes(t)
	sum := sha256.Sum256(data)
	m := domain.Media{ID: "m1", OwnerID: "u1", ContentType: "image/png", Size: int64(len(data)), Status: domain.MediaPending}
	info := domain.ObjectInfo{Size: m.Size, ContentType: "image/png", ETag: `"e1"`}
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m)).Times(2)
	blobs.EXPECT().Open(gomock.Any(), "uploads/u1/m1").Return(io.NopCloser(bytes.NewReader(data)), info, nil)
	images.EXPECT().MakeVariants(gomock.Any(), gomock.Any(), "image/png", gomock.Any()).DoAndReturn(
		func(_ context.Context, src io.Reader, _ string, _ int64) ([]domain.Variant, error) {
			if _, err := io.ReadAll(src); err != nil {
				return nil, err
			}
			return []domain.Variant{
				{Name: "thumb", ContentType: "image/png", Data: []byte("t")},
				{Name: "small", ContentType: "image/png", Data: []byte("s")},
			}, nil
		})
	blobs.EXPECT().Put(gomock.Any(), ports.Object{Key: "variants/m1/thumb", ContentType: "image/png", Size: 1, MaxAge: time.Hour}, gomock.Any()).Return(nil)
	blobs.EXPECT().Put(gomock.Any(), ports.Object{Key: "variants/m1/small", ContentType: "image/png", Size: 1, MaxAge: time.Hour}, gomock.Any()).Return(nil)

	if err := svc.Process(context.Background(), "m1"); err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.MediaReady || len(m.Variants) != 2 || m.ETag != `"e1"` || m.Checksum != hex.EncodeToString(sum[:]) {
		t.Fatalf("media = %+v", m)
	}
	// A second trigger (duplicate event) only checks that the upload is
	// still the one processed.
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m))
	blobs.EXPECT().Stat(gomock.Any(), "uploads/u1/m1").Return(info, nil)
	if err := svc.Process(context.Background(), "m1"); err != nil {
		t.Fatal(err)
	}
}

func TestProcessFailsForDisguisedFile(t *testing.T) {
	svc, store, blobs, _ := setup(t)
	m := domain.Media{ID: "m1", OwnerID: "u1", ContentType: "image/png", Size: 11, Status: domain.MediaPending}
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m)).Times(2)
	blobs.EXPECT().Open(gomock.Any(), "uploads/u1/m1").Return(io.NopCloser(strings.NewReader("hello world")), domain.ObjectInfo{Size: 11, ContentType: "image/png"}, nil)
	// The bytes are dropped; an empty object keeps the key taken.
	blobs.EXPECT().Put(gomock.Any(), ports.Object{Key: "uploads/u1/m1", ContentType: "application/octet-stream"}, gomock.Any()).Return(nil)
	blobs.EXPECT().Delete(gomock.Any(), "variants/m1/thumb", "variants/m1/small", "variants/m1/medium", "variants/m1/large").Return(nil)

	if err := svc.Process(context.Background(), "m1"); err != nil {
		t.Fatalf("a permanent failure must not be retried: %v", err)
	}
	if m.Status != domain.MediaFailed || !strings.Contains(m.FailureReason, "text/plain") {
		t.Fatalf("media = %+v", m)
	}
}

func TestProcessReleasesClaimOnRetryableError(t *testing.T) {
	svc, store, blobs, _ := setup(t)
	m := domain.Media{ID: "m1", OwnerID: "u1", ContentType: "image/png", Size: 11, Status: domain.MediaPending}
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m)).Times(2)
	blobs.EXPECT().Open(gomock.Any(), "uploads/u1/m1").Return(nil, domain.ObjectInfo{}, domain.Errorf(domain.Unavailable, "down"))

	if err := svc.Process(context.Background(), "m1"); domain.ErrorCode(err) != domain.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if m.Status != domain.MediaPending {
		t.Fatalf("claim not released: %+v", m)
	}
}

func TestCreateUploadRules(t *testing.T) {
	svc, store, blobs, _ := setup(t)
	p := domain.Principal{UserID: "u1"}
	cases := []struct {
		purpose domain.MediaPurpose
		ct      string
		size    int64
		want    domain.Code
	}{
		{"banner", "image/png", 10, domain.Invalid},
		{domain.PurposePost, "image/svg+xml", 10, domain.UnsupportedMediaType},
		{domain.PurposePost, "image/png", 0, domain.Invalid},
		{domain.PurposePost, "image/png", 10<<20 + 1, domain.TooLarge},
	}
	for _, tc := range cases {
		if _, err := svc.CreateUpload(context.Background(), p, tc.purpose, tc.ct, tc.size); domain.ErrorCode(err) != tc.want {
			t.Errorf("%s %s %d: err = %v, want %s", tc.purpose, tc.ct, tc.size, err, tc.want)
		}
	}
	blobs.EXPECT().PresignUpload(gomock.Any(), gomock.Any()).Return(domain.UploadTarget{Method: "PUT", URL: "u"}, nil).Times(2)
	inFlight := 19
	store.EXPECT().CreateMedia(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, m domain.Media, admit func(int, time.Time) error) (domain.Media, error) {
			if err := admit(inFlight, fixedClock{}.Now().Add(-time.Minute)); err != nil {
				return domain.Media{}, err
			}
			return m, nil
		}).Times(2)
	up, err := svc.CreateUpload(context.Background(), p, domain.PurposeAvatar, "image/jpeg", 10<<20)
	if err != nil || up.Media.Status != domain.MediaPending || up.Media.OwnerID != "u1" {
		t.Fatalf("CreateUpload = %+v, %v", up, err)
	}
	// The default cap is 20 uploads in flight; the oldest, a minute old,
	// expires 19 minutes from now (15 min URL + 5 min grace).
	inFlight = 20
	_, err = svc.CreateUpload(context.Background(), p, domain.PurposePost, "image/jpeg", 10)
	if !domain.IsCode(err, domain.TooManyRequests) || domain.RetryAfter(err) != 19*time.Minute {
		t.Fatalf("21st upload in flight: %v (retry after %v), want TooManyRequests after 19m", err, domain.RetryAfter(err))
	}
}
