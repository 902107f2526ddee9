package httpapi

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/core/domain"
)

// TestDecodeStrict pins what the decoder refuses and how it says so: every
// refusal is Invalid with a message naming the field.
func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		name, body string
		dst        func() any
		want       string // the whole message
	}{
		{"case-insensitive name", `{"PURPOSE":"post","contentType":"image/png","size":1}`, newUpload,
			`unknown field "PURPOSE" (names are case-sensitive: "purpose")`},
		{"unknown name", `{"purpose":"post","admin":true}`, newUpload, `unknown field "admin"`},
		{"duplicate name", `{"purpose":"post","purpose":"avatar"}`, newUpload, `field "purpose" appears more than once`},
		{"duplicate name in optional", `{"bio":"a","bio":"b"}`, newPatchMe, `field "bio" appears more than once`},
		{"invalid UTF-8", "{\"body\":\"a\xffb\"}", newPost, `field "body" is not valid UTF-8`},
		{"invalid UTF-8 in name", "{\"b\xffody\":\"x\"}", newPost, `request body is not valid UTF-8`},
		{"lone high surrogate", `{"body":"\ud83d"}`, newPost, `field "body" is not valid Unicode (unpaired surrogate escape)`},
		{"lone low surrogate", `{"body":"x\udc00y"}`, newPost, `field "body" is not valid Unicode (unpaired surrogate escape)`},
		{"reversed surrogates", `{"body":"\udc00\ud83d"}`, newPost, `field "body" is not valid Unicode (unpaired surrogate escape)`},
		{"surrogate in optional", `{"bio":"\ud800"}`, newPatchMe, `field "bio" is not valid Unicode (unpaired surrogate escape)`},
		{"null body", `null`, newPatchMe, `request body must be a JSON object, not null`},
		{"null body with spaces", " \n null ", newPost, `request body must be a JSON object, not null`},
		{"array body", `[]`, newPost, `request body must be an object`},
		{"string body", `"x"`, newPost, `request body must be an object`},
		{"empty body", ``, newPost, `request body is required`},
		{"blank body", "  \n", newPost, `request body is required`},
		{"truncated", `{"body":`, newPost, `request body is not valid JSON: unexpected end`},
		{"not JSON", `hello`, newPost, `request body is not valid JSON (at byte 0)`},
		{"bad value", `{"body":tru}`, newPost, `request body is not valid JSON (in field "body", at byte 11)`},
		{"trailing value", `{"body":"x"} {}`, newPost, `request body must hold a single JSON value`},
		{"trailing garbage", `{"body":"x"}x`, newPost, `request body must hold a single JSON value`},
		{"wrong type", `{"body":5}`, newPost, `field "body" must be a string`},
		{"wrong element type", `{"body":"x","mediaIds":["a",5]}`, newPost, `field "mediaIds[1]" must be a string`},
		{"wrong array type", `{"body":"x","mediaIds":"a"}`, newPost, `field "mediaIds" must be an array`},
		{"string for integer", `{"size":"10"}`, newUpload, `field "size" must be an integer`},
		{"fraction for integer", `{"size":1.5}`, newUpload, `field "size" must be an integer`},
		{"integer out of range", `{"size":9223372036854775808}`, newUpload, `field "size" is out of range`},
		{"wrong type in optional", `{"bio":42}`, newPatchMe, `field "bio" must be a string`},
		{"wrong element in optional", `{"mediaIds":[1]}`, newPatchPost, `field "mediaIds[0]" must be a string`},
		{"wrong boolean", `{"all":"yes"}`, newMarkRead, `field "all" must be a boolean`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeStrict(strings.NewReader(tc.body), tc.dst(), false)
			if domain.ErrorCode(err) != domain.Invalid || domain.ErrorMessage(err) != tc.want {
				t.Errorf("got %v (%s), want Invalid %q", err, domain.ErrorCode(err), tc.want)
			}
		})
	}
}

func newUpload() any    { return new(uploadRequest) }
func newPost() any      { return new(createPostRequest) }
func newPatchMe() any   { return new(patchMeRequest) }
func newPatchPost() any { return new(patchPostRequest) }
func newMarkRead() any  { return new(markReadRequest) }

func TestDecodeStrictAccepts(t *testing.T) {
	var p patchMeRequest
	if err := decodeStrict(strings.NewReader(` {"displayName":"Ann \ud83d\ude00","bio":null} `), &p, false); err != nil {
		t.Fatal(err)
	}
	if !p.DisplayName.Set || p.DisplayName.Value != "Ann 😀" || !p.Bio.Set || !p.Bio.Null || p.ImageID.Set {
		t.Errorf("decoded %+v", p)
	}
	var post createPostRequest
	if err := decodeStrict(strings.NewReader(`{"body":"x","mediaIds":null}`), &post, false); err != nil || post.MediaIDs != nil {
		t.Errorf("null array: %+v %v", post, err)
	}
	// An optional body may be absent, but not null.
	var so signOutRequest
	if err := decodeStrict(strings.NewReader(""), &so, true); err != nil {
		t.Errorf("empty optional body: %v", err)
	}
	if err := decodeStrict(strings.NewReader("null"), &so, true); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("null optional body: %v", err)
	}
}

// TestDecodeStrictReadFailures: the reader's own failures keep their
// meaning (413 over the limit, 408 past the deadline), wherever they hit.
func TestDecodeStrictReadFailures(t *testing.T) {
	body := `{"body":"` + strings.Repeat("x", 100) + `"}`
	for _, limit := range []int64{0, 5, int64(len(body)) - 1} {
		r := http.MaxBytesReader(httptest.NewRecorder(), nopCloser{strings.NewReader(body)}, limit)
		if err := decodeStrict(r, new(createPostRequest), false); domain.ErrorCode(err) != domain.TooLarge {
			t.Errorf("limit %d: %v", limit, err)
		}
	}
	// The limit hit after the value, while looking for its end.
	r := http.MaxBytesReader(httptest.NewRecorder(), nopCloser{strings.NewReader(body + "   ")}, int64(len(body))+1)
	if err := decodeStrict(r, new(createPostRequest), false); domain.ErrorCode(err) != domain.TooLarge {
		t.Errorf("limit after the value: %v", err)
	}
	var he *echo.HTTPError
	err := decodeStrict(timeoutReader{}, new(createPostRequest), false)
	if !errors.As(err, &he) || he.Code != http.StatusRequestTimeout {
		t.Errorf("deadline: %v", err)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// timeoutReader fails as a connection past its read deadline does.
type timeoutReader struct{}

func (timeoutReader) Read([]byte) (int, error) {
	return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

func TestStrictQuery(t *testing.T) {
	good := []string{"", "limit=5", "cursor=abc&limit=5", "to=a%40b.co", "q=a+b", "a=&b"}
	for _, q := range good {
		if err := strictQuery(q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
	bad := map[string]string{
		"cursor=%%%garbage":   `query string is malformed: invalid URL escape "%%%"`,
		"cursor=%zz":          `query string is malformed: invalid URL escape "%zz"`,
		"a=1;b=2":             `query string is malformed: invalid semicolon separator in query`,
		"limit=1&limit=1000":  `query parameter "limit" must be given once`,
		"b=1&a=1&b=2&a=2":     `query parameter "a" must be given once`,
		"cursor=x&cursor=":    `query parameter "cursor" must be given once`,
		"limit=5&author=&x=1": "",
	}
	for q, want := range bad {
		err := strictQuery(q)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", q, err)
			}
			continue
		}
		if domain.ErrorCode(err) != domain.Invalid || domain.ErrorMessage(err) != want {
			t.Errorf("%q: %v, want %q", q, err, want)
		}
	}
}

func TestQueryLimit(t *testing.T) {
	e := echo.New()
	for q, want := range map[string]int{"": 0, "limit=": 0, "limit=7": 7, "limit=007": 7, "limit=100": 100} {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/?"+q, nil), httptest.NewRecorder())
		if n, err := queryLimit(c); err != nil || n != want {
			t.Errorf("%q: %d %v", q, n, err)
		}
	}
	for _, q := range []string{"limit=%2B5", "limit=+5", "limit=-1", "limit=0", "limit=101", "limit=5.0", "limit=1e1", "limit=0x10",
		"limit=1&limit=2", "limit=99999999999999999999999"} {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/?"+q, nil), httptest.NewRecorder())
		if _, err := queryLimit(c); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%q accepted: %v", q, err)
		}
	}
}

// The benchmarks decode typical request bodies the way the handlers do.

var (
	benchPost   = []byte(`{"body":"Sunset at the beach with the kids, best evening of the summer! 🌅 #holiday","mediaIds":["0190a0a0-0000-7000-8000-000000000001","0190a0a0-0000-7000-8000-000000000002"]}`)
	benchSignUp = []byte(`{"email":"alice@example.com","password":"correct horse 1","displayName":"Alice"}`)
	benchPatch  = []byte(`{"displayName":"Alice B.","bio":"Photographer. Coffee. Cats.","imageId":null}`)
)

func benchDecode[T any](b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var dst T
		if err := decodeStrict(bytes.NewReader(body), &dst, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCreatePost(b *testing.B) { benchDecode[createPostRequest](b, benchPost) }
func BenchmarkDecodeSignUp(b *testing.B)     { benchDecode[signUpRequest](b, benchSignUp) }
func BenchmarkDecodePatchMe(b *testing.B)    { benchDecode[patchMeRequest](b, benchPatch) }
