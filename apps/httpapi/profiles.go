package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/profiles"
)

// Profile routes: GET, PATCH and DELETE /v1/me; GET /v1/users/{id}.

func (a *api) writeProfile(c echo.Context, status int, p domain.Profile) error {
	r := resolverFor(c)
	r.add(p.ImageID)
	if err := r.resolve(c.Request().Context(), a.Media); err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(status, r.profile(p))
}

func (a *api) getMe(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	prof, err := a.Profiles.Ensure(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return a.writeProfile(c, http.StatusOK, prof)
}

func (a *api) patchMe(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req patchMeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := profiles.Update{IfMatch: version}
	if u.DisplayName, err = req.DisplayName.ptr("displayName"); err != nil {
		return jsonError(err)
	}
	if u.Bio, err = req.Bio.ptr("bio"); err != nil {
		return jsonError(err)
	}
	if req.ImageID.Set {
		img := req.ImageID.Value // null: "" removes the avatar
		u.ImageID = &img
	}
	prof, err := a.Profiles.Update(c.Request().Context(), p, u)
	if err != nil {
		return err
	}
	return a.writeProfile(c, http.StatusOK, prof)
}

func (a *api) deleteMe(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	if err := a.Accounts.DeleteAccount(c.Request().Context(), p); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) getUser(c echo.Context) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	prof, err := a.Profiles.Get(ctx, id)
	if err != nil {
		return err
	}
	r := resolverFor(c)
	r.add(prof.ImageID)
	if err := r.resolve(ctx, a.Media); err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(prof.Version))
	return c.JSON(http.StatusOK, r.publicProfile(prof))
}

type patchMeRequest struct {
	DisplayName optional[string] `json:"displayName"`
	Bio         optional[string] `json:"bio"`
	// ImageID null or "" removes the avatar.
	ImageID optional[string] `json:"imageId"`
}

type profileDTO struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"displayName"`
	Bio         string    `json:"bio"`
	Image       *mediaDTO `json:"image"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
	Version     int64     `json:"version"`
}

// publicProfileDTO is someone's profile as other users see it: no email.
type publicProfileDTO struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Bio         string    `json:"bio"`
	Image       *mediaDTO `json:"image"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
	Version     int64     `json:"version"`
}

func (r *mediaResolver) profile(p domain.Profile) profileDTO {
	return profileDTO{
		ID: p.ID, Email: p.Email, DisplayName: p.DisplayName, Bio: p.Bio, Image: r.one(p.ImageID),
		CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt), Version: p.Version,
	}
}

func (r *mediaResolver) publicProfile(p domain.Profile) publicProfileDTO {
	return publicProfileDTO{
		ID: p.ID, DisplayName: p.DisplayName, Bio: p.Bio, Image: r.one(p.ImageID),
		CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt), Version: p.Version,
	}
}
