package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/posts"
)

// Post routes: /v1/posts and /v1/posts/{id}.

func (a *api) writePost(c echo.Context, status int, p domain.Post) error {
	r := resolverFor(c)
	r.add(p.MediaIDs...)
	if err := r.resolve(c.Request().Context(), a.Media); err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(status, r.post(p))
}

func (a *api) createPost(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req createPostRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	post, err := a.Posts.Create(c.Request().Context(), p, req.Body, req.MediaIDs)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/posts/"+post.ID)
	return a.writePost(c, http.StatusCreated, post)
}

func (a *api) getPost(c echo.Context) error {
	id, err := pathID(c, "post")
	if err != nil {
		return err
	}
	r := resolverFor(c)
	post, views, err := a.Posts.GetWithMedia(c.Request().Context(), r.viewer, id)
	if err != nil {
		return err
	}
	r.views = views
	c.Response().Header().Set("ETag", etag(post.Version))
	return c.JSON(http.StatusOK, r.post(post))
}

func (a *api) patchPost(c echo.Context) error {
	p, id, err := callerAndID(c, "post")
	if err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req patchPostRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := posts.Update{IfMatch: version}
	if u.Body, err = req.Body.ptr("body"); err != nil {
		return jsonError(err)
	}
	if u.MediaIDs, err = req.MediaIDs.ptr("mediaIds"); err != nil {
		return jsonError(err)
	}
	post, err := a.Posts.Update(c.Request().Context(), p, id, u)
	if err != nil {
		return err
	}
	return a.writePost(c, http.StatusOK, post)
}

func (a *api) deletePost(c echo.Context) error { return deleteAs(c, "post", a.Posts.Delete) }

func (a *api) listPosts(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	author := c.QueryParam("author")
	ctx := c.Request().Context()
	pg, err := a.Posts.List(ctx, author, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	r := resolverFor(c)
	for _, p := range pg.Items {
		r.add(p.MediaIDs...)
	}
	if err := r.resolve(ctx, a.Media); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPage(r.posts(pg.Items), pg.NextCursor))
}

type createPostRequest struct {
	Body     string   `json:"body"`
	MediaIDs []string `json:"mediaIds"`
}

type patchPostRequest struct {
	Body     optional[string]   `json:"body"`
	MediaIDs optional[[]string] `json:"mediaIds"`
}

type postDTO struct {
	ID           string     `json:"id"`
	AuthorID     string     `json:"authorId"`
	Body         string     `json:"body"`
	Media        []mediaDTO `json:"media"`
	CommentCount int64      `json:"commentCount"`
	CreatedAt    string     `json:"createdAt"`
	UpdatedAt    string     `json:"updatedAt"`
	Version      int64      `json:"version"`
}

func (r *mediaResolver) post(p domain.Post) postDTO {
	return postDTO{
		ID: p.ID, AuthorID: p.AuthorID, Body: p.Body, Media: r.list(p.MediaIDs),
		CommentCount: p.CommentCount, CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt),
		Version: p.Version,
	}
}

func (r *mediaResolver) posts(items []domain.Post) []postDTO {
	out := make([]postDTO, 0, len(items))
	for _, p := range items {
		out = append(out, r.post(p))
	}
	return out
}
