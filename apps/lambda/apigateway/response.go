package apigateway

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// responseWriter records what the handler writes, with net/http's server
// semantics where clients could see a difference: headers are fixed at
// WriteHeader, a missing Content-Type is sniffed, and responses that
// cannot have a body (HEAD, 1xx, 204, 304) get none.
type responseWriter struct {
	header  http.Header
	sent    http.Header
	status  int
	noBody  bool
	body    *bytes.Buffer
	written bool
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newResponseWriter(method string) *responseWriter {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return &responseWriter{header: make(http.Header, 12), body: b, noBody: method == http.MethodHead}
}

// release returns the body buffer to the pool; w is unusable afterwards.
func (w *responseWriter) release() {
	if w.body.Cap() <= 1<<20 {
		bufPool.Put(w.body)
	}
	w.body = nil
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(status int) {
	if w.written {
		return
	}
	w.written = true
	w.status = status
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		w.noBody = true
	}
	// Later header changes are not sent, as with net/http.
	w.sent = w.header.Clone()
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.written {
		if w.header.Get("Content-Type") == "" && w.header.Get("Transfer-Encoding") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		return len(p), nil
	}
	return w.body.Write(p)
}

// Flush implements http.Flusher; the response is sent whole at the end.
func (w *responseWriter) Flush() {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
}

// reply returns the finished response; it is valid until release.
func (w *responseWriter) reply() reply {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return reply{status: w.status, header: w.sent, body: w.body.Bytes()}
}

// reply is a finished response: what the app wrote, or a problem.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// response returns the HTTP API (payload 2.0) form of r: repeated
// headers joined with commas, Set-Cookie values in cookies (payload 2.0
// has no repeated headers).
func (r reply) response() events.APIGatewayV2HTTPResponse {
	body, b64 := r.encodedBody()
	res := events.APIGatewayV2HTTPResponse{StatusCode: r.status, Headers: make(map[string]string, len(r.header)), Body: body, IsBase64Encoded: b64}
	for k, vs := range r.header {
		if k == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		if len(vs) == 1 {
			res.Headers[k] = vs[0]
		} else {
			res.Headers[k] = strings.Join(vs, ",")
		}
	}
	return res
}

// encodedBody returns the body as the response's body string: text for
// textual content types with valid UTF-8, else base64.
func (r reply) encodedBody() (string, bool) {
	if len(r.body) == 0 {
		return "", false
	}
	if textual(r.header.Get("Content-Type")) && utf8.Valid(r.body) {
		return string(r.body), false
	}
	return base64.StdEncoding.EncodeToString(r.body), true
}

// textual reports whether a content type is text that API Gateway may pass
// as a JSON string.
func textual(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/yaml", "application/x-yaml",
		"application/javascript", "application/x-www-form-urlencoded", "image/svg+xml":
		return true
	}
	return false
}
