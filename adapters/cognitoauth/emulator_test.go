package cognitoauth_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/adapters/cognitoauth/cognitolocal"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	cognitolocal.StopShared()
	os.Exit(code)
}

// emulator wraps the shared cognito-local with test helpers.
type emulator struct{ *cognitolocal.Server }

// needEmulator returns the shared cognito-local, starting it on first use;
// without it the test fails when CI=true and is skipped otherwise.
func needEmulator(t testing.TB) *emulator {
	t.Helper()
	return &emulator{cognitolocal.Shared(t)}
}

// pool creates a pool and app client and returns their configuration.
func (e *emulator) pool(t testing.TB, secret bool) cognitoauth.Config {
	t.Helper()
	cfg, err := e.CreatePool(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// code is the harness's Code: the latest code of kind mailed to email.
func (e *emulator) code(t *testing.T, email, kind string) string {
	t.Helper()
	target := map[string]string{porttest.AuthCodeSignUp: cognitolocal.TargetSignUp, porttest.AuthCodeReset: cognitolocal.TargetForgotPassword}[kind]
	if target == "" {
		t.Fatalf("unknown code kind %q", kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.Code(ctx, email, target)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
