package domain

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of user-provided text, counted in characters (runes).
const (
	MaxDisplayName   = 50
	MaxBio           = 500
	MaxPostBody      = 5000
	MaxCommentBody   = 2000
	MaxMediaPerPost  = 10
	MinPasswordLen   = 8
	MaxPasswordLen   = 256
	MaxEmailLen      = 254
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

// AllowedImageTypes is the allow-list of upload content types.
var AllowedImageTypes = map[string]bool{
	"image/jpeg": true,
	"image/png":  true,
	"image/webp": true,
	"image/gif":  true,
}

// ValidateText checks that s is valid UTF-8 without control characters
// (newlines and tabs allowed when multiline) and has between min and max
// characters after trimming. Required text (min >= 1) must also have a
// visible character: spaces and invisible format characters (ZWSP, ZWJ,
// word joiner, bidi controls, ...) alone are not text. Single-line text
// (display names) must not hold bidirectional controls, which reorder
// what is shown around them: callers strip them first (NormalizeDisplayName).
// Returns Invalid naming field.
func ValidateText(field, s string, min, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return Errorf(Invalid, "%s must be valid UTF-8", field)
	}
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	if n < min {
		if min == 1 {
			return Errorf(Invalid, "%s must not be empty", field)
		}
		return Errorf(Invalid, "%s must have at least %d characters", field, min)
	}
	if utf8.RuneCountInString(s) > max {
		return Errorf(Invalid, "%s must have at most %d characters", field, max)
	}
	hasVisible := false
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return Errorf(Invalid, "%s must not contain control characters", field)
		}
		if !multiline && isBidiControl(r) {
			return Errorf(Invalid, "%s must not contain bidirectional control characters", field)
		}
		hasVisible = hasVisible || isVisible(r)
	}
	if min >= 1 && !hasVisible {
		return Errorf(Invalid, "%s must contain a visible character", field)
	}
	return nil
}

// NormalizeDisplayName returns name without bidirectional controls
// (embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069, and
// the marks U+200E, U+200F and U+061C) and surrounding spaces. A control
// that survived into a display name would reorder the text shown after it
// (a comment, a notification), so names are stripped, not refused. Validate
// the result with ValidateText.
func NormalizeDisplayName(name string) string {
	if strings.IndexFunc(name, isBidiControl) >= 0 {
		name = strings.Map(func(r rune) rune {
			if isBidiControl(r) {
				return -1
			}
			return r
		}, name)
	}
	return strings.TrimSpace(name)
}

// isBidiControl reports the explicit directional formatting characters and
// marks of Unicode's bidirectional algorithm (UAX #9).
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069' ||
		r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// isVisible reports whether r shows something: a letter, mark, number,
// punctuation or symbol. Spaces, format characters (ZWSP, ZWJ, word joiner,
// bidi controls) and controls do not; nor do the default-ignorable letters
// and marks that render as nothing (Hangul fillers such as U+3164, variation
// selectors, U+034F) and the blank braille pattern U+2800, all used to make
// blank-looking names.
func isVisible(r rune) bool {
	if r == '\u2800' || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r) {
		return false
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}

// NormalizeEmail trims and lower-cases an email address and checks its form.
// Returns Invalid for anything that is not a plain address.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", Errorf(Invalid, "email is required")
	}
	if len(e) > MaxEmailLen {
		return "", Errorf(Invalid, "email must have at most %d characters", MaxEmailLen)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "", Errorf(Invalid, "email is not a valid address")
	}
	return e, nil
}

// ValidatePassword applies the password policy: 8 to 256 characters with at
// least one letter and one digit. Returns Invalid.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return Errorf(Invalid, "password must have at least %d characters", MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return Errorf(Invalid, "password must have at most %d characters", MaxPasswordLen)
	}
	var letter, digit bool
	for _, r := range pw {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !letter || !digit {
		return Errorf(Invalid, "password must contain at least one letter and one digit")
	}
	return nil
}

// CheckMediaIDs applies the rules of a post's media list: at most
// MaxMediaPerPost ids, none listed twice. It is the one home of these
// rules: the post use cases check them before touching storage, and the
// stores check them again inside their transactions (CreatePost,
// UpdatePost). Returns Invalid naming the rule (and the repeated id).
func CheckMediaIDs(ids []string) error {
	if len(ids) > MaxMediaPerPost {
		return Errorf(Invalid, "a post has at most %d media items, not %d", MaxMediaPerPost, len(ids))
	}
	for i, id := range ids {
		for _, prev := range ids[:i] {
			if prev == id {
				return Errorf(Invalid, "media %s is listed twice", id)
			}
		}
	}
	return nil
}

// ClampLimit returns the page limit to use: def for 0, Invalid outside 1..MaxPageLimit.
func ClampLimit(limit int) (int, error) {
	if limit == 0 {
		return DefaultPageLimit, nil
	}
	if limit < 1 || limit > MaxPageLimit {
		return 0, Errorf(Invalid, "limit must be between 1 and %d", MaxPageLimit)
	}
	return limit, nil
}

// UploadKey is the blob key of a media item's original.
func UploadKey(ownerID, mediaID string) string { return "uploads/" + ownerID + "/" + mediaID }

// VariantKey is the blob key of one variant of a media item.
func VariantKey(mediaID, variant string) string { return "variants/" + mediaID + "/" + variant }

// ParseUploadKey splits an upload key into owner and media id; ok is false
// for any other key.
func ParseUploadKey(key string) (ownerID, mediaID string, ok bool) {
	rest, found := strings.CutPrefix(key, "uploads/")
	if !found {
		return "", "", false
	}
	ownerID, mediaID, found = strings.Cut(rest, "/")
	if !found || ownerID == "" || mediaID == "" || strings.Contains(mediaID, "/") {
		return "", "", false
	}
	return ownerID, mediaID, true
}
