package wire

import (
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
)

// NewEndpoint returns the Endpoint of an app that does not listen (the
// Lambda app): its BaseURL is CLOUDPOST_PUBLIC_URL, else
// http://<CLOUDPOST_HTTP_ADDR>.
func NewEndpoint(cfg config.Config) *Endpoint { return &Endpoint{cfg: cfg} }

// LambdaAPI provides the API's *echo.Echo for the Lambda app: the server's
// routes, middleware and error mapping, without the local blob route (on
// AWS clients upload straight to S3, and API Gateway is no blob store).
var LambdaAPI = fx.Provide(func(in echoIn) *echo.Echo {
	in.BlobRoute = BlobRoute{}
	return newEcho(in)
})
