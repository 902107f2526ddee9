package apigateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/core/domain"
)

// spoofPrefix starts the headers aws-lambda-go-api-proxy uses to carry the
// API Gateway context to apps. A client can send them too, so they are
// dropped: nothing here or in the app may ever read them.
const spoofPrefix = "X-Golambdaproxy-"

// build assembles the request the way net/http's server would have:
// the path (rawPath, else requestContext.http.path) without the stage
// prefix and BasePath, the query as sent, the headers (requestHeader),
// Host from the host header or the API's domain name, the body (decoded
// from base64 when flagged), the source IP as RemoteAddr, and TLS.
// Returns Invalid for a missing or malformed method, a relative or
// malformed path and a body that is not valid base64.
func (h *Handler) build(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" || strings.ContainsFunc(method, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return nil, domain.Errorf(domain.Invalid, "the event has no valid HTTP method")
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	u, requestURI, err := requestURL(stripStage(path, ev.RequestContext.Stage), ev.RawQueryString, h.basePath)
	if err != nil {
		return nil, err
	}
	header := requestHeader(ev.Headers, ev.Cookies)
	host := header.Get("Host")
	delete(header, "Host")
	if host == "" {
		host = ev.RequestContext.DomainName
	}
	var body io.ReadCloser = http.NoBody
	size := 0
	if ev.IsBase64Encoded {
		payload, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, domain.Errorf(domain.Invalid, "the request body is not valid base64")
		}
		if size = len(payload); size > 0 {
			body = readCloser{bytes.NewReader(payload)}
		}
	} else if size = len(ev.Body); size > 0 {
		// Strings are immutable: the app reads the event's copy.
		body = stringReadCloser{strings.NewReader(ev.Body)}
	}
	r := (&http.Request{
		Method:     strings.ToUpper(method),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Host:       host,
		RequestURI: requestURI,
		// API Gateway only accepts HTTPS.
		TLS:           &tls.ConnectionState{HandshakeComplete: true, ServerName: hostOnly(host)},
		Body:          body,
		ContentLength: int64(size),
	}).WithContext(ctx)
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return r, nil
}

// requestHeader builds the request header: names canonicalised (HTTP
// APIs send them in lower case, repeated headers already joined with
// commas), the cookies array as one Cookie header (RFC 6265 section 5.4),
// and the spoofable context headers dropped. Names that differ only in
// case (API Gateway never sends them) add their values in sorted order,
// so map order cannot pick which one the app reads.
func requestHeader(headers map[string]string, cookies []string) http.Header {
	h := make(http.Header, len(headers)+1)
	// One backing array for the values, as net/textproto does.
	vals := make([]string, 0, len(headers))
	for k, v := range headers {
		k = textproto.CanonicalMIMEHeaderKey(k)
		if strings.HasPrefix(k, spoofPrefix) {
			continue
		}
		if prev, ok := h[k]; ok {
			h[k] = append(prev, v)
			slices.Sort(h[k])
			continue
		}
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if len(cookies) > 0 {
		h.Set("Cookie", strings.Join(cookies, "; "))
	}
	return h
}

type stringReadCloser struct{ *strings.Reader }

func (stringReadCloser) Close() error { return nil }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// requestURL escapes what cannot appear in an encoded path (HTTP APIs pass
// paths decoded), removes basePath and parses the result
// like a request line; it returns the URL and the request URI. Returns
// Invalid for a path that is not absolute.
func requestURL(path, rawQuery, basePath string) (*url.URL, string, error) {
	p := escapePath(path)
	if basePath != "" {
		if rest, ok := strings.CutPrefix(p, basePath); ok && (rest == "" || rest[0] == '/') {
			p = rest
		}
	}
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return nil, "", domain.Errorf(domain.Invalid, "the request path must start with /")
	}
	if rawQuery == "" && plainPath(p) {
		// What parsing gives for a path that escaping leaves alone.
		return &url.URL{Path: p}, p, nil
	}
	uri := p
	if rawQuery != "" {
		uri += "?" + rawQuery
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, "", domain.Errorf(domain.Invalid, "malformed request path or query")
	}
	return u, u.RequestURI(), nil
}

// plainPath reports whether p has only unreserved characters and slashes
// (RFC 3986), which URL parsing and escaping keep as they are.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// stripStage removes "/<stage>" from the front of path for a named stage
// (the $default stage has no prefix).
func stripStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	rest, ok := strings.CutPrefix(path, "/"+stage)
	if !ok || (rest != "" && rest[0] != '/') {
		return path
	}
	return rest
}

// escapePath percent-encodes the bytes that cannot appear literally in an
// encoded path (RFC 3986 pchar and '/'), keeping valid %XX escapes, so an
// already encoded path is unchanged and a decoded one becomes encoded.
func escapePath(p string) string {
	i := 0
	for i < len(p) && pathByteOK(p, i) {
		i++
	}
	if i == len(p) {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 16)
	b.WriteString(p[:i])
	const hex = "0123456789ABCDEF"
	for ; i < len(p); i++ {
		if pathByteOK(p, i) {
			b.WriteByte(p[i])
			continue
		}
		c := p[i]
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func pathByteOK(p string, i int) bool {
	c := p[i]
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '%':
		return i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2])
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
