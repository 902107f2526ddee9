package lambdaapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

// Options configures a Handler.
type Options struct {
	// BasePath is removed from the front of every request path, e.g. "/api"
	// when a custom domain maps the API under that key. Empty: none.
	BasePath string
	// Log receives conversion failures and unusable authorizer claims.
	// Nil: slog.Default().
	Log *slog.Logger
}

// Handler serves API Gateway events with an http.Handler. It implements
// lambda.Handler (Invoke) for both payload formats, and is safe for
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

// Invoke implements lambda.Handler: payload is an HTTP API event (its
// version is "2.0") or a REST API event, and the result is the matching
// proxy response. An event that cannot be read is answered with a 400
// problem in the fields both formats share, never with an invocation
// error, so API Gateway shows the client a problem rather than a 502.
//
// The event is read and the response written by this package's own JSON
// code (see jsonReader), which gives what encoding/json would with the
// events types at a fraction of the cost; ServeV1 and ServeV2 serve
// events decoded elsewhere.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, v2, err := decodeEvent(payload)
	if err != nil {
		return h.unreadable(ctx, err)
	}
	rep, release := h.serve(ctx, &ev)
	defer release()
	out := make([]byte, 0, rep.sizeHint())
	if v2 {
		return rep.appendV2(out), nil
	}
	return rep.appendV1(out), nil
}

// unreadable answers an event that does not decode with a 400 problem in
// only the fields both payload formats accept (REST APIs refuse others).
func (h *Handler) unreadable(ctx context.Context, err error) ([]byte, error) {
	h.log.WarnContext(ctx, "unreadable API Gateway event", "err", err)
	rep := problem(domain.Wrap(err, domain.Invalid, "the event is not an API Gateway proxy event"), "")
	return json.Marshal(commonResponse{StatusCode: rep.status, Headers: flatten(rep.header), Body: string(rep.body)})
}

// ServeV1 serves a REST API (payload 1.0) event.
func (h *Handler) ServeV1(ctx context.Context, ev *events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	e := eventV1From(ev)
	api := e.apiEvent()
	rep, release := h.serve(ctx, &api)
	defer release()
	return rep.v1()
}

// ServeV2 serves an HTTP API (payload 2.0) event.
func (h *Handler) ServeV2(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	e := eventV2From(ev)
	api := e.apiEvent()
	rep, release := h.serve(ctx, &api)
	defer release()
	return rep.v2()
}

// serve runs the app for ev (or answers a malformed event with a
// problem). The reply's body is valid until release is called.
func (h *Handler) serve(ctx context.Context, ev *apiEvent) (reply, func()) {
	ctx = context.WithValue(ctx, apiRequestIDKey{}, ev.requestID)
	if ev.claims != nil {
		ctx = h.withClaims(ctx, ev.claims)
	}
	r, err := h.build(ctx, ev)
	if err != nil {
		h.log.WarnContext(ctx, "malformed API Gateway event", "err", err)
		return problem(err, ev.requestID), func() {}
	}
	w := newResponseWriter(r.Method)
	h.next.ServeHTTP(w, r)
	return w.reply(), w.release
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
	return httpapi.WithPrincipal(ctx, p)
}

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
	if mErr != nil { // only strings and ints: cannot happen
		body = []byte(`{"status":500}`)
	}
	return reply{status: p.Status, header: h, body: body}
}

// commonResponse has only the fields of a proxy response that both payload
// formats accept.
type commonResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k := range h {
		out[k] = h.Get(k)
	}
	return out
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
