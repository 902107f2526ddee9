package cognitoauth_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// emulatorCaps are cognito-local's gaps, each a behaviour Cognito has: no
// GlobalSignOut or AdminUserGlobalSignOut (so no global revocation, and a
// password reset keeps the refresh tokens), no password policy, no
// throttling of failed sign-ins, no ResendConfirmationCode (the adapter's
// call is checked against a scripted server in TestResendConfirmation), and
// tokens from a refresh carry the time of the refresh as `auth_time` (its
// token generator stamps auth_time = iat = now on every issue; Cognito keeps
// the sign-in's).
// Its other gap, a wrong password answered
// with InvalidPasswordException, needs no flag: SignIn reports any refused
// password as bad credentials, the same answer as for an unknown email.
var emulatorCaps = porttest.AuthCaps{
	GlobalSignOut:                  false,
	PasswordPolicy:                 false,
	WrongPasswordIsUnauthenticated: true,
	Throttling:                     false,
	ResendConfirmation:             false,
	AuthTimeKeptOnRefresh:          false,
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
