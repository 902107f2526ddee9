package httpapi_test

import (
	"context"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/httpapi/internal/apidoc"
)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	doc := v.Doc()
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	// Validate again strictly: examples and defaults must match their schemas.
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation()); err != nil {
		t.Fatal(err)
	}
	// Every operation documents X-Request-Id on every response, and 500.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses.Status(http.StatusInternalServerError) == nil {
				t.Errorf("%s %s: no 500 response", method, path)
			}
			for status, r := range op.Responses.Map() {
				if r.Value.Headers["X-Request-Id"] == nil {
					t.Errorf("%s %s %s: no X-Request-Id header", method, path, status)
				}
			}
			if op.Security != nil && len(*op.Security) > 0 && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s %s: authenticated but no 401 response", method, path)
			}
			if op.RequestBody != nil && op.Responses.Status(http.StatusUnsupportedMediaType) == nil {
				t.Errorf("%s %s: takes a body but no 415 response", method, path)
			}
		}
	}
}

func TestServedDocumentIsTheEmbeddedOne(t *testing.T) {
	en := newEnv(t)
	r := en.do(req{method: "GET", path: "/openapi.yaml"}).want(t, http.StatusOK)
	if string(r.body) != string(apidoc.YAML()) {
		t.Fatal("GET /openapi.yaml differs from internal/apidoc/openapi.yaml")
	}
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("content type %q", ct)
	}
}

// TestRoutesMatchDocument keeps the Echo routes and the document in step:
// every route (with all optional routes switched on) is documented and every
// documented operation is served. The blob route is left out: it serves
// opaque presigned URLs that the document deliberately does not describe.
func TestRoutesMatchDocument(t *testing.T) {
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	en := newEnv(t)
	if en.deps.DevMail == nil || en.deps.JWKS == nil || en.deps.Blobs == nil || len(en.deps.Routes) == 0 {
		t.Fatal("the test env must switch every optional route on")
	}
	e := httpapi.New(en.deps)
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	served := map[string]bool{}
	for _, r := range e.Routes() {
		if strings.HasPrefix(r.Path, httpapi.BlobPathPrefix) {
			continue
		}
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range v.Doc().Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.yaml", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("openapi.yaml documents %s, which is not served", k)
		}
	}
	if len(served) < 25 {
		t.Errorf("only %d routes: %v", len(served), slices.Sorted(maps.Keys(served)))
	}
}

func TestOptionalRoutesOff(t *testing.T) {
	en := newEnv(t, func(d *httpapi.Deps) { d.DevMail, d.JWKS, d.Blobs = nil, nil, nil })
	// The validator knows these paths, so call them without it: absent
	// routes must be plain 404 problems.
	for _, path := range []string{"/v1/dev/mail?to=a@example.com", "/.well-known/jwks.json", "/v1/blobs/uploads/x/y"} {
		en.doWith(en.srv.Client(), req{method: "GET", path: path}).problem(t, http.StatusNotFound, "NotFound")
	}
}
