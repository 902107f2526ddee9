package cognitoauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestSecretHashVector checks SecretHash against values computed
// independently:
//
//	printf '%s' 'alice@example.com1example23clientid' | openssl dgst -sha256 -hmac 'k8s9secretvalue0' -binary | base64
func TestSecretHashVector(t *testing.T) {
	cases := []struct{ user, client, secret, want string }{
		{"alice@example.com", "1example23clientid", "k8s9secretvalue0", "J6si9YyATLj9e6ghYP1rTXG823JB6JHE9xZt4QXPGX8="},
		// RFC 4231 test case 2 (key "Jefe"): the message is split between
		// username and client id, which must simply be concatenated.
		{"what do ya want ", "for nothing?", "Jefe", "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="},
	}
	for _, tc := range cases {
		if got := cognitoauth.SecretHash(tc.user, tc.client, tc.secret); got != tc.want {
			t.Errorf("SecretHash(%q, %q, %q) = %s, want %s", tc.user, tc.client, tc.secret, got, tc.want)
		}
	}
}

// TestSecretHashSent checks that a client with a secret sends the
// SECRET_HASH (or the secret itself where Cognito wants that) on every call,
// and a client without one sends neither.
func TestSecretHashSent(t *testing.T) {
	const secret = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"
	const email, pw = "ada@example.com", "correct-horse-9"
	f := newFakeCognito(t)
	f.set(func(op string, _ map[string]any) (int, http.Header, any) {
		switch op {
		case "SignUp":
			return 200, nil, map[string]any{"UserSub": "0f6c2d1e-1111-4c4c-9a9a-123456789abc", "UserConfirmed": false}
		case "InitiateAuth", "GetTokensFromRefreshToken":
			return 200, nil, map[string]any{"AuthenticationResult": map[string]any{
				"AccessToken": "a.b.c", "IdToken": "d.e.f", "RefreshToken": "r", "ExpiresIn": 3600,
			}}
		case "AdminGetUser":
			return 200, nil, map[string]any{"Username": "0f6c2d1e-1111-4c4c-9a9a-123456789abc", "UserAttributes": []any{
				map[string]any{"Name": "sub", "Value": "0f6c2d1e-1111-4c4c-9a9a-123456789abc"},
			}}
		}
		return 200, nil, map[string]any{}
	})
	ctx := context.Background()
	run := func(p *cognitoauth.Provider) {
		t.Helper()
		if _, err := p.SignUp(ctx, email, pw, "Ada"); err != nil {
			t.Fatal(err)
		}
		if err := p.ConfirmSignUp(ctx, email, "123456"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.SignIn(ctx, email, pw); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Refresh(ctx, "refresh-token"); err != nil {
			t.Fatal(err)
		}
		if err := p.ForgotPassword(ctx, email); err != nil {
			t.Fatal(err)
		}
		if _, err := p.ConfirmForgotPassword(ctx, email, "123456", pw); err != nil {
			t.Fatal(err)
		}
		// A malformed access token is refused before any call (the secret
		// in the sign-out calls is checked in TestSignOutEmulatorFallback).
		if err := p.SignOut(ctx, "a.b.c", "refresh-token"); domain.ErrorCode(err) != domain.Unauthenticated {
			t.Fatalf("SignOut: %v", err)
		}
	}

	run(fakeProvider(t, f, secret))
	want := cognitoauth.SecretHash(email, "fakeclient1", secret)
	seen := map[string]bool{}
	for _, c := range f.recorded() {
		seen[c.op] = true
		switch c.op {
		case "SignUp", "ConfirmSignUp", "ForgotPassword", "ConfirmForgotPassword":
			if c.body["SecretHash"] != want {
				t.Errorf("%s SecretHash = %v, want %s", c.op, c.body["SecretHash"], want)
			}
		case "InitiateAuth":
			params, _ := c.body["AuthParameters"].(map[string]any)
			if params["SECRET_HASH"] != want || c.body["AuthFlow"] != "USER_PASSWORD_AUTH" {
				t.Errorf("InitiateAuth = %v", c.body)
			}
		case "GetTokensFromRefreshToken":
			// These take the secret itself: a refresh token does not say
			// which username a SECRET_HASH would need.
			if c.body["ClientSecret"] != secret {
				t.Errorf("%s ClientSecret = %v", c.op, c.body["ClientSecret"])
			}
		}
	}
	for _, op := range []string{"SignUp", "ConfirmSignUp", "InitiateAuth", "GetTokensFromRefreshToken", "ForgotPassword", "ConfirmForgotPassword", "AdminUserGlobalSignOut", "AdminGetUser"} {
		if !seen[op] {
			t.Errorf("no %s call", op)
		}
	}

	f.set(f.answer)
	run(fakeProvider(t, f, ""))
	for _, c := range f.recorded() {
		params, _ := c.body["AuthParameters"].(map[string]any)
		if _, ok := c.body["SecretHash"]; ok || params["SECRET_HASH"] != nil || c.body["ClientSecret"] != nil || c.op == "GetTokensFromRefreshToken" {
			t.Errorf("public client sent a secret: %s %v", c.op, c.body)
		}
	}
}

// TestEmulatorWithSecret runs the flows that cognito-local supports with an
// app client that has a secret (cognito-local accepts the SECRET_HASH
// without checking it; TestSecretHashSent checks the values).
func TestEmulatorWithSecret(t *testing.T) {
	e, p := newEmulatorProvider(t, true)
	if p.Config().ClientSecret == "" {
		t.Fatal("the emulator made no client secret")
	}
	ctx := t.Context()
	email := "secret-" + porttest.NewID() + "@example.com"
	res, err := p.SignUp(ctx, email, "correct-horse-9", "Sec Ret")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ConfirmSignUp(ctx, email, e.code(t, email, porttest.AuthCodeSignUp)); err != nil {
		t.Fatal(err)
	}
	tok, err := p.SignIn(ctx, email, "correct-horse-9")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := p.Verifier().Verify(ctx, tok.AccessToken)
	if err != nil || pr.UserID != res.UserID || pr.ClientID != p.Config().ClientID {
		t.Fatalf("Verify = %+v, %v", pr, err)
	}
	if err := p.SignOut(ctx, tok.AccessToken, tok.RefreshToken); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
}
