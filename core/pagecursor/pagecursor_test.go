package pagecursor

import (
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

func TestRoundTripAndScope(t *testing.T) {
	c := Encode("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "posts:")
	pos, err := Decode(c, "posts:")
	if err != nil || pos != "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" {
		t.Fatalf("Decode = %q, %v", pos, err)
	}
	if _, err := Decode(c, "posts:someone"); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("foreign scope accepted: %v", err)
	}
	for _, bad := range []string{"!!!", "bm9wZQ", Encode("a b", "posts:"), Encode("", "posts:")} {
		if _, err := Decode(bad, "posts:"); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("Decode(%q) err = %v", bad, err)
		}
	}
	if pos, err := Decode("", "x"); pos != "" || err != nil {
		t.Errorf("empty cursor: %q %v", pos, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode("abc", "posts:"))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := Decode(s, "posts:")
		if err == nil && s != "" && Encode(pos, "posts:") != s {
			t.Errorf("accepted %q that does not round trip", s)
		}
	})
}
