package httpapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
)

// Media routes: POST /v1/uploads, GET /v1/media/{id} and
// POST /v1/media/{id}/complete; and mediaResolver, which embeds media items
// in profile, post and sync answers.

func (a *api) createUpload(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	var req uploadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	up, err := a.Media.CreateUpload(c.Request().Context(), p, domain.MediaPurpose(req.Purpose), req.ContentType, req.Size)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/media/"+up.Media.ID)
	return c.JSON(http.StatusCreated, toUpload(up))
}

func (a *api) getMedia(c echo.Context) error {
	return a.answerMedia(c, http.StatusOK, a.Media.Get)
}

// completeMedia accepts the client's "upload finished" signal (idempotent)
// and answers with the item's current state.
func (a *api) completeMedia(c echo.Context) error {
	return a.answerMedia(c, http.StatusAccepted, a.Media.Complete)
}

// answerMedia runs act on the caller's media item {id} and answers with
// the item's view.
func (a *api) answerMedia(c echo.Context, status int, act func(context.Context, domain.Principal, string) (domain.Media, error)) error {
	p, id, err := callerAndID(c, "media")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := act(ctx, p, id)
	if err != nil {
		return err
	}
	v, err := a.Media.View(ctx, p, m)
	if err != nil {
		return err
	}
	return c.JSON(status, toMedia(v))
}

type uploadRequest struct {
	Purpose     string `json:"purpose"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// mediaDTO is a media item as profiles, posts and GET /v1/media/{id} show it.
type mediaDTO struct {
	ID          string `json:"id"`
	Purpose     string `json:"purpose"`
	Status      string `json:"status"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	// FailureReason says why processing failed (status "failed" only).
	FailureReason string `json:"failureReason,omitempty"`
	// URLs maps "original" and each existing variant to a short-lived URL.
	URLs map[string]string `json:"urls"`
}

func toMedia(v media.View) mediaDTO {
	status := v.Status
	if status == domain.MediaProcessing {
		status = domain.MediaPending // processing is internal
	}
	urls := v.URLs
	if urls == nil {
		urls = map[string]string{}
	}
	d := mediaDTO{
		ID: v.ID, Purpose: string(v.Purpose), Status: string(status),
		ContentType: v.ContentType, Size: v.Size, URLs: urls,
	}
	if status == domain.MediaFailed {
		d.FailureReason = v.FailureReason
	}
	return d
}

type uploadTargetDTO struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Fields  map[string]string `json:"fields"`
}

type uploadResponse struct {
	MediaID   string          `json:"mediaId"`
	Upload    uploadTargetDTO `json:"upload"`
	ExpiresAt string          `json:"expiresAt"`
}

// mediaResolver collects the media ids a response embeds and resolves them
// all with one media.Service.Views call, as the viewer may see them (only
// an owner gets the URL of their raw upload).
type mediaResolver struct {
	viewer domain.Principal
	ids    []string
	views  map[string]media.View
}

// resolverFor returns a resolver for the caller of c (every route that
// embeds media is authenticated).
func resolverFor(c echo.Context) mediaResolver {
	p, _ := PrincipalFrom(c)
	return mediaResolver{viewer: p}
}

func (r *mediaResolver) add(ids ...string) {
	for _, id := range ids {
		if id != "" {
			r.ids = append(r.ids, id)
		}
	}
}

func (r *mediaResolver) resolve(ctx context.Context, svc *media.Service) error {
	if len(r.ids) == 0 {
		r.views = map[string]media.View{}
		return nil
	}
	v, err := svc.Views(ctx, r.viewer, r.ids)
	if err != nil {
		return err
	}
	r.views = v
	return nil
}

// one returns the media object of id, nil when there is none (no id, or the
// item is gone).
func (r *mediaResolver) one(id string) *mediaDTO {
	v, ok := r.views[id]
	if !ok {
		return nil
	}
	d := toMedia(v)
	return &d
}

// list returns the media objects of ids in order, leaving out missing ones.
func (r *mediaResolver) list(ids []string) []mediaDTO {
	out := make([]mediaDTO, 0, len(ids))
	for _, id := range ids {
		if v, ok := r.views[id]; ok {
			out = append(out, toMedia(v))
		}
	}
	return out
}

func toUpload(u media.Upload) uploadResponse {
	headers := u.Target.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	fields := u.Target.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	return uploadResponse{
		MediaID:   u.Media.ID,
		Upload:    uploadTargetDTO{Method: u.Target.Method, URL: u.Target.URL, Headers: headers, Fields: fields},
		ExpiresAt: formatTime(u.Target.ExpiresAt),
	}
}
