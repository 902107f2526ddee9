package lambdaapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonStringCases cover every escaping rule of json.Marshal.
var jsonStringCases = []string{
	"", "plain ascii", `quote " backslash \ slash /`, "\b\f\n\r\t\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "café 😀 \u2028 \u2029 \u2027 \u202a", "\xff\xfe", "a\xc3", "\xc3(", "\xed\xa0\x80",
	"\xf4\x90\x80\x80", "\xe2\x82", "日本語のテキスト", "\ufffd", strings.Repeat("é\"", 50),
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStringCases {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: %s, json.Marshal gives %s", s, got, want)
		}
		if got := appendJSONString([]byte("x"), []byte(s)); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("%q as bytes: %s", s, got)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, json.Marshal gives %s", s, got, want)
		}
	})
}

// replyCases are responses to write in both formats.
func replyCases() []reply {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	return []reply{
		{status: 200, header: http.Header{"Content-Type": {"application/json"}, "Etag": {`W/"1"`}}, body: []byte(`{"id":"p1","body":"<b>café</b> \"q\" \u2028"}`)},
		{status: 201, header: http.Header{
			"Content-Type": {"application/problem+json"}, "Set-Cookie": {"a=1; Path=/; HttpOnly", "b=2"},
			"Vary": {"Origin", "Accept"}, "X-Empty": {}, "X-Nil": nil, "X-\u00e9": {"\xff"},
		}, body: []byte("{}")},
		{status: 200, header: http.Header{"Content-Type": {"image/png"}}, body: png},
		{status: 200, header: http.Header{"Content-Type": {"text/plain; charset=latin1"}}, body: []byte{'c', 'a', 'f', 0xe9}},
		{status: 204, header: http.Header{}},
		{status: 304, header: http.Header{"Set-Cookie": {}}},
		{status: 500, header: nil, body: []byte("oops")},
		{status: 418, header: http.Header{"Content-Type": {"text/html"}}, body: []byte("<p>\x00\t</p>")},
		{status: -1, header: http.Header{"A": {""}, "B": {"", ""}}, body: []byte{}},
	}
}

// TestReplyJSON holds the hand-written responses to json.Marshal of the
// events response types.
func TestReplyJSON(t *testing.T) {
	for _, r := range replyCases() {
		checkReplyJSON(t, r)
	}
}

// checkReplyJSON compares r's JSON in both formats with json.Marshal's:
// the same document, and the same bytes when there is at most one header
// (the only difference allowed is the order of header names).
func checkReplyJSON(t *testing.T, r reply) {
	t.Helper()
	same := func(format string, got, want []byte) {
		t.Helper()
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: invalid JSON %v: %s", format, err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) || len(r.header) <= 1 && !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", format, got, want)
		}
	}
	want1, err := json.Marshal(r.v1())
	if err != nil {
		t.Fatal(err)
	}
	same("v1", r.appendV1(nil), want1)
	if r.header == nil { // the app's replies always have a header
		return
	}
	want2, err := json.Marshal(r.v2())
	if err != nil {
		t.Fatal(err)
	}
	got2 := r.appendV2([]byte("prefix"))
	if !bytes.HasPrefix(got2, []byte("prefix")) {
		t.Fatalf("v2 dropped what dst held: %s", got2)
	}
	same("v2", got2[len("prefix"):], want2)
}

// FuzzReplyJSON writes responses with fuzzed header names, values and
// bodies in both formats.
func FuzzReplyJSON(f *testing.F) {
	f.Add(200, "Content-Type", "application/json", "Set-Cookie", "a=1", []byte(`{"a":"<é>"}`))
	f.Add(201, "Content-Type", "image/png", "X-A", "\xff", []byte{0, 1, 0xff})
	f.Add(-5, "", "", "", "\u2028", []byte(nil))
	f.Fuzz(func(t *testing.T, status int, k1, v1, k2, v2 string, body []byte) {
		if !utf8.ValidString(k1) || !utf8.ValidString(k2) {
			// Names that are not UTF-8 both become \ufffd... in JSON: two
			// members of one name, which a decoded map cannot compare.
			return
		}
		h := http.Header{}
		h[k1] = append(h[k1], v1)
		h[k2] = append(h[k2], v2, v1)
		checkReplyJSON(t, reply{status: status, header: h, body: body})
	})
}
