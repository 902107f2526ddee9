package lambdaapi

import (
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// FuzzCanonicalHeaderKey holds canonicalHeaderKey to textproto.
func FuzzCanonicalHeaderKey(f *testing.F) {
	for _, s := range []string{"", "accept", "ACCEPT", "x-amzn-trace-id", "X-AMZN-TRACE-ID", "sec-ch-ua", "a--b", "1a", "x y", "x_y", "é", "Content-Type",
		strings.Repeat("a", 64), strings.Repeat("a-", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := canonicalHeaderKey(s), textproto.CanonicalMIMEHeaderKey(s); got != want {
			t.Fatalf("canonicalHeaderKey(%q) = %q, textproto gives %q", s, got, want)
		}
	})
}

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
