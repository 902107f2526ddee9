package cognitolocal

import (
	"strings"
	"testing"
)

// TestMailLog parses output as cognito-local 5.3.0 prints it (colours on).
func TestMailLog(t *testing.T) {
	out := strings.Join([]string{
		"[1795580911910] \x1b[32mINFO\x1b[39m: \x1b[36mNONE NONE Cognito Local running on http://127.0.0.1:39229\x1b[39m",
		"[1795580917868] \x1b[32mINFO\x1b[39m: \x1b[36m4d2e02b9 SignUp ╭──────╮",
		"│   Confirmation Code Delivery   │",
		"│   Username:    b20a232c-bc1d-42c4-9fe0-459f0a484b18   │",
		"│   Destination: a@example.com   │",
		"│   Code:        045213          │",
		"╰──────╯\x1b[39m \x1b[90m{\"reqId\":\"4d2e02b9\",\"target\":\"SignUp\"}\x1b[39m",
		"[1795580917869] WARN: 1958dcf5 NONE Error handling target: SignUp {\"reqId\":\"1958dcf5\"}",
		"    err: {",
		`      "code": "UsernameExistsException"`,
		"[1795580917870] INFO: 77aa02b9 ForgotPassword ╭──────╮",
		"│   Username:    b20a232c-bc1d-42c4-9fe0-459f0a484b18   │",
		"│   Destination: a@example.com   │",
		"│   Code:        999111          │",
		"╰──────╯",
		"[1795580917871] INFO: 88aa02b9 SignUp ╭──────╮",
		"│   Destination: b@example.com   │",
		"│   Code:        123123          │",
	}, "\n") + "\n"
	l := newMailLog()
	l.read(strings.NewReader(out))
	for _, tc := range []struct{ dest, target, want string }{
		{"a@example.com", TargetSignUp, "045213"},
		{"a@example.com", TargetForgotPassword, "999111"},
		{"b@example.com", TargetSignUp, "123123"},
	} {
		if got, ok := l.latest(tc.dest, tc.target); !ok || got != tc.want {
			t.Errorf("latest(%s, %s) = %q, %v; want %s", tc.dest, tc.target, got, ok, tc.want)
		}
	}
	if _, ok := l.latest("b@example.com", TargetForgotPassword); ok {
		t.Error("a reset code for b, which got none")
	}
	if !strings.Contains(l.tail(), "Code:        123123") || strings.Contains(l.tail(), "\x1b") {
		t.Errorf("tail: %q", l.tail())
	}
}
