package lambdaapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader reads the few members of an API Gateway event that the
// converter needs straight from the invocation payload.
//
// Why not encoding/json: on a 2-4 KB event it costs 23-27 µs, more than
// the Echo app spends serving the request (it validates the whole
// document, then decodes it again by reflection into events types full of
// maps the converter copies once more). This reader validates and decodes
// in one pass, skips what is not needed without building it, and returns
// strings that are slices of one copy of the payload, so an event costs
// about 20 allocations and 4-6 µs (see the package doc).
//
// It follows encoding/json for every shape it decodes: the document must
// be valid JSON (RFC 8259, nesting at most 10000 deep, nothing after the
// top-level value), member names match fields exactly or
// case-insensitively (encoding/json's folding), the last of repeated
// members wins (objects decoded into a map merge), null leaves a string,
// bool or struct unchanged and clears a map, slice or pointer, escapes and
// invalid UTF-8 decode to the same runes, and a value of the wrong type is
// an error. FuzzDecodeV1, FuzzDecodeV2, FuzzDecodeEvent and FuzzJSONReader
// check this against encoding/json.
type jsonReader struct {
	b     []byte // the document
	s     string // the same bytes: strings without escapes are slices of it
	i     int    // read position
	depth int    // open objects and arrays
	err   error  // the first error; reading stops there
	// checkNumbers makes every number an error that float64 cannot hold,
	// as in values encoding/json decodes into an interface.
	checkNumbers bool
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

func newJSONReader(b []byte) jsonReader {
	return jsonReader{b: b, s: string(b)}
}

// errJSON marks reader errors (syntax and type errors alike).
var errJSON = errors.New("invalid event JSON")

func (r *jsonReader) syntax(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errJSON, what, r.i)
	}
	r.i = len(r.b)
}

func (r *jsonReader) mismatch(want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: the value at byte %d is not %s", errJSON, r.i, want)
	}
	r.i = len(r.b)
}

// ws skips white space.
func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		if c := r.b[r.i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		r.i++
	}
}

// peek skips white space and returns the next byte (0 at the end).
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// end checks that nothing but white space follows the top-level value.
func (r *jsonReader) end() error {
	if r.err == nil {
		if r.ws(); r.i < len(r.b) {
			r.syntax("data after the top-level value")
		}
	}
	return r.err
}

// literal consumes word (true, false or null) at r.i.
func (r *jsonReader) literal(word string) {
	if len(r.b)-r.i >= len(word) && r.s[r.i:r.i+len(word)] == word {
		r.i += len(word)
		return
	}
	r.syntax("invalid literal")
}

// null consumes a null at the next value and reports whether there was one.
func (r *jsonReader) null() bool {
	if r.peek() != 'n' {
		return false
	}
	r.literal("null")
	return true
}

// plainByte marks the string bytes that need no further look: printable
// ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Masks with one bit (highBits) or a 1 (eachByte) in every byte of a
// 64-bit word, for scanning strings eight bytes at a time.
const (
	eachByte = 0x0101010101010101
	highBits = 0x8080808080808080
)

// plainRun returns the index of the first byte from b[i] on that is not
// plain (see plainByte), or len(b). It tests eight bytes at a time: a
// byte is flagged when it is '"' or '\\' (zero after the xor), below
// 0x20, or 0x80 and above. Borrows only carry flags into the bytes above
// a flagged one, so the lowest flag is the first byte that is not plain.
func plainRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (eachByte * '"')
		bs := x ^ (eachByte * '\\')
		if m := ((q-eachByte)&^q | (bs-eachByte)&^bs | (x - eachByte*0x20) | x) & highBits; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	return i
}

// str reads the string at r.i (its opening quote) and returns its value.
func (r *jsonReader) str() string {
	start := r.i + 1
	i := plainRun(r.b, start)
	if i < len(r.b) && r.b[i] == '"' {
		r.i = i + 1
		return r.s[start:i]
	}
	return r.strSlow(start, i)
}

// strSlow finishes a string with escapes, control bytes or non-ASCII
// bytes from b[i] on.
func (r *jsonReader) strSlow(start, i int) string {
	escaped := false
	for {
		if i >= len(r.b) {
			r.i = i
			r.syntax("unterminated string")
			return ""
		}
		c := r.b[i]
		switch {
		case c == '"':
			r.i = i + 1
			if !escaped && utf8.Valid(r.b[start:i]) {
				return r.s[start:i]
			}
			return unquote(r.b[start:i])
		case c == '\\':
			escaped = true
			if i = r.escapeEnd(i); i < 0 {
				return ""
			}
		case c < 0x20:
			r.i = i
			r.syntax("control character in string")
			return ""
		default:
			i++
		}
	}
}

// escapeEnd returns the index after the escape sequence at b[i] (a
// backslash), or records a syntax error and returns -1.
func (r *jsonReader) escapeEnd(i int) int {
	b := r.b
	if i+1 < len(b) {
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			return i + 2
		case 'u':
			if i+6 <= len(b) && isHex(b[i+2]) && isHex(b[i+3]) && isHex(b[i+4]) && isHex(b[i+5]) {
				return i + 6
			}
		}
	}
	r.i = i
	r.syntax("invalid escape")
	return -1
}

// unquote decodes the body of a valid JSON string as encoding/json does:
// invalid UTF-8 and unpaired surrogates become U+FFFD.
func unquote(s []byte) string {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(rr) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[i+2:])); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							i += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			rr, n := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, rr)
			i += n
		}
	}
	return string(b)
}

// hex4 reads four hex digits (already validated).
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// skipString consumes a string without decoding it.
func (r *jsonReader) skipString() {
	i := r.i + 1
	for {
		i = plainRun(r.b, i)
		if i >= len(r.b) {
			r.i = i
			r.syntax("unterminated string")
			return
		}
		switch c := r.b[i]; {
		case c == '"':
			r.i = i + 1
			return
		case c == '\\':
			if i = r.escapeEnd(i); i < 0 {
				return
			}
		case c < 0x20:
			r.i = i
			r.syntax("control character in string")
			return
		default: // non-ASCII: any byte is accepted (decoding replaces bad UTF-8)
			i++
		}
	}
}

// number consumes a number (RFC 8259 grammar) and returns its text.
func (r *jsonReader) number() string {
	b, i := r.b, r.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		r.i = i
		r.syntax("invalid number")
		return ""
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			r.i = i
			r.syntax("invalid number")
			return ""
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			r.i = i
			r.syntax("invalid number")
			return ""
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	r.i = i
	text := r.s[start:i]
	if r.checkNumbers {
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			r.i = start
			r.mismatch("a number a float64 can hold")
		}
	}
	return text
}

// skip consumes any value, validating it.
func (r *jsonReader) skip() {
	switch c := r.peek(); c {
	case '{':
		r.object(func(string) { r.skip() })
	case '[':
		r.array(r.skip)
	case '"':
		r.skipString()
	case 't':
		r.literal("true")
	case 'f':
		r.literal("false")
	case 'n':
		r.literal("null")
	default:
		r.number()
	}
}

// object reads an object at the next value, calling member with each
// member name; member must consume the member's value.
func (r *jsonReader) object(member func(name string)) {
	if r.peek() != '{' {
		r.syntax("expected an object")
		return
	}
	r.i++
	if r.depth++; r.depth > maxJSONDepth {
		r.syntax("nesting too deep")
		return
	}
	if r.peek() == '}' {
		r.i++
		r.depth--
		return
	}
	for r.err == nil {
		if r.peek() != '"' {
			r.syntax("expected a member name")
			return
		}
		name := r.str()
		if r.peek() != ':' {
			r.syntax("expected ':'")
			return
		}
		r.i++
		member(name)
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			r.depth--
			return
		default:
			r.syntax("expected ',' or '}'")
		}
	}
}

// array reads an array at the next value, calling elem for each element;
// elem must consume it.
func (r *jsonReader) array(elem func()) {
	if r.peek() != '[' {
		r.syntax("expected an array")
		return
	}
	r.i++
	if r.depth++; r.depth > maxJSONDepth {
		r.syntax("nesting too deep")
		return
	}
	if r.peek() == ']' {
		r.i++
		r.depth--
		return
	}
	for r.err == nil {
		elem()
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			r.depth--
			return
		default:
			r.syntax("expected ',' or ']'")
		}
	}
}

// isValueStart reports whether c can start a JSON value, to tell a type
// mismatch from a syntax error.
func isValueStart(c byte) bool {
	return c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || '0' <= c && c <= '9'
}

// wrongType records that the value at r.i is not want (or a syntax error
// if no value starts there); reading stops.
func (r *jsonReader) wrongType(want string) {
	if !isValueStart(r.peek()) {
		r.syntax("expected a value")
		return
	}
	r.mismatch(want)
}

// stringInto reads a string into *dst; null leaves it unchanged.
func (r *jsonReader) stringInto(dst *string) {
	switch r.peek() {
	case '"':
		*dst = r.str()
	case 'n':
		r.literal("null")
	default:
		r.wrongType("a string")
	}
}

// boolInto reads true or false into *dst; null leaves it unchanged.
func (r *jsonReader) boolInto(dst *bool) {
	switch r.peek() {
	case 't':
		r.literal("true")
		*dst = true
	case 'f':
		r.literal("false")
		*dst = false
	case 'n':
		r.literal("null")
	default:
		r.wrongType("a boolean")
	}
}

// structInto reads an object of known fields: field is called with the
// index in names of the field a member selects (-1: none, to be skipped
// by field). null leaves the fields unchanged.
func (r *jsonReader) structInto(names []string, field func(i int)) {
	switch r.peek() {
	case '{':
		r.object(func(name string) { field(fieldIndex(name, names)) })
	case 'n':
		r.literal("null")
	default:
		r.wrongType("an object")
	}
}

// strPair is one member of a JSON object of strings, in document order.
type strPair struct{ k, v string }

// pairsInto appends the members of an object of strings (a
// map[string]string to encoding/json: a null member is ""; repeated
// objects merge, so the last pair of a name wins) to *dst; null clears it.
func (r *jsonReader) pairsInto(dst *[]strPair) {
	switch r.peek() {
	case '{':
		if *dst == nil {
			// Room for a browser's headers and API Gateway's own.
			*dst = make([]strPair, 0, 24)
		}
		r.object(func(name string) {
			var v string
			r.stringInto(&v)
			*dst = append(*dst, strPair{name, v})
		})
	case 'n':
		r.literal("null")
		*dst = (*dst)[:0]
	default:
		r.wrongType("an object")
	}
}

// headerMember collects the values of an event member that becomes the
// request's header (an object of strings, or of string arrays), repeated
// or not. In one pass it decodes the first object straight into a header,
// which is the answer when the names are distinct after canonicalisation
// and no list is empty (always, from API Gateway); otherwise (slow) the
// header is made from the objects' spans with pairsInto or listPairsInto
// and headerFromPairs or headerFromLists, which merge exactly as
// encoding/json's map would.
type headerMember struct {
	spans []int       // where the objects since the last null start
	h     http.Header // the first object's header, unless slow
	n     int         // members read: encoding/json's map is empty iff 0
	slow  bool
}

// headerMemberInto reads one occurrence of such a member. lists: its
// values are string arrays. lazy: only check it (the header may not be
// needed), leaving it slow.
func (r *jsonReader) headerMemberInto(m *headerMember, lists, lazy bool) {
	r.ws()
	start := r.i
	switch r.peek() {
	case '{':
		m.spans = append(m.spans, start)
		if lazy || len(m.spans) > 1 {
			m.slow, m.h = true, nil
			m.n += r.checkHeaderObject(lists)
			return
		}
		var n int
		m.h, n, m.slow = r.readHeaderObject(lists)
		m.n += n
	case 'n':
		r.literal("null")
		*m = headerMember{spans: m.spans[:0]}
	default:
		r.wrongType("an object")
	}
}

// header returns the header m describes (nil when it has no members);
// src reads the document m's spans point into.
func (m *headerMember) header(src jsonReader, lists bool, extra int) http.Header {
	switch {
	case m.n == 0:
		return nil
	case !m.slow:
		return m.h
	case lists:
		var pairs []listPair
		var arena []string
		for _, start := range m.spans {
			src.i = start
			src.listPairsInto(&pairs, &arena) // validated when first read
		}
		return headerFromLists(pairs)
	}
	var pairs []strPair
	for _, start := range m.spans {
		src.i = start
		src.pairsInto(&pairs)
	}
	return headerFromPairs(pairs, extra)
}

// readHeaderObject decodes an object of strings (lists: of string arrays)
// into a header; slow reports names that canonicalise alike or an empty
// list, for which the header is not the answer.
func (r *jsonReader) readHeaderObject(lists bool) (h http.Header, n int, slow bool) {
	h = make(http.Header, 24)
	// One backing array for the values, as net/textproto does.
	vals := make([]string, 0, 24)
	r.object(func(name string) {
		n++
		start := len(vals)
		if lists {
			switch r.peek() {
			case '[':
				r.array(func() {
					var v string
					r.stringInto(&v)
					vals = append(vals, v)
				})
			case 'n':
				r.literal("null")
			default:
				r.wrongType("an array")
			}
		} else {
			var v string
			r.stringInto(&v)
			vals = append(vals, v)
		}
		if len(vals) == start {
			slow = true // no values: the name may repeat one that has some
			return
		}
		h[canonicalHeaderKey(name)] = vals[start:len(vals):len(vals)]
	})
	return h, n, slow || len(h) < n
}

// checkHeaderObject consumes an object of strings (lists: of string
// arrays), checking the types readHeaderObject would, and returns its
// number of members.
func (r *jsonReader) checkHeaderObject(lists bool) (n int) {
	str := func() {
		switch r.peek() {
		case '"':
			r.skipString()
		case 'n':
			r.literal("null")
		default:
			r.wrongType("a string")
		}
	}
	r.object(func(string) {
		n++
		if !lists {
			str()
			return
		}
		switch r.peek() {
		case '[':
			r.array(str)
		case 'n':
			r.literal("null")
		default:
			r.wrongType("an array")
		}
	})
	return n
}

// listPair is one member of a JSON object of string arrays.
type listPair struct {
	k  string
	vs []string
}

// listPairsInto is pairsInto for a map[string][]string: each member's
// value is a new slice (null: nil; a null element is ""). The slices are
// cut from *arena, one allocation for all of them.
func (r *jsonReader) listPairsInto(dst *[]listPair, arena *[]string) {
	switch r.peek() {
	case '{':
		if *dst == nil {
			*dst = make([]listPair, 0, 24)
		}
		if *arena == nil {
			*arena = make([]string, 0, 32)
		}
		r.object(func(name string) {
			var vs []string
			switch r.peek() {
			case '[':
				start := len(*arena)
				r.array(func() {
					var v string
					r.stringInto(&v)
					*arena = append(*arena, v)
				})
				vs = (*arena)[start:len(*arena):len(*arena)]
			case 'n':
				r.literal("null")
			default:
				r.wrongType("an array")
			}
			*dst = append(*dst, listPair{name, vs})
		})
	case 'n':
		r.literal("null")
		*dst = (*dst)[:0]
	default:
		r.wrongType("an object")
	}
}

// stringsInto reads an array of strings into *dst the way encoding/json
// fills an existing slice: elements are decoded over the slice's old
// contents (a null element keeps what was there) and it is cut to the
// array's length; null sets it to nil.
func (r *jsonReader) stringsInto(dst *[]string) {
	switch r.peek() {
	case '[':
		s := (*dst)[:0]
		r.array(func() {
			if len(s) < cap(s) {
				s = s[:len(s)+1]
			} else {
				s = append(s, "")
			}
			r.stringInto(&s[len(s)-1])
		})
		*dst = s
	case 'n':
		r.literal("null")
		*dst = nil
	default:
		r.wrongType("an array")
	}
}

// stringMapInto reads an object of strings into the map *dst (created if
// nil, else merged into); null sets it to nil.
func (r *jsonReader) stringMapInto(dst *map[string]string) {
	switch r.peek() {
	case '{':
		if *dst == nil {
			// Room for an access token's claims.
			*dst = make(map[string]string, 16)
		}
		m := *dst
		r.object(func(name string) {
			var v string
			r.stringInto(&v)
			m[name] = v
		})
	case 'n':
		r.literal("null")
		*dst = nil
	default:
		r.wrongType("an object")
	}
}

// authorizerV1Into reads a REST API authorizer's context, any JSON
// object, for what claimsV1 takes from it (see authorizerV1): members are
// matched exactly (they are map keys), later members replace earlier
// ones, repeated objects merge and null clears it.
func (r *jsonReader) authorizerV1Into(a *authorizerV1) {
	defer func(saved bool) { r.checkNumbers = saved }(r.checkNumbers)
	r.checkNumbers = true
	switch r.peek() {
	case '{':
		r.object(func(name string) {
			switch name {
			case "claims":
				a.claims, a.hasClaims = r.readClaimsV1()
			case "jwt":
				a.jwtClaims, a.hasJWTClaims = nil, false
				if r.peek() != '{' {
					r.skip()
					return
				}
				r.object(func(name string) {
					if name == "claims" {
						a.jwtClaims, a.hasJWTClaims = r.readClaimsV1()
					} else {
						r.skip()
					}
				})
			default:
				r.skip()
			}
		})
	case 'n':
		r.literal("null")
		*a = authorizerV1{}
	default:
		r.wrongType("an object")
	}
}

// readClaimsV1 reads the value of a claims member: for an object, its members
// rendered as claimsV1 (the function) renders what encoding/json decodes
// (numbers through float64, arrays and objects re-encoded, null left
// out); anything else is not claims (ok false).
func (r *jsonReader) readClaimsV1() (claims map[string]string, ok bool) {
	if r.peek() != '{' {
		r.skip()
		return nil, false
	}
	claims = make(map[string]string, 16)
	r.object(func(name string) {
		switch r.peek() {
		case '"':
			claims[name] = r.str()
		case 't':
			r.literal("true")
			claims[name] = "true"
		case 'f':
			r.literal("false")
			claims[name] = "false"
		case 'n':
			r.literal("null")
			delete(claims, name)
		case '{', '[':
			raw := r.rawValue()
			if r.err != nil {
				return
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				r.fail(err)
				return
			}
			b, err := json.Marshal(v)
			if err != nil {
				r.fail(err)
				return
			}
			claims[name] = string(b)
		default:
			f, err := strconv.ParseFloat(r.number(), 64)
			if err == nil {
				claims[name] = strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
	})
	return claims, true
}

func (r *jsonReader) fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %w", errJSON, err)
	}
	r.i = len(r.b)
}

// rawValue consumes a value and returns its bytes.
func (r *jsonReader) rawValue() []byte {
	r.ws()
	start := r.i
	r.skip()
	if r.err != nil {
		return nil
	}
	return r.b[start:r.i]
}

// fieldIndex returns the index in names of the field a member name
// selects, as encoding/json matches names: an exact match first, then one
// equal under its case folding; -1 for none.
func fieldIndex(name string, names []string) int {
	for i, n := range names {
		if name == n {
			return i
		}
	}
	// Most members are not fields at all: an ASCII name can only fold to
	// a field name as long as itself (non-ASCII runes such as ſ fold to
	// ASCII letters, and are longer).
	ascii, sameLen := true, false
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for _, n := range names {
		sameLen = sameLen || len(n) == len(name)
	}
	if ascii && !sameLen {
		return -1
	}
	for i, n := range names {
		if foldEqual(name, n) {
			return i
		}
	}
	return -1
}

// foldEqual reports whether the member name key folds to the ASCII field
// name: encoding/json maps each rune to the smallest rune of its
// unicode.SimpleFold orbit (ASCII letters to upper case), so for example
// "ſ" (U+017F) matches "s" and the Kelvin sign matches "k".
func foldEqual(key, name string) bool {
	if len(key) < len(name) {
		return false
	}
	j := 0
	for i := 0; i < len(key); j++ {
		if j >= len(name) {
			return false
		}
		var f rune
		if c := key[i]; c < utf8.RuneSelf {
			f = rune(upperASCII(c))
			i++
		} else {
			rr, n := utf8.DecodeRuneInString(key[i:])
			f = foldRune(rr)
			i += n
		}
		if f != rune(upperASCII(name[j])) {
			return false
		}
	}
	return j == len(name)
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// foldRune returns the smallest rune of r's simple case folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
