package httpapi

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/feed"
)

// The sync route: GET /v1/sync, the changes a client applies to its local
// store.

func (a *api) sync(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res, err := a.Feed.Sync(ctx, p, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	r := resolverFor(c)
	if res.Profile != nil {
		r.add(res.Profile.ImageID)
	}
	for _, post := range res.Posts {
		r.add(post.MediaIDs...)
	}
	if err := r.resolve(ctx, a.Media); err != nil {
		return err
	}
	// Stable order for clients and tests: ids are time ordered.
	slices.SortFunc(res.Posts, func(x, y domain.Post) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(res.Comments, func(x, y domain.Comment) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(res.Notifications, func(x, y domain.Notification) int { return cmp.Compare(x.ID, y.ID) })
	out := syncResponse{
		Full: res.Full, Posts: r.posts(res.Posts), Comments: toComments(res.Comments),
		Notifications: toNotifications(res.Notifications), Deleted: toTombstones(res.Deleted),
		Cursor: res.Cursor, HasMore: res.HasMore,
	}
	if res.Profile != nil {
		prof := r.profile(*res.Profile)
		out.Profile = &prof
	}
	return c.JSON(http.StatusOK, out)
}

type tombstoneDTO struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type syncResponse struct {
	Full          bool              `json:"full"`
	Profile       *profileDTO       `json:"profile"`
	Posts         []postDTO         `json:"posts"`
	Comments      []commentDTO      `json:"comments"`
	Notifications []notificationDTO `json:"notifications"`
	Deleted       []tombstoneDTO    `json:"deleted"`
	Cursor        string            `json:"cursor"`
	// HasMore says more changes are waiting: sync again at once.
	HasMore bool `json:"hasMore"`
}

func toTombstones(items []feed.Tombstone) []tombstoneDTO {
	out := make([]tombstoneDTO, 0, len(items))
	for _, t := range items {
		out = append(out, tombstoneDTO{Type: string(t.Type), ID: t.ID})
	}
	return out
}
