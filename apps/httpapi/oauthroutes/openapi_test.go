package oauthroutes_test

import (
	"bytes"
	"context"
	_ "embed"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cloudpost/cloudpost/apps/httpapi/internal/apidoc"
)

// docRouter parses openapi.yaml, which describes the social sign-in routes.
func docRouter(t *testing.T) routers.Router {
	t.Helper()
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(apidoc.YAML())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(loader.Context); err != nil {
		t.Fatal(err)
	}
	r, err := legacy.NewRouter(d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkAgainstDoc validates one exchange.
func checkAgainstDoc(t *testing.T, r routers.Router, u string, res *http.Response) {
	t.Helper()
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	route, params, err := r.FindRoute(req)
	if err != nil {
		t.Fatalf("no operation for %s: %v", u, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("request %s: %v", u, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("response of %s (%d): %v", u, res.StatusCode, err)
	}
}

// TestOpenAPIDocument checks the answers of both routes against
// openapi.yaml.
func TestOpenAPIDocument(t *testing.T) {
	r := docRouter(t)
	en := newEnv(t, "")
	start := en.api.URL + "/v1/auth/oauth/google"
	res := en.get(t, start)
	checkAgainstDoc(t, r, start, res)
	loc, _ := url.Parse(res.Header.Get("Location"))
	back := en.authorize(t, loc)
	ok := en.get(t, back.String())
	checkAgainstDoc(t, r, back.String(), ok)
	if ok.StatusCode != http.StatusOK {
		t.Fatalf("callback %d", ok.StatusCode)
	}
	replay := en.get(t, back.String())
	checkAgainstDoc(t, r, back.String(), replay)
	bad := en.api.URL + "/v1/auth/oauth/myspace"
	checkAgainstDoc(t, r, bad, en.get(t, bad))
}
