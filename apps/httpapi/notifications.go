package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/notifications"
)

// Notification routes: GET /v1/notifications, POST /v1/notifications/read,
// GET and PATCH /v1/me/notification-settings, PUT and DELETE
// /v1/posts/{id}/mute. The live stream is in stream.go.

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
	pp := newPage(toNotifications(pg.Items), pg.NextCursor)
	return c.JSON(http.StatusOK, notificationPage{Items: pp.Items, NextCursor: pp.NextCursor, UnreadCount: pg.Unread})
}

// notificationPage is a page of the inbox with the caller's unread count.
type notificationPage struct {
	Items       []notificationDTO `json:"items"`
	NextCursor  *string           `json:"nextCursor"`
	UnreadCount int               `json:"unreadCount"`
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

// maxMutedListed bounds the muted posts the settings answer lists.
const maxMutedListed = 100

func (a *api) getNotificationSettings(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	st, err := a.Notifications.Settings(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return a.writeSettings(c, p, st)
}

func (a *api) patchNotificationSettings(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req patchSettingsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	patch := notifications.SettingsPatch{}
	if len(req.Push) > 0 {
		patch.Push = map[domain.NotificationType]bool{}
		for t, on := range req.Push {
			patch.Push[domain.NotificationType(t)] = on
		}
	}
	switch {
	case req.QuietHours.Set && req.QuietHours.Null:
		patch.ClearQuiet = true
	case req.QuietHours.Set:
		q, err := parseQuietHours(req.QuietHours.Value)
		if err != nil {
			return err
		}
		patch.Quiet = &q
	}
	st, err := a.Notifications.UpdateSettings(c.Request().Context(), p, patch)
	if err != nil {
		return err
	}
	return a.writeSettings(c, p, st)
}

func (a *api) writeSettings(c echo.Context, p domain.Principal, st domain.NotificationSettings) error {
	muted, err := a.Notifications.MutedPosts(c.Request().Context(), p, maxMutedListed)
	if err != nil {
		return err
	}
	if muted == nil {
		muted = []string{}
	}
	out := settingsDTO{Push: map[string]bool{}, MutedPosts: muted}
	for _, t := range []domain.NotificationType{domain.NotificationComment} {
		out.Push[string(t)] = st.PushEnabled(t)
	}
	if q := st.Quiet; q != nil {
		out.QuietHours = &quietHoursDTO{Start: clock(q.Start), End: clock(q.End), TimeZone: q.TimeZone}
	}
	return c.JSON(http.StatusOK, out)
}

func (a *api) mutePost(c echo.Context) error {
	p, id, err := callerAndID(c, "post")
	if err != nil {
		return err
	}
	if err := a.Notifications.Mute(c.Request().Context(), p, id); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) unmutePost(c echo.Context) error {
	return deleteAs(c, "post", a.Notifications.Unmute)
}

type patchSettingsRequest struct {
	Push       map[string]bool         `json:"push"`
	QuietHours optional[quietHoursDTO] `json:"quietHours"`
}

type quietHoursDTO struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	TimeZone string `json:"timeZone"`
}

type settingsDTO struct {
	Push       map[string]bool `json:"push"`
	QuietHours *quietHoursDTO  `json:"quietHours"`
	MutedPosts []string        `json:"mutedPosts"`
}

// parseQuietHours reads "HH:MM" times. Returns Invalid naming the field.
func parseQuietHours(q quietHoursDTO) (domain.QuietHours, error) {
	start, err := minutes("quietHours.start", q.Start)
	if err != nil {
		return domain.QuietHours{}, err
	}
	end, err := minutes("quietHours.end", q.End)
	if err != nil {
		return domain.QuietHours{}, err
	}
	out := domain.QuietHours{Start: start, End: end, TimeZone: q.TimeZone}
	return out, domain.ValidateQuietHours(out)
}

func minutes(field, s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	ok = ok && strings.Trim(h+m, "0123456789") == ""
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, domain.Errorf(domain.Invalid, "%s must be a time of day HH:MM (00:00 to 23:59)", field)
	}
	return hh*60 + mm, nil
}

func clock(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }
