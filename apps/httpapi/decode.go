package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// decodeJSON reads the request body strictly into dst: the Content-Type must
// be application/json (UnsupportedMediaType otherwise), the body one JSON
// value (Invalid for malformed JSON, trailing data, unknown fields, wrong
// types; the message names the field), within the body limit (TooLarge).
func decodeJSON(c echo.Context, dst any) error {
	return decodeJSONBody(c, dst, false)
}

// decodeOptionalJSON is decodeJSON for routes whose body may be absent: an
// empty body leaves dst untouched.
func decodeOptionalJSON(c echo.Context, dst any) error {
	return decodeJSONBody(c, dst, true)
}

func decodeJSONBody(c echo.Context, dst any, optional bool) error {
	req := c.Request()
	if optional && (req.ContentLength == 0 || req.Body == nil || req.Body == http.NoBody) {
		return nil
	}
	if err := requireJSON(req); err != nil {
		return err
	}
	return decodeStrict(req.Body, dst, optional)
}

func requireJSON(req *http.Request) error {
	ct := req.Header.Get(echo.HeaderContentType)
	if ct == "" {
		return domain.Errorf(domain.UnsupportedMediaType, "Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return domain.Errorf(domain.UnsupportedMediaType, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return domain.Errorf(domain.UnsupportedMediaType, "JSON must be UTF-8")
	}
	return nil
}

func decodeStrict(body io.Reader, dst any, allowEmpty bool) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) && allowEmpty {
			return nil
		}
		return jsonError(err)
	}
	// Exactly one value: anything but whitespace after it is an error.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return domain.Errorf(domain.Invalid, "request body must hold a single JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a client-safe domain error.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
		fe  *fieldError
	)
	switch {
	case errors.As(err, &mbe):
		return domain.Errorf(domain.TooLarge, "request body must be at most %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.Invalid, "request body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.Invalid, "request body is not valid JSON: unexpected end")
	case errors.As(err, &syn):
		return domain.Errorf(domain.Invalid, "request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &fe):
		return domain.Errorf(domain.Invalid, "%s", fe.msg)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return domain.Errorf(domain.Invalid, "request body must be %s", jsonKind(dstKindName(typ)))
		}
		return domain.Errorf(domain.Invalid, "field %q must be %s", typ.Field, jsonKind(dstKindName(typ)))
	}
	// encoding/json has no typed error for unknown fields.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return domain.Errorf(domain.Invalid, "unknown field %s", name)
	}
	return domain.Errorf(domain.Invalid, "request body is not valid JSON")
}

func dstKindName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return ""
	}
	return e.Type.Kind().String()
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// fieldError is returned by optional fields that refuse a value (null).
type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

// optional is a JSON field that distinguishes absent (Set false) from null
// (Set and Null) from a value. encoding/json calls UnmarshalJSON only for
// fields present in the input.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records presence and decodes the value.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ptr returns the value for a partial update: nil when absent, an error
// naming the field when null.
func (o optional[T]) ptr(field string) (*T, error) {
	if !o.Set {
		return nil, nil
	}
	if o.Null {
		return nil, &fieldError{msg: "field \"" + field + "\" must not be null"}
	}
	v := o.Value
	return &v, nil
}

// queryLimit parses the limit query parameter: 0 (the default) when absent,
// Invalid when not an integer in 1..MaxPageLimit.
func queryLimit(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > domain.MaxPageLimit {
		return 0, domain.Errorf(domain.Invalid, "limit must be an integer between 1 and %d", domain.MaxPageLimit)
	}
	return n, nil
}

// ifMatch parses an optional If-Match header holding a version: `"3"` (the
// ETag we send) or `3`; `*` means no precondition. Returns Invalid for
// anything else.
func ifMatch(c echo.Context) (*int64, error) {
	values := c.Request().Header.Values("If-Match")
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > 1 {
		return nil, domain.Errorf(domain.Invalid, "If-Match must hold one version")
	}
	s := strings.TrimSpace(values[0])
	if s == "*" {
		return nil, nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 || (s[0] == '+') {
		return nil, domain.Errorf(domain.Invalid, `If-Match must be a version such as "3"`)
	}
	return &v, nil
}

// etag is the strong entity tag of a versioned resource.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// maxIDLen bounds path ids; every id we issue is a 36-character UUID.
const maxIDLen = 64

// callerAndID returns the signed-in caller and the {id} path parameter
// (see caller and pathID for the errors).
func callerAndID(c echo.Context, what string) (domain.Principal, string, error) {
	p, err := caller(c)
	if err != nil {
		return domain.Principal{}, "", err
	}
	id, err := pathID(c, what)
	return p, id, err
}

// pathID returns the :id path parameter. Ids are letters, digits and '-';
// anything else cannot exist, so it is NotFound without a storage call.
func pathID(c echo.Context, what string) (string, error) {
	id := c.Param("id")
	if id == "" || len(id) > maxIDLen {
		return "", domain.Errorf(domain.NotFound, "%s not found", what)
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
			return "", domain.Errorf(domain.NotFound, "%s not found", what)
		}
	}
	return id, nil
}
