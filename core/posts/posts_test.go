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
	store.EXPECT().UpdatePost(gomock.Any(), "p1", gomock.Any()).DoAndReturn(func(_ context.Context, _ string, fn func(*domain.Post) error) (domain.Post, []domain.Media, error) {
		p := post
		if err := fn(&p); err != nil {
			return domain.Post{}, nil, err
		}
		return p, nil, nil
	})
	body := "changed"
	_, err := svc.Update(context.Background(), alice, "p1", posts.Update{Body: &body})
	if domain.ErrorCode(err) != domain.Forbidden {
		t.Fatalf("err = %v, want Forbidden", err)
	}
}

func TestUpdateRefusesBadMediaListBeforeTouchingStorage(t *testing.T) {
	svc, _, _ := newService(t)
	tooMany := make([]string, domain.MaxMediaPerPost+1)
	for i := range tooMany {
		tooMany[i] = string(rune('a' + i))
	}
	for name, ids := range map[string][]string{"listed twice": {"m1", "m2", "m1"}, "too many": tooMany} {
		t.Run(name, func(t *testing.T) {
			// No store call may happen: gomock fails the test on one.
			if _, err := svc.Update(context.Background(), alice, "p1", posts.Update{MediaIDs: &ids}); domain.ErrorCode(err) != domain.Invalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
		})
	}
}

// TestUpdateDeletesBlobsOfRemovedMedia: the store removes the rows of the
// media the post no longer lists and returns them; the service deletes
// their blobs, and a failing blob delete does not fail the edit.
func TestUpdateDeletesBlobsOfRemovedMedia(t *testing.T) {
	svc, store, blobs := newService(t)
	post := domain.Post{ID: "p1", AuthorID: "alice", Body: "x", MediaIDs: []string{"m1", "m2"}, Version: 1}
	gone := domain.Media{ID: "m1", OwnerID: "alice", Purpose: domain.PurposePost, Status: domain.MediaReady, PostID: "p1"}
	store.EXPECT().GetPost(gomock.Any(), "p1").Return(post, nil)
	store.EXPECT().UpdatePost(gomock.Any(), "p1", gomock.Any()).DoAndReturn(func(_ context.Context, _ string, fn func(*domain.Post) error) (domain.Post, []domain.Media, error) {
		p := post
		p.MediaIDs = append([]string(nil), post.MediaIDs...)
		if err := fn(&p); err != nil {
			return domain.Post{}, nil, err
		}
		if len(p.MediaIDs) != 1 || p.MediaIDs[0] != "m2" {
			t.Errorf("fn left MediaIDs %v, want [m2]", p.MediaIDs)
		}
		p.Version++
		return p, []domain.Media{gone}, nil
	})
	want := []any{domain.UploadKey("alice", "m1")}
	for _, v := range domain.VariantNames {
		want = append(want, domain.VariantKey("m1", v))
	}
	blobs.EXPECT().Delete(gomock.Any(), want...).Return(domain.Errorf(domain.Unavailable, "s3 down"))

	kept := []string{"m2"}
	got, err := svc.Update(context.Background(), alice, "p1", posts.Update{MediaIDs: &kept})
	if err != nil {
		t.Fatalf("Update: %v (a failed blob delete must not fail the edit)", err)
	}
	if got.Version != 2 || len(got.MediaIDs) != 1 {
		t.Errorf("Update returned %+v", got)
	}
}
