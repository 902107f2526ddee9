package lambdaapi

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// apiEvent is what the converter takes from either payload format.
type apiEvent struct {
	method   string
	path     string // with any stage prefix removed, as the event has it (encoded or not)
	rawQuery string
	header   http.Header
	body     string
	b64      bool
	// domainName stands in for a missing Host header.
	domainName string
	sourceIP   string
	requestID  string
	// claims are the authorizer's verified claims; nil without.
	claims map[string]string
}

// decodeEvent reads an HTTP API event (its version is "2.0") or a REST
// API event, as payloadVersion then encoding/json with the matching events
// type would. It guesses the format from the first member (HTTP API
// events start with their version) so a well-formed event is read once;
// a wrong guess or an error sends it the long way.
func decodeEvent(payload []byte) (ev apiEvent, v2 bool, err error) {
	if startsWithVersion2(payload) {
		var e eventV2
		if err := decodeV2(payload, &e); err == nil {
			if e.lastVersion == "2.0" {
				return e.apiEvent(), true, nil
			}
			// A valid document whose last version member is not 2.0.
			return decodeOnly(payload, false)
		}
	} else {
		var e eventV1
		if err := decodeV1(payload, &e); err == nil {
			if e.lastVersion != "2.0" {
				return e.apiEvent(), false, nil
			}
			return decodeOnly(payload, true)
		}
	}
	// The guessed decoder failed: a malformed document, or a member of the
	// guessed format's type is wrong in an event of the other format.
	return decodeOnly(payload, payloadVersion(payload) == "2.0")
}

// decodeOnly decodes payload in the given format.
func decodeOnly(payload []byte, v2 bool) (apiEvent, bool, error) {
	if v2 {
		var e eventV2
		if err := decodeV2(payload, &e); err != nil {
			return apiEvent{}, true, err
		}
		return e.apiEvent(), true, nil
	}
	var e eventV1
	if err := decodeV1(payload, &e); err != nil {
		return apiEvent{}, false, err
	}
	return e.apiEvent(), false, nil
}

// startsWithVersion2 reports whether the first member of the object b is
// "version":"2.0".
func startsWithVersion2(b []byte) bool {
	r := jsonReader{b: b}
	if r.peek() != '{' {
		return false
	}
	r.i++
	if r.peek() != '"' || !bytes.HasPrefix(b[r.i:], []byte(`"version"`)) {
		return false
	}
	r.i += len(`"version"`)
	if r.peek() != ':' {
		return false
	}
	r.i++
	return r.peek() == '"' && bytes.HasPrefix(b[r.i:], []byte(`"2.0"`))
}

// eventV2 holds the members of an HTTP API (payload 2.0) event the
// converter reads, with encoding/json's meaning for each (see jsonReader).
type eventV2 struct {
	version string // read only to refuse a non-string, as encoding/json does
	// lastVersion is the last version member as payloadVersion reads it.
	lastVersion string
	rawPath     string
	rawQuery    string
	cookies     []string
	headers     []strPair    // from a decoded event
	header      headerMember // from JSON
	src         jsonReader   // the JSON the header's spans point into
	body        string
	b64         bool
	// requestContext
	stage, requestID, domainName string
	authorizer                   *authorizerV2
	// requestContext.http
	method, httpPath, sourceIP string
}

type authorizerV2 struct{ jwt *jwtV2 }

type jwtV2 struct{ claims map[string]string }

// Member names, in the order the field switches of decodeV1/decodeV2 use.
var (
	v2Fields           = []string{"version", "rawPath", "rawQueryString", "cookies", "headers", "body", "isBase64Encoded", "requestContext"}
	v2ContextFields    = []string{"stage", "requestId", "domainName", "authorizer", "http"}
	v2HTTPFields       = []string{"method", "path", "sourceIp"}
	v2AuthorizerFields = []string{"jwt"}
	v2JWTFields        = []string{"claims"}
	v1Fields           = []string{"path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "body", "isBase64Encoded", "requestContext", "version"}
	v1ContextFields    = []string{"path", "stage", "requestId", "domainName", "identity", "authorizer"}
	v1IdentityFields   = []string{"sourceIp"}
)

// decodeV2 reads an HTTP API event from its JSON. Errors are syntax
// errors and values of the wrong type in the members it reads (the rest is
// only validated).
func decodeV2(payload []byte, ev *eventV2) error {
	r := newJSONReader(payload)
	r.structInto(v2Fields, func(i int) {
		switch i {
		case 0:
			isString := r.peek() == '"'
			r.stringInto(&ev.version)
			ev.lastVersion = ""
			if isString {
				ev.lastVersion = ev.version
			}
		case 1:
			r.stringInto(&ev.rawPath)
		case 2:
			r.stringInto(&ev.rawQuery)
		case 3:
			r.stringsInto(&ev.cookies)
		case 4:
			r.headerMemberInto(&ev.header, false, false)
		case 5:
			r.stringInto(&ev.body)
		case 6:
			r.boolInto(&ev.b64)
		case 7:
			r.structInto(v2ContextFields, func(i int) {
				switch i {
				case 0:
					r.stringInto(&ev.stage)
				case 1:
					r.stringInto(&ev.requestID)
				case 2:
					r.stringInto(&ev.domainName)
				case 3:
					if r.null() {
						ev.authorizer = nil
						return
					}
					if ev.authorizer == nil {
						ev.authorizer = &authorizerV2{}
					}
					a := ev.authorizer
					r.structInto(v2AuthorizerFields, func(i int) {
						if i != 0 {
							r.skip()
							return
						}
						if r.null() {
							a.jwt = nil
							return
						}
						if a.jwt == nil {
							a.jwt = &jwtV2{}
						}
						j := a.jwt
						r.structInto(v2JWTFields, func(i int) {
							if i != 0 {
								r.skip()
								return
							}
							r.stringMapInto(&j.claims)
						})
					})
				case 4:
					r.structInto(v2HTTPFields, func(i int) {
						switch i {
						case 0:
							r.stringInto(&ev.method)
						case 1:
							r.stringInto(&ev.httpPath)
						case 2:
							r.stringInto(&ev.sourceIP)
						default:
							r.skip()
						}
					})
				default:
					r.skip()
				}
			})
		default:
			r.skip()
		}
	})
	ev.src = jsonReader{b: r.b, s: r.s}
	return r.end()
}

// eventV2From takes the members the converter reads from a decoded event.
func eventV2From(ev *events.APIGatewayV2HTTPRequest) eventV2 {
	out := eventV2{
		version: ev.Version, rawPath: ev.RawPath, rawQuery: ev.RawQueryString, cookies: ev.Cookies,
		headers: mapPairs(ev.Headers), body: ev.Body, b64: ev.IsBase64Encoded,
		stage: ev.RequestContext.Stage, requestID: ev.RequestContext.RequestID, domainName: ev.RequestContext.DomainName,
		method: ev.RequestContext.HTTP.Method, httpPath: ev.RequestContext.HTTP.Path, sourceIP: ev.RequestContext.HTTP.SourceIP,
	}
	if a := ev.RequestContext.Authorizer; a != nil {
		out.authorizer = &authorizerV2{}
		if a.JWT != nil {
			out.authorizer.jwt = &jwtV2{claims: a.JWT.Claims}
		}
	}
	return out
}

// apiEvent converts: the path falls back to requestContext.http.path and
// loses the stage prefix; HTTP API moves the Cookie header's pairs into
// cookies, which a client sends as one header (RFC 6265 section 5.4).
func (ev *eventV2) apiEvent() apiEvent {
	path := ev.rawPath
	if path == "" {
		path = ev.httpPath
	}
	header := ev.header.header(ev.src, false, 1)
	if header == nil {
		header = headerFromPairs(ev.headers, 1)
	}
	if len(ev.cookies) > 0 {
		header.Set("Cookie", strings.Join(ev.cookies, "; "))
	}
	out := apiEvent{
		method: ev.method, path: stripStage(path, ev.stage), rawQuery: ev.rawQuery, header: header,
		body: ev.body, b64: ev.b64, domainName: ev.domainName, sourceIP: ev.sourceIP, requestID: ev.requestID,
	}
	if a := ev.authorizer; a != nil && a.jwt != nil && len(a.jwt.claims) > 0 {
		out.claims = a.jwt.claims
	}
	return out
}

// eventV1 holds the members of a REST API (payload 1.0) event the
// converter reads.
type eventV1 struct {
	path, method string
	// headers and multiHeaders are from a decoded event; header and
	// multiHeader from JSON, where header is only read when there are no
	// multiValueHeaders (REST APIs send both, with the same values).
	headers        []strPair
	multiHeaders   []listPair
	header         headerMember
	multiHeader    headerMember
	src            jsonReader // the JSON the spans point into
	query          []strPair
	multiQuery     []listPair
	listValues     []string // the values of multiHeaders and multiQuery
	body           string
	b64            bool
	ctxPath, stage string
	requestID      string
	domainName     string
	sourceIP       string
	authorizer     authorizerV1
	// lastVersion is the last version member as payloadVersion reads it
	// (not a field of the REST API event type: any value is accepted).
	lastVersion string
}

// authorizerV1 is what claimsV1 reads of a REST API event's
// requestContext.authorizer (a map[string]any to encoding/json).
type authorizerV1 struct {
	// claims is the last "claims" member, rendered as claimsV1 does,
	// when it is an object.
	claims    map[string]string
	hasClaims bool
	// jwtClaims is the last "jwt" member's last "claims" member, when
	// both are objects (an HTTP API's payload 1.0).
	jwtClaims    map[string]string
	hasJWTClaims bool
}

// decodeV1 reads a REST API event from its JSON; see decodeV2.
func decodeV1(payload []byte, ev *eventV1) error {
	r := newJSONReader(payload)
	r.structInto(v1Fields, func(i int) {
		switch i {
		case 0:
			r.stringInto(&ev.path)
		case 1:
			r.stringInto(&ev.method)
		case 2:
			r.headerMemberInto(&ev.header, false, true)
		case 3:
			r.headerMemberInto(&ev.multiHeader, true, false)
		case 4:
			r.pairsInto(&ev.query)
		case 5:
			r.listPairsInto(&ev.multiQuery, &ev.listValues)
		case 6:
			r.stringInto(&ev.body)
		case 7:
			r.boolInto(&ev.b64)
		case 8:
			r.structInto(v1ContextFields, func(i int) {
				switch i {
				case 0:
					r.stringInto(&ev.ctxPath)
				case 1:
					r.stringInto(&ev.stage)
				case 2:
					r.stringInto(&ev.requestID)
				case 3:
					r.stringInto(&ev.domainName)
				case 4:
					r.structInto(v1IdentityFields, func(i int) {
						if i != 0 {
							r.skip()
							return
						}
						r.stringInto(&ev.sourceIP)
					})
				case 5:
					r.authorizerV1Into(&ev.authorizer)
				default:
					r.skip()
				}
			})
		case 9:
			ev.lastVersion = ""
			if r.peek() == '"' {
				ev.lastVersion = r.str()
			} else {
				r.skip()
			}
		default:
			r.skip()
		}
	})
	ev.src = jsonReader{b: r.b, s: r.s}
	return r.end()
}

// eventV1From takes the members the converter reads from a decoded event.
func eventV1From(ev *events.APIGatewayProxyRequest) eventV1 {
	out := eventV1{
		path: ev.Path, method: ev.HTTPMethod, headers: mapPairs(ev.Headers), query: mapPairs(ev.QueryStringParameters),
		body: ev.Body, b64: ev.IsBase64Encoded,
		ctxPath: ev.RequestContext.Path, stage: ev.RequestContext.Stage, requestID: ev.RequestContext.RequestID,
		domainName: ev.RequestContext.DomainName, sourceIP: ev.RequestContext.Identity.SourceIP,
	}
	out.authorizer.claims, out.authorizer.hasClaims = claimsV1(ev.RequestContext.Authorizer)
	for k, vs := range ev.MultiValueHeaders {
		out.multiHeaders = append(out.multiHeaders, listPair{k, vs})
	}
	for k, vs := range ev.MultiValueQueryStringParameters {
		out.multiQuery = append(out.multiQuery, listPair{k, vs})
	}
	return out
}

// apiEvent converts: multiValueHeaders (falling back to headers) and the
// query rebuilt from its decoded parameters. A REST API's path carries
// the stage only when it is the full path the client used
// (requestContext.path); for execute-api URLs it does not.
func (ev *eventV1) apiEvent() apiEvent {
	path := ev.path
	if ev.ctxPath == ev.path {
		path = stripStage(path, ev.stage)
	}
	var header http.Header
	switch {
	case ev.multiHeader.n > 0:
		header = ev.multiHeader.header(ev.src, true, 0)
	case len(ev.multiHeaders) > 0:
		header = headerFromLists(ev.multiHeaders)
	case ev.header.n > 0:
		header = ev.header.header(ev.src, false, 0)
	default:
		header = headerFromPairs(ev.headers, 0)
	}
	var rawQuery string
	if len(ev.multiQuery) > 0 {
		q := make(url.Values, len(ev.multiQuery))
		for _, p := range ev.multiQuery {
			q[p.k] = p.vs
		}
		rawQuery = q.Encode()
	} else if len(ev.query) > 0 {
		q := make(url.Values, len(ev.query))
		for _, p := range ev.query {
			q.Set(p.k, p.v)
		}
		rawQuery = q.Encode()
	}
	out := apiEvent{
		method: ev.method, path: path, rawQuery: rawQuery, header: header, body: ev.body, b64: ev.b64,
		domainName: ev.domainName, sourceIP: ev.sourceIP, requestID: ev.requestID,
	}
	if a := &ev.authorizer; a.hasClaims {
		out.claims = a.claims
	} else if a.hasJWTClaims {
		out.claims = a.jwtClaims
	}
	return out
}

func mapPairs(m map[string]string) []strPair {
	if len(m) == 0 {
		return nil
	}
	out := make([]strPair, 0, len(m))
	for k, v := range m {
		out = append(out, strPair{k, v})
	}
	return out
}

// headerFromPairs builds a header from the members of an object of
// strings: names are canonicalised and a name repeated exactly keeps its
// last value (a map's meaning), names differing only in case add values.
// extra reserves room for headers the caller adds.
func headerFromPairs(pairs []strPair, extra int) http.Header {
	h := make(http.Header, len(pairs)+extra)
	// One backing array for the values, as net/textproto does.
	vals := make([]string, len(pairs))
	for i, p := range pairs {
		vals[i] = p.v
		h[canonicalHeaderKey(p.k)] = vals[i : i+1 : i+1]
	}
	if len(h) < len(pairs) {
		// Names that canonicalise alike (rare): merge them properly.
		return headerFromPairsSlow(pairs, extra)
	}
	return h
}

// canonicalHeaderKey is textproto.CanonicalMIMEHeaderKey without an
// allocation for the names browsers and API Gateway send (HTTP APIs pass
// them in lower case, which textproto allocates for unless a name is in
// its own short list).
func canonicalHeaderKey(k string) string {
	var buf [64]byte
	if len(k) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(k)
	}
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case 'A' <= c && c <= 'Z':
			if !upper {
				c += 'a' - 'A'
			}
		case '0' <= c && c <= '9' || c == '-':
		default:
			// Other token bytes, or bytes textproto leaves names alone for.
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		buf[i] = c
		upper = c == '-'
	}
	if string(buf[:len(k)]) == k {
		return k // already canonical: nothing to allocate
	}
	if name, ok := knownHeaders[string(buf[:len(k)])]; ok {
		return name
	}
	return string(buf[:len(k)])
}

// knownHeaders interns the canonical names of the request headers
// browsers, apps and API Gateway commonly send.
var knownHeaders = func() map[string]string {
	names := []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Access-Control-Request-Headers", "Access-Control-Request-Method",
		"Authorization", "Cache-Control", "Cloudfront-Forwarded-Proto", "Cloudfront-Is-Desktop-Viewer",
		"Cloudfront-Is-Mobile-Viewer", "Cloudfront-Is-Smarttv-Viewer", "Cloudfront-Is-Tablet-Viewer",
		"Cloudfront-Viewer-Country", "Connection", "Content-Length", "Content-Type", "Cookie", "Dnt", "Forwarded",
		"Host", "If-Match", "If-Modified-Since", "If-None-Match", "Origin", "Pragma", "Priority", "Referer",
		"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Te", "User-Agent", "Via", "X-Amz-Cf-Id", "X-Amzn-Trace-Id", "X-Forwarded-For", "X-Forwarded-Port",
		"X-Forwarded-Proto", "X-Request-Id", "X-Requested-With",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}()

// headerFromPairsSlow is headerFromPairs for names that canonicalise alike.
func headerFromPairsSlow(pairs []strPair, extra int) http.Header {
	h := make(http.Header, len(pairs)+extra)
	for i, p := range pairs {
		if !repeatedLater(pairs[i+1:], p.k) {
			h.Add(p.k, p.v)
		}
	}
	return h
}

func repeatedLater(pairs []strPair, k string) bool {
	for _, p := range pairs {
		if p.k == k {
			return true
		}
	}
	return false
}

// headerFromLists is headerFromPairs for an object of string arrays.
func headerFromLists(pairs []listPair) http.Header {
	h := make(http.Header, len(pairs))
	n, named := 0, 0
	for _, p := range pairs {
		if len(p.vs) > 0 {
			n += len(p.vs)
			named++
		}
	}
	vals := make([]string, 0, n)
	for _, p := range pairs {
		if len(p.vs) > 0 {
			start := len(vals)
			vals = append(vals, p.vs...)
			h[canonicalHeaderKey(p.k)] = vals[start:len(vals):len(vals)]
		}
	}
	if len(h) < named || named < len(pairs) {
		// Names that canonicalise alike, or names without values that
		// may repeat one with values: merge them properly (rare).
		return headerFromListsSlow(pairs)
	}
	return h
}

// headerFromListsSlow is headerFromLists for names that canonicalise alike.
func headerFromListsSlow(pairs []listPair) http.Header {
	h := make(http.Header, len(pairs))
	for i, p := range pairs {
		later := false
		for _, q := range pairs[i+1:] {
			if q.k == p.k {
				later = true
				break
			}
		}
		if later {
			continue
		}
		for _, v := range p.vs {
			h.Add(p.k, v)
		}
	}
	return h
}
