package lambdaapi

import (
	"bytes"
	"encoding/json"
)

// payloadVersion returns the string value of the top-level "version"
// member of a JSON object ("" when there is none or it is not a string),
// so Invoke decodes each event once, into the right type. Members match
// as encoding/json matches them: case-insensitively, the last one wins.
// It does not validate the rest of the document; decoding does that.
func payloadVersion(b []byte) string {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ""
	}
	version := ""
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return ""
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return ""
		}
		keyStart := i
		if i = skipString(b, i); i < 0 {
			return ""
		}
		key := b[keyStart:i]
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return ""
		}
		i = skipSpace(b, i+1)
		valStart := i
		if i = skipValue(b, i); i < 0 {
			return ""
		}
		if isVersionKey(key) {
			var v any
			if json.Unmarshal(b[valStart:i], &v) != nil {
				return ""
			}
			version, _ = v.(string)
		}
		if i = skipSpace(b, i); i >= len(b) {
			return ""
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return version
		default:
			return ""
		}
	}
}

// isVersionKey reports whether a quoted JSON key names "version".
func isVersionKey(quoted []byte) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return bytes.EqualFold(quoted[1:len(quoted)-1], []byte("version"))
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && bytes.EqualFold([]byte(k), []byte("version"))
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a
// quote), or -1 when it is unterminated.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// Literal: number, true, false or null.
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
