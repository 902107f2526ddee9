// Package pagecursor encodes keyset positions as opaque page cursors. A
// cursor is bound to the list it came from (its scope), so a cursor of one
// list is refused by another instead of silently paging the wrong thing.
package pagecursor

import (
	"encoding/base64"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
)

// maxLen bounds what Decode accepts before doing any work.
const maxLen = 512

// Encode returns the cursor for position pos in the list named scope.
func Encode(pos, scope string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + pos))
}

// Decode returns the position of a cursor made by Encode for the same scope;
// "" for an empty cursor. Returns Invalid for a malformed cursor or one of
// another list.
func Decode(cursor, scope string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	if len(cursor) > maxLen {
		return "", domain.Errorf(domain.Invalid, "cursor is malformed")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	// The decoder skips line breaks; only the canonical form is a cursor.
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != cursor {
		return "", domain.Errorf(domain.Invalid, "cursor is malformed")
	}
	gotScope, pos, ok := strings.Cut(string(raw), "\x00")
	if !ok || pos == "" || !validPos(pos) {
		return "", domain.Errorf(domain.Invalid, "cursor is malformed")
	}
	if gotScope != scope {
		return "", domain.Errorf(domain.Invalid, "cursor belongs to another list")
	}
	return pos, nil
}

// validPos accepts id-like positions only (letters, digits, '-').
func validPos(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
