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
