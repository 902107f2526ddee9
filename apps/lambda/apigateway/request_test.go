package apigateway

import (
	"net/url"
	"testing"
)

// FuzzRequestURL holds requestURL's shortcut for plain paths to what
// parsing the request line gives.
func FuzzRequestURL(f *testing.F) {
	for _, s := range []string{"/", "/v1/posts/01934f0e-8f7a", "//x", "/a/../b", "/~u/./x", "/a%20b", "/é", "/a?b", "/*"} {
		f.Add(s, "")
	}
	f.Add("/x", "q=1")
	f.Fuzz(func(t *testing.T, path, query string) {
		p := escapePath(path)
		if p == "" {
			p = "/"
		}
		if p[0] != '/' {
			return // refused by requestURL (parsing accepts "*")
		}
		u, uri, err := requestURL(path, query, "")
		if query != "" {
			p += "?" + query
		}
		want, wantErr := url.ParseRequestURI(p)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q %q: error %v, parsing gives %v", path, query, err, wantErr)
		}
		if err == nil && (*u != *want || uri != want.RequestURI()) {
			t.Fatalf("%q %q: %#v %q, parsing gives %#v %q", path, query, u, uri, want, want.RequestURI())
		}
	})
}
