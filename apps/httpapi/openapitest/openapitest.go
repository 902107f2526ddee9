// Package openapitest checks HTTP traffic against cloudpost's OpenAPI
// document (apps/httpapi/internal/apidoc) with kin-openapi, so tests that
// talk to the API also prove that the document describes what the server
// does.
//
// Wrap a test client's transport with Validator.Transport: every request and
// its response are validated, and each mismatch fails the test.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/httpapi/internal/apidoc"
)

// Validator holds the parsed document and its router. It is safe for
// concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// Load parses and validates the embedded OpenAPI document. Returns an error
// when it is not a valid OpenAPI 3 document.
func Load() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apidoc.YAML())
	if err != nil {
		return nil, fmt.Errorf("parsing openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validating openapi.yaml: %w", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing openapi.yaml: %w", err)
	}
	return &Validator{doc: doc, router: r}, nil
}

// New is Load for tests: it fails t on error.
func New(t testing.TB) *Validator {
	t.Helper()
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Doc returns the parsed document.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Transport returns a RoundTripper that sends requests through base
// (http.DefaultTransport when nil) and reports through t.Errorf every
// exchange that contradicts the document (see Check). Requests to the blob
// route (presigned URLs, outside the document) and CORS preflights are
// passed through unchecked.
func (v *Validator) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, t: t, base: base}
}

type transport struct {
	v    *Validator
	t    testing.TB
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, httpapi.BlobPathPrefix) || req.Method == http.MethodOptions {
		return tr.base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(reqBody))
	if reqBody == nil {
		out.Body = nil
	}
	res, err := tr.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resBody, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if err := tr.v.Check(req, reqBody, res.StatusCode, res.Header, resBody); err != nil {
		tr.t.Errorf("openapi: %s %s -> %d: %v\nresponse body: %s", req.Method, req.URL.RequestURI(), res.StatusCode, err, truncate(resBody))
	}
	return res, nil
}

func truncate(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// Check validates one exchange against the document:
//
//   - a request the document does not route (unknown path or method) must
//     get a 404 or 405 problem;
//   - a request the document calls invalid (schema, missing parameter,
//     missing bearer token) must get a 4xx answer: what the document forbids,
//     the server refuses;
//   - every response must be documented for its operation and status
//     (status, headers such as X-Request-Id, content type, body schema).
func (v *Validator) Check(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.ContentLength = int64(len(reqBody))
	route, params, err := v.router.FindRoute(r)
	if err == nil && len(r.URL.Path) > 1 && strings.HasSuffix(r.URL.Path, "/") {
		// The router forgives a trailing slash; no documented path has one.
		err = &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	}
	if err != nil {
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return fmt.Errorf("routing: %w", err)
		}
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return fmt.Errorf("the document has no operation for this request (%v), yet the server answered %d", err, status)
		}
		return v.checkProblem(status, header, body)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerAuth, SkipSettingDefaults: true},
	}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil {
		if status < 400 || status >= 500 {
			return fmt.Errorf("the document calls the request invalid (%v), yet the server answered %d", reqErr, status)
		}
	}
	res := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	res.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), res); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	return nil
}

// checkProblem validates a problem answer to an undocumented request.
func (v *Validator) checkProblem(status int, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); ct != httpapi.ProblemContentType {
		return fmt.Errorf("content type %q, want %s", ct, httpapi.ProblemContentType)
	}
	if header.Get("X-Request-Id") == "" {
		return errors.New("no X-Request-Id")
	}
	schema := v.doc.Components.Schemas["Problem"]
	if schema == nil {
		return errors.New("the document has no Problem schema")
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("problem body: %w", err)
	}
	if err := schema.Value.VisitJSON(value); err != nil {
		return fmt.Errorf("problem body: %w", err)
	}
	if m, ok := value.(map[string]any); ok && m["status"] != float64(status) {
		return fmt.Errorf("problem status %v, response status %d", m["status"], status)
	}
	return nil
}

// bearerAuth accepts the bearerAuth scheme when the request carries
// `Authorization: Bearer <something>`; whether the token is good is the
// server's business (it answers 401, which the document lists).
func bearerAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return errors.New("no bearer token")
	}
	return nil
}
