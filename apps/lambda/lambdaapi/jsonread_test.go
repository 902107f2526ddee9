package lambdaapi

import (
	"encoding/json"
	"net/http"
	"net/textproto"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// The event decoders must give exactly what encoding/json gives with the
// events types followed by the typed conversion (ServeV1/ServeV2's path).
// stdV1 and stdV2 mirror the events types' members the decoders read
// (same names and types), so encoding/json's verdicts on those members
// are the oracle; members the decoders skip are only validated.

type stdV2 struct {
	Version         string            `json:"version"`
	RawPath         string            `json:"rawPath"`
	RawQueryString  string            `json:"rawQueryString"`
	Cookies         []string          `json:"cookies"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	RequestContext  struct {
		Stage      string `json:"stage"`
		RequestID  string `json:"requestId"`
		DomainName string `json:"domainName"`
		Authorizer *struct {
			JWT *struct {
				Claims map[string]string `json:"claims"`
			} `json:"jwt"`
		} `json:"authorizer"`
		HTTP struct {
			Method   string `json:"method"`
			Path     string `json:"path"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
	} `json:"requestContext"`
}

func (s *stdV2) event() *events.APIGatewayV2HTTPRequest {
	ev := &events.APIGatewayV2HTTPRequest{
		Version: s.Version, RawPath: s.RawPath, RawQueryString: s.RawQueryString, Cookies: s.Cookies,
		Headers: s.Headers, Body: s.Body, IsBase64Encoded: s.IsBase64Encoded,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: s.RequestContext.Stage, RequestID: s.RequestContext.RequestID, DomainName: s.RequestContext.DomainName,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: s.RequestContext.HTTP.Method, Path: s.RequestContext.HTTP.Path, SourceIP: s.RequestContext.HTTP.SourceIP,
			},
		},
	}
	if a := s.RequestContext.Authorizer; a != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
		if a.JWT != nil {
			ev.RequestContext.Authorizer.JWT = &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: a.JWT.Claims}
		}
	}
	return ev
}

type stdV1 struct {
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	Body                            string              `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
	RequestContext                  struct {
		Path       string `json:"path"`
		Stage      string `json:"stage"`
		RequestID  string `json:"requestId"`
		DomainName string `json:"domainName"`
		Identity   struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
		Authorizer map[string]any `json:"authorizer"`
	} `json:"requestContext"`
}

func (s *stdV1) event() *events.APIGatewayProxyRequest {
	return &events.APIGatewayProxyRequest{
		Path: s.Path, HTTPMethod: s.HTTPMethod, Headers: s.Headers, MultiValueHeaders: s.MultiValueHeaders,
		QueryStringParameters: s.QueryStringParameters, MultiValueQueryStringParameters: s.MultiValueQueryStringParameters,
		Body: s.Body, IsBase64Encoded: s.IsBase64Encoded,
		RequestContext: events.APIGatewayProxyRequestContext{
			Path: s.RequestContext.Path, Stage: s.RequestContext.Stage, RequestID: s.RequestContext.RequestID,
			DomainName: s.RequestContext.DomainName, Identity: events.APIGatewayRequestIdentity{SourceIP: s.RequestContext.Identity.SourceIP},
			Authorizer: s.RequestContext.Authorizer,
		},
	}
}

// viaStdV2 is the oracle: encoding/json, then the typed conversion.
func viaStdV2(b []byte) (apiEvent, error) {
	var s stdV2
	if err := json.Unmarshal(b, &s); err != nil {
		return apiEvent{}, err
	}
	e := eventV2From(s.event())
	return e.apiEvent(), nil
}

func viaReaderV2(b []byte) (apiEvent, error) {
	var e eventV2
	if err := decodeV2(b, &e); err != nil {
		return apiEvent{}, err
	}
	return e.apiEvent(), nil
}

func viaStdV1(b []byte) (apiEvent, error) {
	var s stdV1
	if err := json.Unmarshal(b, &s); err != nil {
		return apiEvent{}, err
	}
	e := eventV1From(s.event())
	return e.apiEvent(), nil
}

func viaReaderV1(b []byte) (apiEvent, error) {
	var e eventV1
	if err := decodeV1(b, &e); err != nil {
		return apiEvent{}, err
	}
	return e.apiEvent(), nil
}

// viaStdEvent is the oracle for decodeEvent: payloadVersion picks the
// format (FuzzPayloadVersion holds it to encoding/json), encoding/json
// decodes.
func viaStdEvent(b []byte) (apiEvent, error) {
	if payloadVersion(b) == "2.0" {
		ev, err := viaStdV2(b)
		ev.requestID = "v2:" + ev.requestID
		return ev, err
	}
	return viaStdV1(b)
}

func viaDecodeEvent(b []byte) (apiEvent, error) {
	ev, v2, err := decodeEvent(b)
	if v2 {
		ev.requestID = "v2:" + ev.requestID
	}
	return ev, err
}

func headerNamesEvent(b []byte) func() []string {
	if payloadVersion(b) == "2.0" {
		return headerNamesV2(b)
	}
	return headerNamesV1(b)
}

// sortMergedValues sorts the values of header names that several members
// fed (names differing in case): a Go map gives those in random order.
func sortMergedValues(h http.Header, names []string) {
	count := map[string]int{}
	for _, n := range names {
		count[textproto.CanonicalMIMEHeaderKey(n)]++
	}
	for k, n := range count {
		if n > 1 {
			slices.Sort(h[k])
		}
	}
}

// compareDecoders checks the reader against the oracle on one payload.
func compareDecoders(t *testing.T, b []byte, std, own func([]byte) (apiEvent, error), names func() []string) {
	t.Helper()
	want, wantErr := std(b)
	got, gotErr := own(b)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q:\nencoding/json error: %v\nreader error: %v", b, wantErr, gotErr)
	}
	if wantErr != nil {
		return
	}
	sortMergedValues(want.header, names())
	sortMergedValues(got.header, names())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nencoding/json: %#v\nreader:       %#v", b, want, got)
	}
}

// headerNames lists every header member name of a payload (for
// sortMergedValues), as encoding/json reads them.
func headerNamesV2(b []byte) func() []string {
	return func() []string {
		var s stdV2
		_ = json.Unmarshal(b, &s)
		var out []string
		for k := range s.Headers {
			out = append(out, k)
		}
		return out
	}
}

func headerNamesV1(b []byte) func() []string {
	return func() []string {
		var s stdV1
		_ = json.Unmarshal(b, &s)
		var out []string
		for k := range s.Headers {
			out = append(out, k)
		}
		for k := range s.MultiValueHeaders {
			out = append(out, k)
		}
		return out
	}
}

// decoderCases are edge cases for both decoders (and fuzz seeds).
var decoderCases = []string{
	// Escapes, unicode, invalid UTF-8 and surrogates in every string position.
	`{"version":"2.0","rawPath":"/v1/caf\u00e9/\ud83d\ude00/\ud800/\udc00x/\"q\"/\\/\/","headers":{"x-a":"\t\b\f\n\r","x-\u00e9":"\u2028\u2029"},"requestContext":{"http":{"method":"GET"}}}`,
	"{\"version\":\"2.0\",\"rawPath\":\"/\xff\xfe/\xed\xa0\x80/\xc3\",\"headers\":{\"x\xffy\":\"\xe2\x82\"},\"body\":\"\xf0\x9f\x98\x80\",\"requestContext\":{\"http\":{\"method\":\"GET\"}}}",
	// Repeated members: the last wins, maps merge, null clears or keeps.
	`{"rawPath":"/a","rawPath":"/b","headers":{"a":"1","A":"2","a":"3"},"headers":{"b":"4"},"body":"x","body":null,"cookies":["a","b","c"],"cookies":[null,"z"],"version":"2.0","requestContext":{"stage":"prod"},"requestContext":{"http":{"method":"PUT"}}}`,
	`{"headers":{"a":"1"},"headers":null,"requestContext":{"authorizer":{"jwt":{"claims":{"sub":"u1","token_use":"access"}}},"authorizer":{"jwt":{"claims":{"scope":"x"}}}}}`,
	`{"requestContext":{"authorizer":{"jwt":{"claims":{"sub":"u1"}}},"authorizer":null}}`,
	`{"requestContext":{"authorizer":{"jwt":null,"lambda":{"x":1}}}}`,
	// Case-insensitive member names, including Unicode folding (ſ, K).
	`{"RAWPATH":"/x","rawpath":"/y","ISBASE64ENCODED":true,"Body":"aGk=","requestcontext":{"HTTP":{"METHOD":"post","ſourceIp":"1.2.3.4"},"Stage":"$default"},"cooKies":["k=\u212a"]}`,
	"{\"rawPath\":\"/\",\"requestContext\":{\"http\":{\"method\":\"GET\",\"path\":\"/K\"}},\"\u212aey\":1,\"body\":\"b\"}",
	// Base64 bodies, bad ones too (the conversion refuses them later).
	`{"version":"2.0","rawPath":"/bytes","body":"AAEC/w==","isBase64Encoded":true,"requestContext":{"http":{"method":"POST"}}}`,
	`{"version":"2.0","rawPath":"/bytes","body":"%%%","isBase64Encoded":true,"requestContext":{"http":{"method":"POST"}}}`,
	// v1: multi-value headers and query, repeated, null, with claims.
	`{"httpMethod":"GET","path":"/prod/x","headers":{"Accept":"b"},"multiValueHeaders":{"Accept":["a","b"],"accept":["c"],"X-Empty":[],"X-Null":null,"X-N":[null,"v"]},"queryStringParameters":{"q":"2"},"multiValueQueryStringParameters":{"q":["1","2"],"q":["3"],"é":["a b&c"]},"requestContext":{"path":"/prod/x","stage":"prod","identity":{"sourceIp":"198.51.100.7"},"authorizer":{"claims":{"sub":"u","token_use":"access","n":1.5e3,"b":true,"z":null,"l":["a",{"k":[1]}]}}}}`,
	`{"httpMethod":"GET","path":"/x","headers":{"A":"1","a":"2","B":null},"multiValueHeaders":{},"queryStringParameters":{"a":"1","a":"2"},"multiValueQueryStringParameters":null}`,
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":{"A":["1"]},"multiValueHeaders":null,"headers":{"C":"3"},"requestContext":{"authorizer":{"claims":{"sub":"u"}},"authorizer":{"principalId":"p"}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"jwt":{"claims":{"sub":"u","token_use":"access"}}},"authorizer":null}}`,
	// Header objects read in one pass unless names collide or repeat.
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":{"A":["1"]},"multiValueHeaders":{"B":["2"],"A":["3"]}}`,
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":{"A":["1"],"a":["2","3"],"b":["4"]}}`,
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":{"A":[],"B":["2"]},"headers":{"C":"3"}}`,
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":{"X":null},"headers":{"C":"3"}}`,
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":{"A":["1"],"A":[]},"headers":{"C":"3"}}`,
	`{"httpMethod":"GET","path":"/x","multiValueHeaders":null,"headers":{"C":"3","c":"4"},"headers":{"D":null}}`,
	`{"version":"2.0","rawPath":"/","headers":{"a":"1","b":"2"},"headers":{"A":"3"},"requestContext":{"http":{"method":"GET"}}}`,
	`{"version":"2.0","rawPath":"/","headers":{"x-a":"1","X-A":"2"},"requestContext":{"http":{"method":"GET"}}}`,
	// REST API authorizers: any JSON; claims found by exact names, the last
	// member wins, repeated authorizers merge, numbers must fit a float64.
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"Claims":{"sub":"a"},"claims":{"sub":"b","token_use":"access","n":-0.0,"big":12345678901234567890,"f":1e-7,"s":"\u00e9","o":{"b":1,"a":[true,null,"<&>"]},"sub":"c","x":1,"x":null}}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"claims":{"sub":"a"},"claims":"none","jwt":{"claims":{"sub":"j"},"claims":{"sub":"k"}}}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"jwt":{"claims":{"sub":"j"}}},"authorizer":{"jwt":{"scopes":[]}}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"claims":{"sub":"a"}},"authorizer":{"principalId":"p","integrationLatency":0}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"claims":{}}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"claims":{"sub":"a"}},"authorizer":null}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"principalId":"p","latency":1e999}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"claims":{"sub":"a","l":[1,2e400]}}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"claims":{"sub":"a","n":-1e309}}}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":"x"}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":[{"claims":{}}]}}`,
	`{"httpMethod":"GET","path":"/x","requestContext":{"authorizer":{"jwt":"x","claims":5e400}}}`,
	// Values of the wrong type where the decoders read, and where they skip.
	`{"rawPath":1}`, `{"headers":{"a":1}}`, `{"cookies":"a"}`, `{"isBase64Encoded":"true"}`, `{"requestContext":[]}`,
	`{"requestContext":{"http":{"method":true}}}`, `{"requestContext":{"authorizer":{"jwt":{"claims":{"exp":1}}}}}`,
	`{"multiValueHeaders":{"a":"x"}}`, `{"multiValueHeaders":{"a":[1]}}`, `{"requestContext":{"authorizer":{"claims":{"n":1e400}}}}`,
	`{"routeKey":1,"pathParameters":[],"stageVariables":"x","requestContext":{"timeEpoch":"x"}}`,
	`{"version":2}`, `{"version":null}`, `"event"`, `[]`, `null`, ` {} `, `{}x`, `{"a":}`, `{"a":01}`, `{"a":"\x"}`,
	"{\"a\":\"\x01\"}", `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":[1,]}`, `{"a" 1}`, `{,}`, ``, `{"a":"\ud83d"}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	`{"a":-0.5E+10,"b":[true,false,null,{},[],""],"c":{"d":{"e":"f"}},"version":"2.0"}`,
	// The format is the last version member's: a first guess can be wrong.
	`{"version":"2.0","version":null,"httpMethod":"GET","path":"/v1","rawPath":"/v2"}`,
	`{"version":"2.0","rawPath":"/v2","version":"1.0","httpMethod":"GET","path":"/v1"}`,
	`{"httpMethod":"GET","path":"/v1","Version":"2.0","rawPath":"/v2","requestContext":{"http":{"method":"PUT"}}}`,
	`{"version":"2.0","rawPath":1,"version":"1.0","path":"/p","httpMethod":"GET"}`,
	`{"version":"2.0","version":5,"path":"/p","httpMethod":"GET"}`,
	`{"version":"2.0","multiValueHeaders":{"a":1},"rawPath":"/v2","requestContext":{"http":{"method":"GET"}}}`,
	` { "version" : "2.0" , "rawPath":"/v2","requestContext":{"http":{"method":"GET"}}}`,
	`{"version":"2.0"`, `{"version":"2.0",`, `{"version":"2.0"}`, `{"version":"2.0" "x":1}`,
}

func testdataEvents(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{"testdata/v2-jwt-get.json", "testdata/v1-cognito-post.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestDecodersMatchEncodingJSON(t *testing.T) {
	payloads := testdataEvents(t)
	for _, c := range decoderCases {
		payloads = append(payloads, []byte(c))
	}
	// Nesting at encoding/json's limit, and one past it.
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth} {
		payloads = append(payloads, []byte(`{"x":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`))
	}
	for _, b := range payloads {
		compareDecoders(t, b, viaStdV2, viaReaderV2, headerNamesV2(b))
		compareDecoders(t, b, viaStdV1, viaReaderV1, headerNamesV1(b))
		compareDecoders(t, b, viaStdEvent, viaDecodeEvent, headerNamesEvent(b))
	}
}

// TestDecodeRealisticEvents pins what the converter takes from an HTTP
// API event with a JWT authorizer and a REST API event with a Cognito
// authorizer.
func TestDecodeRealisticEvents(t *testing.T) {
	evs := testdataEvents(t)
	v2, err := viaReaderV2(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if v2.method != "GET" || v2.path != "/v1/posts/01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f" || v2.rawQuery != "fields=id%2Cbody&lang=fr" ||
		v2.requestID != "JKJaXmPLvHcESHA=" || v2.sourceIP != "203.0.113.9" || v2.domainName != "abc123defg.execute-api.eu-west-1.amazonaws.com" ||
		v2.body != "" || v2.b64 {
		t.Errorf("v2 event %+v", v2)
	}
	for k, want := range map[string][]string{
		"Cookie": {"theme=dark; consent=yes"}, "X-Multi": {"one,two"}, "Accept-Encoding": {"gzip, deflate, br, zstd"},
		"Sec-Ch-Ua":     {`"Chromium";v="130", "Not?A_Brand";v="99"`},
		"X-Unicode":     {"café 😀 \u2028"},
		"Authorization": {"Bearer eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl"},
	} {
		if got := v2.header[k]; !reflect.DeepEqual(got, want) {
			t.Errorf("v2 header %s = %q, want %q", k, got, want)
		}
	}
	if len(v2.header) != 18 {
		t.Errorf("v2 headers: %d %v", len(v2.header), v2.header)
	}
	if p, err := PrincipalFromClaims(v2.claims); err != nil || p.UserID != "8a6b0f2e-0000-4000-8000-000000000004" ||
		!reflect.DeepEqual(p.Groups, []string{"admins", "editors"}) {
		t.Errorf("v2 principal %+v %v", p, err)
	}

	v1, err := viaReaderV1(evs[1])
	if err != nil {
		t.Fatal(err)
	}
	if v1.method != "POST" || v1.path != "/v1/posts" || v1.rawQuery != "draft=false&tag=a&tag=b" || !v1.b64 ||
		v1.requestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" || v1.sourceIP != "203.0.113.9" {
		t.Errorf("v1 event %+v", v1)
	}
	if got := v1.header["X-Multi"]; !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Errorf("v1 multi-value header %q", got)
	}
	if v1.claims["auth_time"] != "1795584000" || v1.claims["email_verified"] != "true" || v1.claims["cognito:groups"] != "admins,editors" {
		t.Errorf("v1 claims %v", v1.claims)
	}
}

func TestJSONStringDecoding(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`:                           "plain",
		`"caf\u00e9 café"`:                  "café café",
		`"\ud83d\ude00"`:                    "😀",
		`"\ud83d"`:                          "\ufffd",
		`"\ud83dx"`:                         "\ufffdx",
		`"\ude00\ud83d"`:                    "\ufffd\ufffd",
		`"\ud83d\u0041"`:                    "\ufffdA",
		`"\"\\\/\b\f\n\r\t"`:                "\"\\/\b\f\n\r\t",
		"\"a\xffb\"":                        "a\ufffdb",
		"\"\xed\xa0\x80\"":                  "\ufffd\ufffd\ufffd",
		`"\u0000\u001f\u007f\u2028<>&"`:     "\x00\x1f\x7f\u2028<>&",
		`"` + strings.Repeat("é", 40) + `"`: strings.Repeat("é", 40),
	} {
		r := newJSONReader([]byte(in))
		var got string
		r.stringInto(&got)
		if err := r.end(); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
		var std string
		if err := json.Unmarshal([]byte(in), &std); err != nil || std != want {
			t.Errorf("%s: encoding/json gives %q %v: fix the table", in, std, err)
		}
	}
}

func TestFoldEqual(t *testing.T) {
	for _, tc := range []struct {
		key, name string
		want      bool
	}{
		{"rawPath", "rawPath", true}, {"RAWPATH", "rawPath", true}, {"rawpath", "rawPath", true},
		{"ſtage", "stage", true}, {"\u212aey", "key", true}, {"stage ", "stage", false}, {"stag", "stage", false},
		{"ştage", "stage", false}, {"st\u0000ge", "stage", false}, {"", "", true}, {"é", "e", false},
	} {
		if got := foldEqual(tc.key, tc.name); got != tc.want {
			t.Errorf("foldEqual(%q, %q) = %v", tc.key, tc.name, got)
		}
	}
}

func fuzzSeeds(f *testing.F) {
	for _, b := range testdataEvents(f) {
		f.Add(b)
	}
	for _, c := range decoderCases {
		f.Add([]byte(c))
	}
}

// FuzzDecodeV2 holds decodeV2 to encoding/json on any input.
func FuzzDecodeV2(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		compareDecoders(t, b, viaStdV2, viaReaderV2, headerNamesV2(b))
	})
}

// FuzzDecodeV1 holds decodeV1 to encoding/json on any input.
func FuzzDecodeV1(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		compareDecoders(t, b, viaStdV1, viaReaderV1, headerNamesV1(b))
	})
}

// FuzzDecodeEvent holds decodeEvent (format guess included) to
// payloadVersion and encoding/json on any input.
func FuzzDecodeEvent(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		compareDecoders(t, b, viaStdEvent, viaDecodeEvent, headerNamesEvent(b))
	})
}

// FuzzJSONReader checks the reader's validation and string decoding
// against encoding/json: a document is accepted exactly when json.Valid
// says so, and a string decodes to what json.Unmarshal gives.
func FuzzJSONReader(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range []string{`"a\u00e9\ud83d\ude00"`, "\"\xff\"", `"\ud800\udbff"`, `123`, `-0.0e-0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newJSONReader(b)
		r.skip()
		if err := r.end(); (err == nil) != json.Valid(b) {
			t.Fatalf("%q: reader says %v, json.Valid %v", b, err, json.Valid(b))
		}
		var want string
		if json.Unmarshal(b, &want) != nil || r.peek() == 'n' {
			return
		}
		r = newJSONReader(b)
		var got string
		r.stringInto(&got)
		if err := r.end(); err != nil || got != want {
			t.Fatalf("%q: reader %q %v, encoding/json %q", b, got, err, want)
		}
	})
}

// FuzzPlainRun holds the word-at-a-time scan to the bytewise one.
func FuzzPlainRun(f *testing.F) {
	for _, s := range []string{"", "abc", `0123456789abcdef"x`, "0123456789\\abcdef", "0123456\x1f", "01234567\x80", "\x7f\x20~!#"} {
		f.Add([]byte(s), 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i > len(b) {
			return
		}
		want := i
		for want < len(b) && plainByte[b[want]] {
			want++
		}
		if got := plainRun(b, i); got != want {
			t.Fatalf("plainRun(%q, %d) = %d, want %d", b, i, got, want)
		}
	})
}
