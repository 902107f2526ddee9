package cognitoauth_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// userToken is an access token of the fake pool for a user whose Cognito
// username differs from its sub (as for a pool without email usernames).
func (fp *fakePool) userToken(t *testing.T, sub, username string) string {
	t.Helper()
	now := time.Now()
	return fp.sign(t, jwt.MapClaims{
		"iss": fp.cfg.IssuerURL(), "sub": sub, "username": username, "client_id": fp.cfg.ClientID, "token_use": "access",
		"auth_time": now.Unix(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
	})
}

// calledOps returns the Cognito operations called since the last clear (the
// JWKS fetches left out).
func (fp *fakePool) calledOps() []string {
	var ops []string
	for _, c := range fp.recorded() {
		if c.op != "" {
			ops = append(ops, c.op)
		}
	}
	return ops
}

// TestSignOutWithGlobalSignOut: where Cognito has GlobalSignOut (AWS), it
// revokes all the caller's refresh tokens, so SignOut never redeems or
// revokes the presented refresh token itself: another user's token cannot
// be touched, and the answer does not depend on it.
func TestSignOutWithGlobalSignOut(t *testing.T) {
	fp := newFakePool(t, cognitoauth.Options{})
	fp.answer("GlobalSignOut", map[string]any{})
	ctx := t.Context()
	for _, refresh := range []string{"", "victims-refresh-token", "not-a-token"} {
		fp.clear()
		if err := fp.p.SignOut(ctx, fp.userToken(t, "bob-sub", "bob"), refresh); err != nil {
			t.Fatalf("SignOut(%q): %v", refresh, err)
		}
		if ops := fp.calledOps(); len(ops) != 1 || ops[0] != "GlobalSignOut" {
			t.Fatalf("SignOut(%q) called %v, want only GlobalSignOut", refresh, ops)
		}
	}
}

// TestSignOutErrors: an access token that fails verification is refused
// before any Cognito call; GlobalSignOut's refusal of a token Cognito
// revoked is Unauthenticated; throttling and outages are reported.
func TestSignOutErrors(t *testing.T) {
	fp := newFakePool(t, cognitoauth.Options{})
	ctx := t.Context()
	bob := fp.userToken(t, "bob-sub", "bob")
	foreign := newFakePool(t, cognitoauth.Options{}).userToken(t, "bob-sub", "bob") // same key, other issuer
	for _, bad := range []string{"", "access-token", "a.b.c", foreign} {
		fp.clear()
		if err := fp.p.SignOut(ctx, bad, "refresh"); domain.ErrorCode(err) != domain.Unauthenticated {
			t.Errorf("SignOut(%.20q) = %v, want Unauthenticated", bad, err)
		}
		if ops := fp.calledOps(); len(ops) != 0 {
			t.Errorf("SignOut(%.20q) called %v", bad, ops)
		}
	}
	for _, tc := range []struct {
		status    int
		exception string
		want      domain.Code
	}{
		{400, "NotAuthorizedException", domain.Unauthenticated},
		{400, "TooManyRequestsException", domain.TooManyRequests},
		{500, "InternalErrorException", domain.Unavailable},
	} {
		fp.answer("GlobalSignOut", fakeErr{tc.status, tc.exception})
		if err := fp.p.SignOut(ctx, bob, ""); domain.ErrorCode(err) != tc.want {
			t.Errorf("GlobalSignOut %s: SignOut = %v, want %s", tc.exception, err, tc.want)
		}
	}
}

// TestSignOutEmulatorFallback: without GlobalSignOut (cognito-local),
// SignOut redeems the presented refresh token (with the SECRET_HASH of the
// caller's username when the client has a secret), verifies the access
// token that comes back and revokes the refresh token only when its sub is
// the caller's; another user's token, a worthless one and a redeemed token
// whose access token fails verification all get the same answer and no
// RevokeToken.
func TestSignOutEmulatorFallback(t *testing.T) {
	const secret = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"
	fp := newFakePool(t, cognitoauth.Options{})
	cfg := fp.cfg
	cfg.ClientSecret = secret
	p, err := cognitoauth.New(cfg, cognitoauth.Options{ClientOptions: []func(*cip.Options){func(o *cip.Options) { o.RetryMaxAttempts = 1 }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fp.answer("GlobalSignOut", fakeErr{500, "CognitoLocal#Unsupported"})
	fp.answer("RevokeToken", map[string]any{})
	bob := fp.userToken(t, "bob-sub", "bob-username")
	redeemsTo := func(access string) {
		fp.answer("InitiateAuth", map[string]any{"AuthenticationResult": map[string]any{"AccessToken": access, "IdToken": "x.y.z"}})
	}

	// Bob's own refresh token: revoked.
	redeemsTo(fp.userToken(t, "bob-sub", "bob-username"))
	fp.clear()
	if err := p.SignOut(ctx, bob, "bobs-refresh-token"); err != nil {
		t.Fatalf("SignOut with the caller's refresh token: %v", err)
	}
	var initiate, revoke map[string]any
	for _, c := range fp.recorded() {
		switch c.op {
		case "InitiateAuth":
			initiate = c.body
		case "RevokeToken":
			revoke = c.body
		}
	}
	params, _ := initiate["AuthParameters"].(map[string]any)
	if initiate["AuthFlow"] != "REFRESH_TOKEN_AUTH" || params["REFRESH_TOKEN"] != "bobs-refresh-token" ||
		params["SECRET_HASH"] != cognitoauth.SecretHash("bob-username", cfg.ClientID, secret) {
		t.Fatalf("InitiateAuth = %v", initiate)
	}
	if revoke["Token"] != "bobs-refresh-token" || revoke["ClientId"] != cfg.ClientID || revoke["ClientSecret"] != secret {
		t.Fatalf("RevokeToken = %v", revoke)
	}

	// Tokens that are not proved to be Bob's: left alone, one answer.
	fp.clear()
	forged := newFakePool(t, cognitoauth.Options{}).userToken(t, "bob-sub", "bob-username") // another issuer
	var answers []error
	for _, step := range []func(){
		func() { redeemsTo(fp.userToken(t, "ada-sub", "ada-username")) },             // Ada's token
		func() { fp.answer("InitiateAuth", fakeErr{400, "NotAuthorizedException"}) }, // worthless
		func() { redeemsTo(forged) },                                                 // an access token the pool did not sign
	} {
		step()
		err := p.SignOut(ctx, bob, "someone-elses-refresh-token")
		answers = append(answers, err)
	}
	for _, op := range fp.calledOps() {
		if op == "RevokeToken" {
			t.Fatalf("a refresh token not proved to be the caller's was revoked: %v", fp.calledOps())
		}
	}
	// Whoever owns the token, the caller is signed out (the app's stored
	// revocation ends the access tokens on the emulator): one answer.
	for i, err := range answers {
		if err != nil {
			t.Fatalf("answer %d = %v, want nil like every other", i, err)
		}
	}
	if err := p.SignOut(ctx, bob, ""); err != nil {
		t.Fatalf("SignOut without a refresh token = %v", err)
	}

	// Throttling while redeeming is reported (it says nothing of the token).
	fp.answer("InitiateAuth", fakeErr{400, "TooManyRequestsException"})
	if err := p.SignOut(ctx, bob, "bobs-refresh-token"); domain.ErrorCode(err) != domain.TooManyRequests {
		t.Fatalf("throttled redeem: %v", err)
	}
}

// refreshWorks reports whether the emulator still redeems refreshToken
// (REFRESH_TOKEN_AUTH; the adapter's Refresh of a client with a secret uses
// GetTokensFromRefreshToken, which cognito-local lacks).
func (e *emulator) refreshWorks(t *testing.T, clientID, refreshToken string) bool {
	t.Helper()
	_, err := e.Client().InitiateAuth(t.Context(), &cip.InitiateAuthInput{
		ClientId:       aws.String(clientID),
		AuthFlow:       types.AuthFlowTypeRefreshTokenAuth,
		AuthParameters: map[string]string{"REFRESH_TOKEN": refreshToken},
	})
	var ae smithy.APIError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ae) && ae.ErrorCode() == "NotAuthorizedException":
		return false
	}
	t.Fatalf("InitiateAuth REFRESH_TOKEN_AUTH: %v", err)
	return false
}

// TestEmulatorSignOutOwnership runs the fallback against cognito-local with
// a client secret: Bob's sign-out with Ada's refresh token leaves it
// working and answers as for a worthless token; with his own it revokes
// it. (The public client is covered by the contract suite.)
func TestEmulatorSignOutOwnership(t *testing.T) {
	e, p := newEmulatorProvider(t, true)
	ctx := t.Context()
	signIn := func() domain.Tokens {
		t.Helper()
		email := "owner-" + porttest.NewID() + "@example.com"
		if _, err := p.SignUp(ctx, email, "correct-horse-9", "U"); err != nil {
			t.Fatal(err)
		}
		if err := p.ConfirmSignUp(ctx, email, e.code(t, email, porttest.AuthCodeSignUp)); err != nil {
			t.Fatal(err)
		}
		tok, err := p.SignIn(ctx, email, "correct-horse-9")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ada, bob := signIn(), signIn()
	client := p.Config().ClientID

	victimErr := p.SignOut(ctx, bob.AccessToken, ada.RefreshToken)
	garbageErr := p.SignOut(ctx, bob.AccessToken, "not-a-refresh-token")
	if domain.ErrorCode(victimErr) != domain.ErrorCode(garbageErr) || domain.ErrorMessage(victimErr) != domain.ErrorMessage(garbageErr) {
		t.Fatalf("another user's refresh token: %v; a worthless one: %v", victimErr, garbageErr)
	}
	if !e.refreshWorks(t, client, ada.RefreshToken) {
		t.Fatal("Bob's sign-out revoked Ada's refresh token")
	}
	if err := p.SignOut(ctx, bob.AccessToken, bob.RefreshToken); err != nil {
		t.Fatalf("SignOut with the caller's own refresh token: %v", err)
	}
	if e.refreshWorks(t, client, bob.RefreshToken) {
		t.Fatal("Bob's refresh token survived his sign-out")
	}
	if !e.refreshWorks(t, client, ada.RefreshToken) {
		t.Fatal("Ada's refresh token was revoked")
	}
}
