package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Notification routes: GET /v1/notifications and
// POST /v1/notifications/read.

func (a *api) listNotifications(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	pg, err := a.Notifications.List(c.Request().Context(), p, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPage(toNotifications(pg.Items), pg.NextCursor))
}

func (a *api) markNotificationsRead(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req markReadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Notifications.MarkRead(c.Request().Context(), p, req.IDs, req.All); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

type markReadRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

type notificationDTO struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	ActorID   string  `json:"actorId"`
	PostID    string  `json:"postId"`
	CommentID string  `json:"commentId"`
	CreatedAt string  `json:"createdAt"`
	ReadAt    *string `json:"readAt"`
}

func toNotification(n domain.Notification) notificationDTO {
	return notificationDTO{
		ID: n.ID, Type: string(n.Type), ActorID: n.ActorID, PostID: n.PostID, CommentID: n.CommentID,
		CreatedAt: formatTime(n.CreatedAt), ReadAt: formatTimePtr(n.ReadAt),
	}
}

func toNotifications(items []domain.Notification) []notificationDTO {
	out := make([]notificationDTO, 0, len(items))
	for _, n := range items {
		out = append(out, toNotification(n))
	}
	return out
}
