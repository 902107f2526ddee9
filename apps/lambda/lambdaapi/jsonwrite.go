package lambdaapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// The proxy responses are written by hand: what json.Marshal makes of the
// events response types, strings escaped byte for byte alike, except that
// header names come in the header map's order rather than sorted (JSON
// gives member order no meaning, and sorting cost a warm invocation
// ~0.5 µs). TestReplyJSON, FuzzReplyJSON and FuzzAppendJSONString hold it
// to that; there is no reflection and no intermediate copy of the body.

// htmlSafe marks the ASCII bytes encoding/json writes as they are when it
// escapes HTML (as json.Marshal does): printable, not '"', '\\', '<', '>'
// or '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string exactly as json.Marshal
// writes it: \b \f \n \r \t and other control bytes, <, > and & escaped,
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		n := min(len(s)-i, utf8.UTFMax)
		r, size := utf8.DecodeRune([]byte(s[i : i+n]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// reply is a finished response: what the app wrote, or a problem.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// textBody reports whether the body goes out as text (a textual content
// type and valid UTF-8) rather than base64.
func (r *reply) textBody() bool {
	return textual(r.header.Get("Content-Type")) && utf8.Valid(r.body)
}

// sizeHint estimates the length of the response's JSON.
func (r *reply) sizeHint() int {
	n := 128 + len(r.body) + len(r.body)/3
	for k, vs := range r.header {
		n += len(k) + 8
		for _, v := range vs {
			n += len(v) + 4
		}
	}
	return n
}

func (r *reply) appendBody(dst []byte) []byte {
	dst = append(dst, `,"body":`...)
	if len(r.body) == 0 {
		return append(dst, `""`...)
	}
	if r.textBody() {
		return appendJSONString(dst, r.body)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, r.body)
	return append(dst, `","isBase64Encoded":true`...)
}

// appendV1 appends the JSON of r.v1().
func (r *reply) appendV1(dst []byte) []byte {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(r.status), 10)
	dst = append(dst, `,"headers":null,"multiValueHeaders":`...)
	if r.header == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '{')
		first := true
		for k, vs := range r.header {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			if vs == nil {
				dst = append(dst, "null"...)
				continue
			}
			dst = append(dst, '[')
			for j, v := range vs {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, v)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	dst = r.appendBody(dst)
	return append(dst, '}')
}

// appendV2 appends the JSON of r.v2().
func (r *reply) appendV2(dst []byte) []byte {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(r.status), 10)
	dst = append(dst, `,"headers":{`...)
	first := true
	for k, vs := range r.header {
		if k == "Set-Cookie" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		if len(vs) == 1 {
			dst = appendJSONString(dst, vs[0])
		} else {
			dst = appendJSONString(dst, joinComma(vs))
		}
	}
	dst = append(dst, `},"multiValueHeaders":null`...)
	dst = r.appendBody(dst)
	dst = append(dst, `,"cookies":`...)
	if cookies := r.header["Set-Cookie"]; len(cookies) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, c := range cookies {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, c)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func joinComma(vs []string) string {
	n := 0
	for _, v := range vs {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return string(b)
}
