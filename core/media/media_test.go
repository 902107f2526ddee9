package media_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/mocks"
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
	m := domain.Media{ID: "m1", OwnerID: "u1", ContentType: "image/png", Size: int64(len(data)), Status: domain.MediaPending}
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m)).Times(2)
	blobs.EXPECT().Stat(gomock.Any(), "uploads/u1/m1").Return(domain.ObjectInfo{Size: m.Size, ContentType: "image/png"}, nil)
	blobs.EXPECT().ReadHead(gomock.Any(), "uploads/u1/m1", gomock.Any()).Return(data, nil)
	blobs.EXPECT().Open(gomock.Any(), "uploads/u1/m1").Return(io.NopCloser(bytes.NewReader(data)), domain.ObjectInfo{}, nil)
	images.EXPECT().MakeVariants(gomock.Any(), gomock.Any(), "image/png", gomock.Any()).Return([]domain.Variant{
		{Name: "thumb", ContentType: "image/png", Data: []byte("t")},
		{Name: "small", ContentType: "image/png", Data: []byte("s")},
	}, nil)
	blobs.EXPECT().Put(gomock.Any(), "variants/m1/thumb", "image/png", gomock.Any(), int64(1)).Return(nil)
	blobs.EXPECT().Put(gomock.Any(), "variants/m1/small", "image/png", gomock.Any(), int64(1)).Return(nil)

	if err := svc.Process(context.Background(), "m1"); err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.MediaReady || len(m.Variants) != 2 {
		t.Fatalf("media = %+v", m)
	}
	// A second trigger (duplicate event) does nothing: only the claim attempt.
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m))
	if err := svc.Process(context.Background(), "m1"); err != nil {
		t.Fatal(err)
	}
}

func TestProcessFailsForDisguisedFile(t *testing.T) {
	svc, store, blobs, _ := setup(t)
	m := domain.Media{ID: "m1", OwnerID: "u1", ContentType: "image/png", Size: 11, Status: domain.MediaPending}
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m)).Times(2)
	blobs.EXPECT().Stat(gomock.Any(), "uploads/u1/m1").Return(domain.ObjectInfo{Size: 11, ContentType: "image/png"}, nil)
	blobs.EXPECT().ReadHead(gomock.Any(), "uploads/u1/m1", gomock.Any()).Return([]byte("hello world"), nil)

	if err := svc.Process(context.Background(), "m1"); err != nil {
		t.Fatalf("a permanent failure must not be retried: %v", err)
	}
	if m.Status != domain.MediaFailed || m.FailureReason == "" {
		t.Fatalf("media = %+v", m)
	}
}

func TestProcessReleasesClaimOnRetryableError(t *testing.T) {
	svc, store, blobs, _ := setup(t)
	m := domain.Media{ID: "m1", OwnerID: "u1", ContentType: "image/png", Size: 11, Status: domain.MediaPending}
	store.EXPECT().UpdateMedia(gomock.Any(), "m1", gomock.Any()).DoAndReturn(updater(&m)).Times(2)
	blobs.EXPECT().Stat(gomock.Any(), "uploads/u1/m1").Return(domain.ObjectInfo{}, domain.Errorf(domain.Unavailable, "down"))

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
	blobs.EXPECT().PresignUpload(gomock.Any(), gomock.Any()).Return(domain.UploadTarget{Method: "PUT", URL: "u"}, nil)
	store.EXPECT().CreateMedia(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m domain.Media) (domain.Media, error) { return m, nil })
	up, err := svc.CreateUpload(context.Background(), p, domain.PurposeAvatar, "image/jpeg", 10<<20)
	if err != nil || up.Media.Status != domain.MediaPending || up.Media.OwnerID != "u1" {
		t.Fatalf("CreateUpload = %+v, %v", up, err)
	}
}
