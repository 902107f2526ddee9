package posts_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/mocks"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

type seqIDs struct{ n int }

func (s *seqIDs) NewID() string { s.n++; return "id-" + string(rune('a'+s.n)) }

func newService(t *testing.T) (*posts.Service, *mocks.MockStorage, *mocks.MockBlobs) {
	ctrl := gomock.NewController(t)
	store := mocks.NewMockStorage(ctrl)
	blobs := mocks.NewMockBlobs(ctrl)
	identity := mocks.NewMockIdentity(ctrl)
	images := mocks.NewMockImages(ctrl)
	clock := fixedClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	ids := &seqIDs{}
	mediaSvc := media.New(store, blobs, images, ids, clock, nil, media.Config{})
	profileSvc := profiles.New(store, identity, mediaSvc, clock, nil)
	return posts.New(store, mediaSvc, profileSvc, ids, clock), store, blobs
}

var alice = domain.Principal{UserID: "alice"}

func TestCreateAbortsWhenBlobStatFails(t *testing.T) {
	svc, store, blobs := newService(t)
	pending := domain.Media{ID: "m1", OwnerID: "alice", Purpose: domain.PurposePost, Status: domain.MediaPending, ContentType: "image/png", Size: 10}
	store.EXPECT().GetMediaBatch(gomock.Any(), []string{"m1"}).Return([]domain.Media{pending}, nil)
	blobs.EXPECT().Stat(gomock.Any(), "uploads/alice/m1").Return(domain.ObjectInfo{}, domain.Errorf(domain.Unavailable, "s3 down"))
	// No CreatePost (or any other store call) may follow: gomock fails the test on an unexpected call.

	_, err := svc.Create(context.Background(), alice, "hello", []string{"m1"})
	if domain.ErrorCode(err) != domain.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

func TestCreateRefusesUploadThatNeverArrived(t *testing.T) {
	svc, store, blobs := newService(t)
	pending := domain.Media{ID: "m1", OwnerID: "alice", Purpose: domain.PurposePost, Status: domain.MediaPending}
	store.EXPECT().GetMediaBatch(gomock.Any(), []string{"m1"}).Return([]domain.Media{pending}, nil)
	blobs.EXPECT().Stat(gomock.Any(), "uploads/alice/m1").Return(domain.ObjectInfo{}, domain.Errorf(domain.NotFound, "no such key"))

	_, err := svc.Create(context.Background(), alice, "hello", []string{"m1"})
	if domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("err = %v, want Invalid", err)
	}
}

func TestCreateWithReadyMediaSkipsStat(t *testing.T) {
	svc, store, _ := newService(t)
	ready := domain.Media{ID: "m1", OwnerID: "alice", Purpose: domain.PurposePost, Status: domain.MediaReady}
	store.EXPECT().GetMediaBatch(gomock.Any(), []string{"m1"}).Return([]domain.Media{ready}, nil)
	store.EXPECT().GetProfile(gomock.Any(), "alice").Return(domain.Profile{ID: "alice"}, nil)
	store.EXPECT().CreatePost(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, p domain.Post) (domain.Post, error) {
		if p.AuthorID != "alice" || p.Body != "hello" || len(p.MediaIDs) != 1 || p.MediaIDs[0] != "m1" {
			t.Errorf("CreatePost got %+v", p)
		}
		p.Version = 1
		return p, nil
	})
	if _, err := svc.Create(context.Background(), alice, "  hello  ", []string{"m1"}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateValidatesBeforeTouchingStorage(t *testing.T) {
	svc, _, _ := newService(t)
	tooMany := make([]string, domain.MaxMediaPerPost+1)
	for i := range tooMany {
		tooMany[i] = string(rune('a' + i))
	}
	cases := map[string]struct {
		body  string
		media []string
	}{
		"empty body":     {"   ", nil},
		"too many media": {"x", tooMany},
		"control chars":  {"a\x00b", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := svc.Create(context.Background(), alice, tc.body, tc.media); domain.ErrorCode(err) != domain.Invalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
		})
	}
}

func TestUpdateByOtherUserIsForbidden(t *testing.T) {
	svc, store, _ := newService(t)
	post := domain.Post{ID: "p1", AuthorID: "bob", Body: "x", Version: 3}
	store.EXPECT().UpdatePost(gomock.Any(), "p1", gomock.Any()).DoAndReturn(func(_ context.Context, _ string, fn func(*domain.Post) error) (domain.Post, error) {
		p := post
		if err := fn(&p); err != nil {
			return domain.Post{}, err
		}
		return p, nil
	})
	body := "changed"
	_, err := svc.Update(context.Background(), alice, "p1", posts.Update{Body: &body})
	if domain.ErrorCode(err) != domain.Forbidden {
		t.Fatalf("err = %v, want Forbidden", err)
	}
}
