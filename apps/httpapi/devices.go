package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Device routes: PUT, DELETE /v1/devices/{deviceId}, GET /v1/devices, and
// the public GET /v1/push/config that tells apps what this server pushes to.

func (a *api) putDevice(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	id := c.Param("deviceId")
	if err := domain.ValidateDeviceID(id); err != nil {
		return err
	}
	var req putDeviceRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	d := domain.Device{ID: id, Platform: domain.Platform(req.Platform), Token: req.Token, Locale: req.Locale}
	if req.Subscription != nil {
		d.Subscription = &domain.WebPushSubscription{Endpoint: req.Subscription.Endpoint, P256dh: req.Subscription.Keys.P256dh, Auth: req.Subscription.Keys.Auth}
	}
	saved, created, err := a.Devices.Register(c.Request().Context(), p, d)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/v1/devices/"+saved.ID)
	}
	return c.JSON(status, toDevice(saved))
}

func (a *api) listDevices(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	list, err := a.Devices.List(c.Request().Context(), p)
	if err != nil {
		return err
	}
	out := make([]deviceDTO, 0, len(list))
	for _, d := range list {
		out = append(out, toDevice(d))
	}
	return c.JSON(http.StatusOK, newPage(out, ""))
}

func (a *api) deleteDevice(c echo.Context) error {
	p, err := caller(c)
	if err != nil {
		return err
	}
	if err := a.Devices.Delete(c.Request().Context(), p, c.Param("deviceId")); err != nil {
		return err
	}
	return noContent(c, http.StatusNoContent)
}

func (a *api) pushConfig(c echo.Context) error {
	out := pushConfigDTO{Platforms: []string{}}
	for _, p := range a.Devices.Platforms() {
		out.Platforms = append(out.Platforms, string(p))
	}
	if a.Config.WebPushPublicKey != "" {
		k := a.Config.WebPushPublicKey
		out.WebPushPublicKey = &k
	}
	return c.JSON(http.StatusOK, out)
}

type putDeviceRequest struct {
	Platform     string               `json:"platform"`
	Token        string               `json:"token"`
	Subscription *subscriptionRequest `json:"subscription"`
	Locale       string               `json:"locale"`
}

// subscriptionRequest is the shape of PushSubscription.toJSON() in
// browsers (expirationTime is accepted and ignored).
type subscriptionRequest struct {
	Endpoint       string  `json:"endpoint"`
	ExpirationTime *int64  `json:"expirationTime"`
	Keys           subKeys `json:"keys"`
}

type subKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

type deviceDTO struct {
	ID       string `json:"id"`
	Platform string `json:"platform"`
	// Endpoint is the Web Push endpoint; tokens and keys are never echoed.
	Endpoint  *string `json:"endpoint"`
	Locale    string  `json:"locale"`
	CreatedAt string  `json:"createdAt"`
	SeenAt    string  `json:"seenAt"`
}

func toDevice(d domain.Device) deviceDTO {
	out := deviceDTO{ID: d.ID, Platform: string(d.Platform), Locale: d.Locale, CreatedAt: formatTime(d.CreatedAt), SeenAt: formatTime(d.SeenAt)}
	if d.Subscription != nil {
		e := d.Subscription.Endpoint
		out.Endpoint = &e
	}
	return out
}

type pushConfigDTO struct {
	Platforms        []string `json:"platforms"`
	WebPushPublicKey *string  `json:"webPushPublicKey"`
}
