package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	good := map[string]string{" Alice@Example.COM ": "alice@example.com", "a.b+c@x.io": "a.b+c@x.io"}
	for in, want := range good {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "alice", "alice@", "Alice <a@x.io>", "a@localhost", strings.Repeat("a", 250) + "@x.io"} {
		if _, err := NormalizeEmail(in); ErrorCode(err) != Invalid {
			t.Errorf("NormalizeEmail(%q) err = %v, want Invalid", in, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, pw := range []string{"short1", "allletters", "12345678", strings.Repeat("a1", 200)} {
		if ErrorCode(ValidatePassword(pw)) != Invalid {
			t.Errorf("%q accepted", pw)
		}
	}
	if err := ValidatePassword("correct horse 1"); err != nil {
		t.Error(err)
	}
}

func TestValidateText(t *testing.T) {
	if err := ValidateText("body", "héllo 👋\nline", 1, 12, true); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		s         string
		multiline bool
	}{{"", false}, {"   ", false}, {"a\nb", false}, {"a\x00", true}, {"\xff", true}, {strings.Repeat("é", 12), true}} {
		if ErrorCode(ValidateText("body", tc.s, 1, 11, tc.multiline)) != Invalid {
			t.Errorf("%q accepted", tc.s)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	cause := errors.New("db exploded")
	err := Wrap(cause, Internal, "saving post")
	if ErrorCode(err) != Internal || ErrorMessage(err) != "internal error" || !errors.Is(err, cause) {
		t.Errorf("Wrap: %v", err)
	}
	if ErrorCode(errors.New("x")) != Internal || ErrorCode(nil) != "" {
		t.Error("ErrorCode of plain errors")
	}
	if ErrorMessage(Errorf(NotFound, "post %s not found", "p1")) != "post p1 not found" {
		t.Error("ErrorMessage")
	}
}

func TestUploadKeys(t *testing.T) {
	owner, id, ok := ParseUploadKey(UploadKey("u1", "m1"))
	if !ok || owner != "u1" || id != "m1" {
		t.Errorf("round trip: %q %q %v", owner, id, ok)
	}
	for _, k := range []string{"variants/m1/thumb", "uploads/u1", "uploads//m1", "uploads/u1/m1/x"} {
		if _, _, ok := ParseUploadKey(k); ok {
			t.Errorf("%q accepted", k)
		}
	}
}

func TestValidateTextNeedsAVisibleCharacter(t *testing.T) {
	invisible := []string{
		"\u200d\u200b\u2060",   // ZWJ, ZWSP, word joiner
		"\u202e",               // right-to-left override
		" \u2066\u2069 ",       // an empty isolate between spaces
		"\u3164\u3164",         // Hangul fillers (letters that render as nothing)
		"\ufe0f",               // a lone variation selector (a mark)
		"\u2800",               // blank braille pattern
		"\u00a0\u2003\u3000\n", // no-break, em and ideographic spaces
		"\u00ad",               // soft hyphen
		"\U000e0041",           // a tag character
	}
	for _, s := range invisible {
		for _, multiline := range []bool{true, false} {
			err := ValidateText("body", s, 1, 100, multiline)
			if ErrorCode(err) != Invalid || !strings.Contains(ErrorMessage(err), "body") {
				t.Errorf("ValidateText(%q, multiline %v) = %v, want Invalid naming the field", s, multiline, err)
			}
		}
		// Optional text (a bio) may be blank.
		if err := ValidateText("bio", strings.ReplaceAll(s, "\n", ""), 0, 100, true); err != nil {
			t.Errorf("optional %q: %v", s, err)
		}
	}
	if msg := ErrorMessage(ValidateText("body", "\u200b", 1, 10, true)); msg != "body must contain a visible character" {
		t.Errorf("message %q", msg)
	}
	visible := []string{
		"a", "é", "\u0301", "5", "!", "€", "👍", "👨\u200d👩\u200d👧", "\u200b.", "☃\ufe0f",
		"שלום", "مرحبا", "\u202bשלום\u202c", // a bidi embedding is fine in multiline text (posts)
	}
	for _, s := range visible {
		if err := ValidateText("body", s, 1, 100, true); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
}

func TestValidateTextRefusesBidiControlsInSingleLineText(t *testing.T) {
	for _, r := range []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c} {
		s := "Bob" + string(r) + "xyz"
		err := ValidateText("displayName", s, 1, 50, false)
		if ErrorCode(err) != Invalid || !strings.Contains(ErrorMessage(err), "bidirectional") {
			t.Errorf("%q: %v", s, err)
		}
		if got := NormalizeDisplayName(" " + s + "\u202c "); got != "Bobxyz" {
			t.Errorf("NormalizeDisplayName(%q) = %q", s, got)
		}
	}
	// Format characters that are not bidi controls stay (emoji sequences).
	if got := NormalizeDisplayName("  Ann 👩\u200d💻 "); got != "Ann 👩\u200d💻" {
		t.Errorf("NormalizeDisplayName kept %q", got)
	}
	// A name of controls alone normalises to empty, which is refused.
	if err := ValidateText("displayName", NormalizeDisplayName("\u202e\u2066"), 1, 50, false); ErrorCode(err) != Invalid {
		t.Errorf("empty normalised name: %v", err)
	}
}

func TestCheckMediaIDs(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "m" + string(rune('a'+i))
		}
		return out
	}
	for _, ok := range [][]string{nil, {}, {"a"}, ids(MaxMediaPerPost)} {
		if err := CheckMediaIDs(ok); err != nil {
			t.Errorf("CheckMediaIDs(%v) = %v, want nil", ok, err)
		}
	}
	for _, tc := range []struct {
		ids  []string
		want string
	}{
		{[]string{"a", "b", "a"}, "media a is listed twice"},
		{[]string{"a", "a"}, "media a is listed twice"},
		{ids(MaxMediaPerPost + 1), "at most 10 media items"},
	} {
		err := CheckMediaIDs(tc.ids)
		if ErrorCode(err) != Invalid || !strings.Contains(ErrorMessage(err), tc.want) {
			t.Errorf("CheckMediaIDs(%v) = %v, want Invalid saying %q", tc.ids, err, tc.want)
		}
	}
}
