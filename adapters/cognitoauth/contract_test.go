package cognitoauth_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// emulatorCaps are cognito-local's gaps, each a behaviour Cognito has:
// no GlobalSignOut (so no global revocation, and ConfirmForgotPassword
// keeps the refresh tokens), no password policy, a wrong password answers
// InvalidPasswordException rather than NotAuthorizedException, no
// throttling of failed sign-ins.
var emulatorCaps = porttest.AuthCaps{
	GlobalSignOut:                  false,
	PasswordPolicy:                 false,
	WrongPasswordIsUnauthenticated: false,
	Throttling:                     false,
}

// newEmulatorProvider returns a provider over a new pool of the emulator.
func newEmulatorProvider(t testing.TB, secret bool) (*emulator, *cognitoauth.Provider) {
	t.Helper()
	e := needEmulator(t)
	cfg := e.pool(t, secret)
	p, err := cognitoauth.New(cfg, cognitoauth.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e, p
}

// TestContract runs the identity port's contract suite against cognito-local.
func TestContract(t *testing.T) {
	porttest.RunAuth(t, func(t *testing.T) porttest.AuthHarness {
		e, p := newEmulatorProvider(t, false)
		return porttest.AuthHarness{Identity: p, Verifier: p.Verifier(), Code: e.code, Caps: emulatorCaps}
	})
}
