package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Comment routes: /v1/posts/{id}/comments and DELETE /v1/comments/{id}.

func (a *api) createComment(c echo.Context) error {
	p, postID, err := callerAndID(c, "post")
	if err != nil {
		return err
	}
	var req createCommentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cm, err := a.Comments.Create(c.Request().Context(), p, postID, req.Body)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/comments/"+cm.ID)
	return c.JSON(http.StatusCreated, toComment(cm))
}

func (a *api) listComments(c echo.Context) error {
	postID, err := pathID(c, "post")
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	pg, err := a.Comments.List(c.Request().Context(), postID, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPage(toComments(pg.Items), pg.NextCursor))
}

func (a *api) deleteComment(c echo.Context) error { return deleteAs(c, "comment", a.Comments.Delete) }

type createCommentRequest struct {
	Body string `json:"body"`
}

type commentDTO struct {
	ID        string `json:"id"`
	PostID    string `json:"postId"`
	AuthorID  string `json:"authorId"`
	Body      string `json:"body"`
	CreatedAt string `json:"createdAt"`
}

func toComment(c domain.Comment) commentDTO {
	return commentDTO{ID: c.ID, PostID: c.PostID, AuthorID: c.AuthorID, Body: c.Body, CreatedAt: formatTime(c.CreatedAt)}
}

func toComments(items []domain.Comment) []commentDTO {
	out := make([]commentDTO, 0, len(items))
	for _, c := range items {
		out = append(out, toComment(c))
	}
	return out
}
