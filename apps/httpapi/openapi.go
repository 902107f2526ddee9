package httpapi

import (
	_ "embed"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPIDocument returns a copy of the OpenAPI 3.0 document (YAML) that
// describes every route of the API.
func OpenAPIDocument() []byte { return slices.Clone(openapiYAML) }

// serveOpenAPI serves the document at GET /openapi.yaml.
func serveOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/yaml", openapiYAML)
}
