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
// characters after trimming. Returns Invalid naming field.
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
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return Errorf(Invalid, "%s must not contain control characters", field)
		}
	}
	return nil
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
