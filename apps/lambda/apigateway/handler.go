package apigateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

// Options configures a Handler.
type Options struct {
	// BasePath is removed from the front of every request path, e.g. "/api"
	// when a custom domain maps the API under that key. Empty: none.
	BasePath string
	// Log receives unreadable events and unusable authorizer claims.
	// Nil: slog.Default().
	Log *slog.Logger
}

// Handler serves HTTP API events (payload format 2.0) with an
// http.Handler. It implements lambda.Handler (Invoke) and is safe for
// concurrent use if the http.Handler is.
type Handler struct {
	next     http.Handler
	basePath string
	log      *slog.Logger
}

// New returns a Handler that serves events with next.
func New(next http.Handler, opts Options) *Handler {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	base := opts.BasePath
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	if base != "" && base[0] != '/' {
		base = "/" + base
	}
	return &Handler{next: next, basePath: base, log: opts.Log}
}

type apiRequestIDKey struct{}

// APIRequestID returns the API Gateway request id of the event being
// served ("" outside one), for logs.
func APIRequestID(ctx context.Context) string {
	id, _ := ctx.Value(apiRequestIDKey{}).(string)
	return id
}

// encodeOptions make the response what encoding/json makes of the events
// type (nil maps and slices as null, as API Gateway has always been sent
// them by aws-lambda-go), and replace invalid UTF-8 in header values with
// U+FFFD instead of failing. Decoding uses json v2's defaults: see doc.go.
var encodeOptions = json.JoinOptions(
	json.FormatNilMapAsNull(true),
	json.FormatNilSliceAsNull(true),
	jsontext.AllowInvalidUTF8(true),
)

// internalError is the response if one could not be encoded.
var internalError = []byte(`{"statusCode":500,"headers":{"Content-Type":"application/problem+json"},"body":"{\"status\":500,\"code\":\"Internal\",\"detail\":\"internal error\"}"}`)

// Invoke implements lambda.Handler: payload is an HTTP API event and the
// result its events.APIGatewayV2HTTPResponse as JSON. It never returns an
// error: an event that does not decode (malformed JSON, duplicate member
// names, invalid UTF-8, wrong types), that is not of payload format 2.0,
// or that cannot become a request is answered with a 400 problem, so
// API Gateway shows the client a problem rather than a 502.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var res events.APIGatewayV2HTTPResponse
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		h.log.WarnContext(ctx, "unreadable API Gateway event", "err", err)
		res = problem(domain.Wrap(err, domain.Invalid, "the event is not a readable HTTP API event (payload format 2.0)"), "").response()
	} else {
		res = h.ServeV2(ctx, &ev)
	}
	out, err := json.Marshal(res, encodeOptions)
	if err != nil { // only strings, ints and bools: cannot happen
		h.log.ErrorContext(ctx, "API Gateway response not encoded", "err", err)
		return internalError, nil
	}
	return out, nil
}

// ServeV2 serves a decoded HTTP API event. An event whose version is not
// "2.0" or that cannot become a request (no valid method, a relative or
// malformed path, a body that is not valid base64) is answered with a 400
// problem.
func (h *Handler) ServeV2(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	rid := ev.RequestContext.RequestID
	ctx = context.WithValue(ctx, apiRequestIDKey{}, rid)
	r, err := h.request(ctx, ev)
	if err != nil {
		h.log.WarnContext(ctx, "malformed API Gateway event", "err", err)
		return problem(err, rid).response()
	}
	w := newResponseWriter(r.Method)
	defer w.release()
	h.next.ServeHTTP(w, r)
	return w.reply().response()
}

// request checks the payload format, puts the authorizer's principal
// into ctx and builds the request.
func (h *Handler) request(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	switch ev.Version {
	case "2.0":
	case "":
		return nil, domain.Errorf(domain.Invalid, "only HTTP API events of payload format 2.0 are served; the event has no version")
	default:
		return nil, domain.Errorf(domain.Invalid, "only HTTP API events of payload format 2.0 are served; the event's version is %.16q", ev.Version)
	}
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil && len(a.JWT.Claims) > 0 {
		ctx = h.withClaims(ctx, a.JWT.Claims)
	}
	return h.build(ctx, ev)
}

// withClaims puts the authorizer's principal into ctx. Claims the app
// cannot use (an id token, no sub) are ignored: the app then verifies the
// Authorization header itself, exactly as the server would.
func (h *Handler) withClaims(ctx context.Context, claims map[string]string) context.Context {
	p, err := PrincipalFromClaims(claims)
	if err != nil {
		h.log.InfoContext(ctx, "authorizer claims not used", "reason", domain.ErrorMessage(err))
		return ctx
	}
	return withPrincipal(ctx, p)
}

// withPrincipal is httpapi.WithPrincipal; tests replace it to see the
// principal the app is given.
var withPrincipal = httpapi.WithPrincipal

// problem returns the RFC 9457 problem for an error raised before the
// app saw the request.
func problem(err error, apiRequestID string) reply {
	rid := apiRequestID
	if !saneID(rid) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		rid = hex.EncodeToString(b[:])
	}
	p, h := httpapi.Problem(err, rid)
	h.Set("X-Request-Id", rid)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	body, mErr := json.Marshal(p)
	if mErr != nil { // the detail is the domain's own valid text: cannot happen
		body = []byte(`{"status":400}`)
	}
	return reply{status: p.Status, header: h, body: body}
}

// saneID reports whether an id is safe to echo in a header (the rule of
// the app's request id middleware).
func saneID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':') {
			return false
		}
	}
	return true
}
