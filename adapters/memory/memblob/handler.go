package memblob

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/adapters/internal/blobcheck"
	"github.com/cloudpost/cloudpost/core/domain"
)

// Handler serves the presigned URLs under the path prefix: PUT uploads, GET
// and HEAD downloads, a minimal CORS preflight for OPTIONS (methods GET,
// HEAD, PUT; headers Content-Type and If-None-Match), 405 for anything
// else. Failures are application/problem+json bodies with a domain code:
// Forbidden (403: missing, bad or expired signature, another key or content
// type, no "If-None-Match: *"), Invalid (400: body shorter than signed),
// TooLarge (413: body longer than signed), PreconditionFailed (412: an
// object exists at the key), NotFound (404), and Unavailable with 507
// Insufficient Storage (not the app's 503: the client should not retry)
// when the upload would take the store beyond Config.MaxBytes; other
// statuses follow the app's code table. A failed upload stores nothing and
// leaves any existing object untouched.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Store) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok || key == "" {
		writeProblem(w, http.StatusNotFound, domain.NotFound, "no such blob route")
		return
	}
	// The app's CORS middleware may have set this already; do not override it.
	if r.Header.Get("Origin") != "" && w.Header().Get("Access-Control-Allow-Origin") == "" {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "ETag")
	}
	switch r.Method {
	case http.MethodPut:
		s.serveUpload(w, r, key)
	case http.MethodGet, http.MethodHead:
		s.serveDownload(w, r, key)
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, PUT")
		// Browsers preflight the write-once header of the upload target.
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, If-None-Match")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, OPTIONS")
		writeProblem(w, http.StatusMethodNotAllowed, domain.Invalid, "method not allowed on a blob URL")
	}
}

func (s *Store) serveUpload(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	sizeStr := q.Get(paramSize)
	size, errSize := strconv.ParseInt(sizeStr, 10, 64)
	exp, errExp := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	if errSize != nil || errExp != nil || blobcheck.UploadSize(size) != nil {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the URL is not a valid presigned upload")
		return
	}
	// The signature covers the path key and the request's Content-Type, so a
	// request for another key or with another type fails here.
	want := s.sign(http.MethodPut, key, exp, r.Header.Get("Content-Type"), sizeStr)
	if !signatureOK(q.Get(paramSignature), want) {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the signature does not match the request (key, content type, size or expiry)")
		return
	}
	// S3 signs this header into its targets and refuses a request without
	// it; requiring it here keeps a client that forgets it from working
	// only locally.
	if strings.TrimSpace(r.Header.Get("If-None-Match")) != "*" {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the upload must send the target's header If-None-Match: *")
		return
	}
	if !s.clock.Now().Before(time.Unix(exp, 0)) {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the presigned URL has expired")
		return
	}
	// Refuse a wrong declared length before reading any of the body.
	switch {
	case r.ContentLength > size:
		writeProblem(w, http.StatusRequestEntityTooLarge, domain.TooLarge, "the body is larger than the signed size")
		return
	case r.ContentLength >= 0 && r.ContentLength < size:
		writeProblem(w, http.StatusBadRequest, domain.Invalid, "the body is smaller than the signed size")
		return
	}
	res, err := s.reserve(key, size, true)
	if err != nil {
		writeError(w, err)
		return
	}
	defer s.release(res)
	// A chunked body has no declared length: ReadExactly reads at most one
	// byte more than signed, which is enough to tell that it is too long.
	data := make([]byte, size)
	err = blobcheck.ReadExactly(r.Body, data, true)
	switch {
	case errors.Is(err, blobcheck.ErrTooLong):
		writeProblem(w, http.StatusRequestEntityTooLarge, domain.TooLarge, "the body is larger than the signed size")
		return
	case errors.Is(err, blobcheck.ErrTooShort):
		writeProblem(w, http.StatusBadRequest, domain.Invalid, "the body is smaller than the signed size")
		return
	case err != nil:
		writeProblem(w, http.StatusBadRequest, domain.Invalid, "the body could not be read")
		return
	}
	o, err := s.commit(res, r.Header.Get("Content-Type"), data)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.RLock()
	hook := s.hook
	s.mu.RUnlock()
	if hook != nil {
		hook(key)
	}
	w.Header().Set("ETag", o.etag)
	w.WriteHeader(http.StatusOK)
}

func (s *Store) serveDownload(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	if err != nil {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the URL is not a valid presigned download")
		return
	}
	// The overrides are signed: the URL's holder cannot serve the bytes as
	// another type or inline when an attachment was signed.
	respType, disposition := q.Get(paramRespType), q.Get(paramDisposition)
	if !signatureOK(q.Get(paramSignature), s.sign(http.MethodGet, key, exp, respType, disposition)) {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the signature does not match the request")
		return
	}
	now := s.clock.Now()
	expiresAt := time.Unix(exp, 0)
	if !now.Before(expiresAt) {
		writeProblem(w, http.StatusForbidden, domain.Forbidden, "the presigned URL has expired")
		return
	}
	o, ok := s.get(key)
	if !ok {
		writeProblem(w, http.StatusNotFound, domain.NotFound, "no such object")
		return
	}
	h := w.Header()
	h.Set("Content-Type", o.contentType)
	if respType != "" {
		h.Set("Content-Type", respType)
	}
	if disposition != "" {
		h.Set("Content-Disposition", disposition)
	}
	h.Set("ETag", o.etag)
	// Only the browser may keep the bytes, and not longer than the URL that
	// fetched them is valid.
	h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(int64(expiresAt.Sub(now)/time.Second), 10))
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent adds Content-Length, Last-Modified, Range and conditional
	// request support, and omits the body for HEAD.
	http.ServeContent(w, r, "", o.modTime, bytes.NewReader(o.data))
}

// writeError answers with the problem of a domain error from reserve or
// commit.
func writeError(w http.ResponseWriter, err error) {
	switch domain.ErrorCode(err) {
	case domain.PreconditionFailed:
		writeProblem(w, http.StatusPreconditionFailed, domain.PreconditionFailed, domain.ErrorMessage(err))
	case domain.Unavailable:
		writeProblem(w, http.StatusInsufficientStorage, domain.Unavailable, domain.ErrorMessage(err))
	default:
		writeProblem(w, http.StatusInternalServerError, domain.Internal, "internal error")
	}
}

// signatureOK compares hex signatures in constant time.
func signatureOK(got, want string) bool {
	return hmac.Equal([]byte(got), []byte(want))
}

// problem is an RFC 9457 problem document with cloudpost's domain code.
type problem struct {
	Type   string      `json:"type"`
	Title  string      `json:"title"`
	Status int         `json:"status"`
	Detail string      `json:"detail"`
	Code   domain.Code `json:"code"`
}

func writeProblem(w http.ResponseWriter, status int, code domain.Code, detail string) {
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
