// Package comments runs the comment use cases. A comment on someone else's
// post notifies the post author: the notification is stored in the same
// transaction as the comment (an outbox row), then dispatched once.
package comments

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/pagecursor"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/ports"
)

// Service implements the comment use cases.
type Service struct {
	store    ports.Storage
	profiles *profiles.Service
	notifier ports.Notifier
	ids      ports.IDs
	clock    ports.Clock
	log      *slog.Logger
}

// New returns a comment service. log may be nil (slog.Default).
func New(store ports.Storage, profileSvc *profiles.Service, notifier ports.Notifier, ids ports.IDs, clock ports.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, profiles: profileSvc, notifier: notifier, ids: ids, clock: clock, log: log}
}

// Create adds the caller's comment to a post and notifies the post author
// unless the author is the caller. Returns Invalid for a bad body, NotFound
// for an unknown post.
func (s *Service) Create(ctx context.Context, p domain.Principal, postID, body string) (domain.Comment, error) {
	if err := domain.ValidateText("body", body, 1, domain.MaxCommentBody, true); err != nil {
		return domain.Comment{}, err
	}
	post, err := s.store.GetPost(ctx, postID)
	if err != nil {
		return domain.Comment{}, err
	}
	if _, err := s.profiles.Ensure(ctx, p); err != nil {
		return domain.Comment{}, err
	}
	now := s.clock.Now()
	c := domain.Comment{ID: s.ids.NewID(), PostID: post.ID, AuthorID: p.UserID, Body: strings.TrimSpace(body), CreatedAt: now}
	var n *domain.Notification
	if post.AuthorID != p.UserID {
		n = &domain.Notification{
			ID: s.ids.NewID(), UserID: post.AuthorID, Type: domain.NotificationComment,
			ActorID: p.UserID, PostID: post.ID, CommentID: c.ID, CreatedAt: now,
		}
	}
	c, err = s.store.CreateComment(ctx, c, post.AuthorID, n)
	if err != nil {
		return domain.Comment{}, err
	}
	if n != nil {
		// Best effort: the notification is stored and listed either way.
		if err := s.notifier.Dispatch(ctx, *n); err != nil {
			s.log.WarnContext(ctx, "notification not dispatched", "notificationId", n.ID, "err", err)
		}
	}
	return c, nil
}

// Delete removes a comment; the comment author and the post author may do
// it. Returns NotFound, Forbidden for anyone else.
func (s *Service) Delete(ctx context.Context, p domain.Principal, id string) error {
	_, err := s.store.DeleteComment(ctx, id, func(c domain.Comment, post domain.Post) error {
		if c.AuthorID != p.UserID && post.AuthorID != p.UserID {
			return domain.Errorf(domain.Forbidden, "only the comment author or the post author may delete this comment")
		}
		return nil
	})
	return err
}

// Page is one page of comments and the cursor of the next ("" at the end).
type Page struct {
	Items      []domain.Comment
	NextCursor string
}

// List returns a post's comments oldest first. Returns NotFound for an
// unknown post, Invalid for a bad limit or cursor.
func (s *Service) List(ctx context.Context, postID string, limit int, cursor string) (Page, error) {
	limit, err := domain.ClampLimit(limit)
	if err != nil {
		return Page{}, err
	}
	after, err := pagecursor.Decode(cursor, "comments:"+postID)
	if err != nil {
		return Page{}, err
	}
	items, more, err := s.store.ListComments(ctx, postID, after, limit)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items}
	if more && len(items) > 0 {
		page.NextCursor = pagecursor.Encode(items[len(items)-1].ID, "comments:"+postID)
	}
	return page, nil
}

// Get returns the comment. Returns NotFound.
func (s *Service) Get(ctx context.Context, id string) (domain.Comment, error) {
	return s.store.GetComment(ctx, id)
}
