// Package posts runs the post use cases: create, read, edit, delete and list
// posts, with ownership checks and keyset pagination.
package posts

import (
	"context"
	"slices"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/pagecursor"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/ports"
)

// Service implements the post use cases.
type Service struct {
	store    ports.Storage
	media    *media.Service
	profiles *profiles.Service
	ids      ports.IDs
	clock    ports.Clock
}

// New returns a post service.
func New(store ports.Storage, mediaSvc *media.Service, profileSvc *profiles.Service, ids ports.IDs, clock ports.Clock) *Service {
	return &Service{store: store, media: mediaSvc, profiles: profileSvc, ids: ids, clock: clock}
}

func validateBody(body string) error {
	return domain.ValidateText("body", body, 1, domain.MaxPostBody, true)
}

// Create publishes a post by the caller. Returns Invalid for a bad body or
// media list, NotFound/Forbidden/Conflict for media that cannot be
// attached.
func (s *Service) Create(ctx context.Context, p domain.Principal, body string, mediaIDs []string) (domain.Post, error) {
	if err := validateBody(body); err != nil {
		return domain.Post{}, err
	}
	if err := domain.CheckMediaIDs(mediaIDs); err != nil {
		return domain.Post{}, err
	}
	if err := s.media.CheckAttachable(ctx, p, mediaIDs, domain.PurposePost); err != nil {
		return domain.Post{}, err
	}
	if _, err := s.profiles.Ensure(ctx, p); err != nil {
		return domain.Post{}, err
	}
	now := s.clock.Now()
	return s.store.CreatePost(ctx, domain.Post{
		ID: s.ids.NewID(), AuthorID: p.UserID, Body: strings.TrimSpace(body),
		MediaIDs: slices.Clone(mediaIDs), CreatedAt: now, UpdatedAt: now,
	})
}

// Get returns a post. Returns NotFound.
func (s *Service) Get(ctx context.Context, id string) (domain.Post, error) {
	return s.store.GetPost(ctx, id)
}

// GetWithMedia returns the post and the views of its media as viewer sees
// them (with download URLs), keyed by media id, read together. Returns
// NotFound.
func (s *Service) GetWithMedia(ctx context.Context, viewer domain.Principal, id string) (domain.Post, map[string]media.View, error) {
	p, items, err := s.store.GetPostWithMedia(ctx, id)
	if err != nil {
		return domain.Post{}, nil, err
	}
	views, err := s.media.ViewsOf(ctx, viewer, items)
	if err != nil {
		return domain.Post{}, nil, err
	}
	return p, views, nil
}

// Update is a partial post change; nil fields stay as they are.
type Update struct {
	Body     *string
	MediaIDs *[]string
	// IfMatch, when not nil, is the version the client last saw.
	IfMatch *int64
}

// Update edits the caller's post. Returns NotFound, Forbidden for someone
// else's post, PreconditionFailed for a stale IfMatch, Invalid for bad
// fields, and the media errors of Create. Media the post no longer lists
// are deleted: their rows by the store in the update's transaction, then
// their blobs.
func (s *Service) Update(ctx context.Context, p domain.Principal, id string, u Update) (domain.Post, error) {
	if u.Body != nil {
		if err := validateBody(*u.Body); err != nil {
			return domain.Post{}, err
		}
	}
	if u.MediaIDs != nil {
		if err := domain.CheckMediaIDs(*u.MediaIDs); err != nil {
			return domain.Post{}, err
		}
		if err := s.checkNewMedia(ctx, p, id, *u.MediaIDs); err != nil {
			return domain.Post{}, err
		}
	}
	post, removed, err := s.store.UpdatePost(ctx, id, func(post *domain.Post) error {
		if post.AuthorID != p.UserID {
			return domain.Errorf(domain.Forbidden, "only the author may edit this post")
		}
		if u.IfMatch != nil && *u.IfMatch != post.Version {
			return domain.Errorf(domain.PreconditionFailed, "post was changed (version %d, not %d)", post.Version, *u.IfMatch)
		}
		if u.Body != nil {
			post.Body = strings.TrimSpace(*u.Body)
		}
		if u.MediaIDs != nil {
			post.MediaIDs = slices.Clone(*u.MediaIDs)
		}
		post.UpdatedAt = s.clock.Now()
		return nil
	})
	if err != nil {
		return domain.Post{}, err
	}
	// Best effort, after the commit: the store deleted the rows of the
	// removed media in the update's transaction, so no post, profile or
	// read can reference them again and the media sweep (which visits rows)
	// never sees them. A blob a failed delete leaves behind is an orphan
	// nothing points to; DeleteObjects logs it and the request succeeds.
	s.media.DeleteObjects(ctx, removed)
	return post, nil
}

// checkNewMedia checks the media being added to an existing post; media
// already on the post stay valid even while being processed.
func (s *Service) checkNewMedia(ctx context.Context, p domain.Principal, postID string, ids []string) error {
	cur, err := s.store.GetPost(ctx, postID)
	if err != nil {
		return err
	}
	if cur.AuthorID != p.UserID {
		return domain.Errorf(domain.Forbidden, "only the author may edit this post")
	}
	var added []string
	for _, id := range ids {
		if !slices.Contains(cur.MediaIDs, id) {
			added = append(added, id)
		}
	}
	return s.media.CheckAttachable(ctx, p, added, domain.PurposePost)
}

// Delete removes the caller's post with its comments, notifications and
// media. Returns NotFound, Forbidden for someone else's post.
func (s *Service) Delete(ctx context.Context, p domain.Principal, id string) error {
	_, removed, err := s.store.DeletePost(ctx, id, func(post domain.Post) error {
		if post.AuthorID != p.UserID {
			return domain.Errorf(domain.Forbidden, "only the author may delete this post")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.media.DeleteObjects(ctx, removed)
	return nil
}

// Page is one page of posts and the cursor of the next ("" at the end).
type Page struct {
	Items      []domain.Post
	NextCursor string
}

// List returns posts newest first, optionally of one author. cursor is the
// NextCursor of the previous page. Returns Invalid for a bad limit or cursor.
func (s *Service) List(ctx context.Context, authorID string, limit int, cursor string) (Page, error) {
	limit, err := domain.ClampLimit(limit)
	if err != nil {
		return Page{}, err
	}
	before, err := pagecursor.Decode(cursor, "posts:"+authorID)
	if err != nil {
		return Page{}, err
	}
	items, more, err := s.store.ListPosts(ctx, ports.PostQuery{AuthorID: authorID, Before: before, Limit: limit})
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items}
	if more && len(items) > 0 {
		page.NextCursor = pagecursor.Encode(items[len(items)-1].ID, "posts:"+authorID)
	}
	return page, nil
}
