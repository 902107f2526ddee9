package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/apps/httpapi/internal/apidoc"
)

// openapiYAML is the OpenAPI document of every route
// (internal/apidoc/openapi.yaml).
var openapiYAML = apidoc.YAML()

// serveOpenAPI serves the document at GET /openapi.yaml.
func serveOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/yaml", openapiYAML)
}
