// Package apidoc holds the OpenAPI 3.0 document (openapi.yaml, beside this
// file) that describes every route of the HTTP API. httpapi serves it at
// GET /openapi.yaml; openapitest and the tests under apps/httpapi check
// traffic against it.
package apidoc

import (
	_ "embed"
	"slices"
)

//go:embed openapi.yaml
var document []byte

// YAML returns a copy of the document.
func YAML() []byte { return slices.Clone(document) }
