package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// decodeJSON reads the request body strictly into dst: the Content-Type must
// be application/json (UnsupportedMediaType otherwise), the body one JSON
// object (Invalid for malformed JSON, null, trailing data, unknown or
// duplicate member names, invalid UTF-8, wrong types; the message names the
// field), within the body limit (TooLarge).
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

// decodeOptions add RejectUnknownMembers to json v2's defaults, which
// already match member names case-sensitively and refuse duplicate names,
// invalid UTF-8 and lone surrogate escapes (instead of replacing them with
// U+FFFD as encoding/json does).
var decodeOptions = json.RejectUnknownMembers(true)

// decoders keeps decoders (and their read buffers) between requests: a new
// one costs a 4 KiB buffer.
var decoders = sync.Pool{New: func() any { return new(jsontext.Decoder) }}

// noBody is what pooled decoders read, so they do not pin a request body.
var noBody = strings.NewReader("")

func decodeStrict(body io.Reader, dst any, allowEmpty bool) error {
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(body, decodeOptions)
	defer func() {
		dec.Reset(noBody)
		decoders.Put(dec)
	}()
	if dec.PeekKind() == 'n' {
		// json v2 leaves a struct untouched for null; a PATCH of null is not
		// an empty change but a mistake.
		return domain.Errorf(domain.Invalid, "request body must be a JSON object, not null")
	}
	if err := json.UnmarshalDecode(dec, dst); err != nil {
		if err == io.EOF && allowEmpty {
			return nil
		}
		return jsonError(err)
	}
	// Exactly one value: anything but whitespace after it is an error.
	if _, err := dec.ReadToken(); err != io.EOF {
		if isReadFailure(err) {
			return jsonError(err)
		}
		return domain.Errorf(domain.Invalid, "request body must hold a single JSON value")
	}
	return nil
}

// isReadFailure tells errors of the body's reader (limit, deadline) from
// errors in the JSON text.
func isReadFailure(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, os.ErrDeadlineExceeded)
}

// jsonError turns a decoding error into a client-safe error: a domain error,
// or the 408 of a body that did not arrive in time.
func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		syn *jsontext.SyntacticError
		sem *json.SemanticError
		fe  *fieldError
	)
	switch {
	case errors.As(err, &mbe):
		return domain.Errorf(domain.TooLarge, "request body must be at most %d bytes", mbe.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return bodyTimeoutError()
	case errors.As(err, &fe):
		return domain.Errorf(domain.Invalid, "%s", fe.msg)
	case err == io.EOF:
		return domain.Errorf(domain.Invalid, "request body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.Invalid, "request body is not valid JSON: unexpected end")
	case errors.As(err, &syn):
		return syntaxError(syn)
	case errors.As(err, &sem):
		return semanticError(sem)
	}
	return domain.Errorf(domain.Invalid, "request body is not valid JSON")
}

// syntaxError describes JSON text that is malformed or that json v2 refuses
// outright (duplicate names, invalid UTF-8).
func syntaxError(e *jsontext.SyntacticError) error {
	field := fieldPath(e.JSONPointer)
	// json v2 has no exported sentinels for bad text, only messages; the
	// tests pin these cases.
	reason := ""
	if e.Err != nil {
		reason = e.Err.Error()
	}
	switch {
	case errors.Is(e.Err, jsontext.ErrDuplicateName):
		return domain.Errorf(domain.Invalid, "field %q appears more than once", field)
	case strings.Contains(reason, "surrogate"):
		return domain.Errorf(domain.Invalid, "%s is not valid Unicode (unpaired surrogate escape)", fieldOrBody(field))
	case strings.Contains(reason, "UTF-8"):
		return domain.Errorf(domain.Invalid, "%s is not valid UTF-8", fieldOrBody(field))
	case field != "":
		return domain.Errorf(domain.Invalid, "request body is not valid JSON (in field %q, at byte %d)", field, e.ByteOffset)
	}
	return domain.Errorf(domain.Invalid, "request body is not valid JSON (at byte %d)", e.ByteOffset)
}

// semanticError describes valid JSON that does not fit the request type.
func semanticError(e *json.SemanticError) error {
	field := fieldPath(e.JSONPointer)
	if errors.Is(e.Err, json.ErrUnknownName) {
		return domain.Errorf(domain.Invalid, "unknown field %q%s", field, caseHint(e.GoType, e.JSONPointer.LastToken()))
	}
	kind := "of another type"
	if e.GoType != nil {
		kind = jsonKind(e.GoType.Kind().String())
	}
	switch {
	case field == "":
		return domain.Errorf(domain.Invalid, "request body must be %s", kind)
	case errors.Is(e.Err, strconv.ErrRange):
		return domain.Errorf(domain.Invalid, "field %q is out of range", field)
	}
	return domain.Errorf(domain.Invalid, "field %q must be %s", field, kind)
}

func fieldOrBody(field string) string {
	if field == "" {
		return "request body"
	}
	return fmt.Sprintf("field %q", field)
}

// fieldPath writes a JSON pointer the way a client names a field:
// "/mediaIds/0" is mediaIds[0], "/a/b" is a.b.
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		switch {
		case b.Len() > 0 && tok != "" && strings.Trim(tok, "0123456789") == "":
			b.WriteString("[" + tok + "]")
		case b.Len() > 0:
			b.WriteString("." + tok)
		default:
			b.WriteString(tok)
		}
	}
	return b.String()
}

// caseHint points at the field an unknown name differs from only in case.
func caseHint(t reflect.Type, name string) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag != "" && strings.EqualFold(tag, name) {
			return fmt.Sprintf(" (names are case-sensitive: %q)", tag)
		}
	}
	return ""
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
// (Set and Null) from a value. json v2 calls UnmarshalJSONFrom only for
// members present in the input.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSONFrom records presence and decodes the value with the
// decoder's options, so errors inside it name the field.
func (o *optional[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	o.Set = true
	if dec.PeekKind() == 'n' {
		o.Null = true
		_, err := dec.ReadToken()
		return err
	}
	return json.UnmarshalDecode(dec, &o.Value)
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

// strictQuery refuses what Echo would silently make the best of: a query
// string url.ParseQuery cannot parse (Echo drops the bad pairs, so
// ?cursor=%%% would read page one) and a parameter given more than once
// (Echo takes the first). Returns Invalid naming the problem.
func strictQuery(raw string) error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return domain.Errorf(domain.Invalid, "query string is malformed: %v", err)
	}
	var repeated []string
	for k, v := range q {
		if len(v) > 1 {
			repeated = append(repeated, k)
		}
	}
	if len(repeated) > 0 {
		return domain.Errorf(domain.Invalid, "query parameter %q must be given once", slices.Min(repeated))
	}
	return nil
}

// queryLimit parses the limit query parameter: 0 (the default) when absent
// or empty, Invalid when not one run of digits in 1..MaxPageLimit.
func queryLimit(c echo.Context) (int, error) {
	values := c.QueryParams()["limit"]
	if len(values) == 0 || values[0] == "" {
		return 0, nil
	}
	s := values[0]
	// Digits only: Atoi would take "+5".
	n, err := strconv.Atoi(s)
	if len(values) > 1 || strings.Trim(s, "0123456789") != "" || err != nil || n < 1 || n > domain.MaxPageLimit {
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
