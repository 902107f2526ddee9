package comments_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/mocks"
)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

type seqIDs struct{ n int }

func (s *seqIDs) NewID() string { s.n++; return "id-" + string(rune('a'+s.n)) }

func newService(t *testing.T) (*comments.Service, *mocks.MockStorage, *mocks.MockNotifier) {
	ctrl := gomock.NewController(t)
	store := mocks.NewMockStorage(ctrl)
	notifier := mocks.NewMockNotifier(ctrl)
	ids := &seqIDs{}
	mediaSvc := media.New(store, mocks.NewMockBlobs(ctrl), mocks.NewMockImages(ctrl), ids, fixedClock{}, nil, media.Config{})
	profileSvc := profiles.New(store, mocks.NewMockIdentity(ctrl), mediaSvc, fixedClock{}, nil)
	return comments.New(store, profileSvc, notifier, ids, fixedClock{}, nil), store, notifier
}

func TestCommentNotifiesPostAuthorOnce(t *testing.T) {
	svc, store, notifier := newService(t)
	store.EXPECT().GetPost(gomock.Any(), "p1").Return(domain.Post{ID: "p1", AuthorID: "alice"}, nil)
	store.EXPECT().GetProfile(gomock.Any(), "bob").Return(domain.Profile{ID: "bob"}, nil)
	var stored *domain.Notification
	store.EXPECT().CreateComment(gomock.Any(), gomock.Any(), "alice", gomock.Not(gomock.Nil())).DoAndReturn(
		func(_ context.Context, c domain.Comment, _ string, n *domain.Notification) (domain.Comment, error) {
			stored = n
			return c, nil
		})
	notifier.EXPECT().Dispatch(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, n domain.Notification) error {
		if n.UserID != "alice" || n.ActorID != "bob" || n.PostID != "p1" || n.Type != domain.NotificationComment {
			t.Errorf("dispatched %+v", n)
		}
		if stored == nil || n.ID != stored.ID {
			t.Errorf("dispatched notification %q is not the stored one", n.ID)
		}
		return nil
	})

	c, err := svc.Create(context.Background(), domain.Principal{UserID: "bob"}, "p1", "nice")
	if err != nil {
		t.Fatal(err)
	}
	if stored.CommentID != c.ID {
		t.Errorf("notification points at comment %q, want %q", stored.CommentID, c.ID)
	}
}

func TestOwnCommentDoesNotNotify(t *testing.T) {
	svc, store, _ := newService(t) // no Dispatch expected: any call fails the test
	store.EXPECT().GetPost(gomock.Any(), "p1").Return(domain.Post{ID: "p1", AuthorID: "alice"}, nil)
	store.EXPECT().GetProfile(gomock.Any(), "alice").Return(domain.Profile{ID: "alice"}, nil)
	store.EXPECT().CreateComment(gomock.Any(), gomock.Any(), "alice", gomock.Nil()).DoAndReturn(
		func(_ context.Context, c domain.Comment, _ string, _ *domain.Notification) (domain.Comment, error) {
			return c, nil
		})

	if _, err := svc.Create(context.Background(), domain.Principal{UserID: "alice"}, "p1", "me too"); err != nil {
		t.Fatal(err)
	}
}

func TestFailedStoreDoesNotNotify(t *testing.T) {
	svc, store, _ := newService(t)
	store.EXPECT().GetPost(gomock.Any(), "p1").Return(domain.Post{ID: "p1", AuthorID: "alice"}, nil)
	store.EXPECT().GetProfile(gomock.Any(), "bob").Return(domain.Profile{ID: "bob"}, nil)
	store.EXPECT().CreateComment(gomock.Any(), gomock.Any(), "alice", gomock.Any()).Return(domain.Comment{}, domain.Errorf(domain.NotFound, "post not found"))

	_, err := svc.Create(context.Background(), domain.Principal{UserID: "bob"}, "p1", "nice")
	if domain.ErrorCode(err) != domain.NotFound {
		t.Fatalf("err = %v, want NotFound", err)
	}
}

func TestDispatchFailureKeepsComment(t *testing.T) {
	svc, store, notifier := newService(t)
	store.EXPECT().GetPost(gomock.Any(), "p1").Return(domain.Post{ID: "p1", AuthorID: "alice"}, nil)
	store.EXPECT().GetProfile(gomock.Any(), "bob").Return(domain.Profile{ID: "bob"}, nil)
	store.EXPECT().CreateComment(gomock.Any(), gomock.Any(), "alice", gomock.Any()).DoAndReturn(
		func(_ context.Context, c domain.Comment, _ string, _ *domain.Notification) (domain.Comment, error) {
			return c, nil
		})
	notifier.EXPECT().Dispatch(gomock.Any(), gomock.Any()).Return(domain.Errorf(domain.Unavailable, "push down"))

	if _, err := svc.Create(context.Background(), domain.Principal{UserID: "bob"}, "p1", "nice"); err != nil {
		t.Fatalf("a failed dispatch must not fail the comment: %v", err)
	}
}
