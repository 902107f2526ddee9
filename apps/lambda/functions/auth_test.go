package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/lambda/functions"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// countingVerifier counts bearer verifications, to prove authorizer claims
// are used without verifying (or fetching keys for) anything.
type countingVerifier struct {
	next  ports.TokenVerifier
	calls atomic.Int64
}

func (v *countingVerifier) Verify(ctx context.Context, token string) (domain.Principal, error) {
	v.calls.Add(1)
	return v.next.Verify(ctx, token)
}

type authFixture struct {
	app      *functions.App
	verifier *countingVerifier
}

func newAuthFixture(t *testing.T) *authFixture {
	f := &authFixture{}
	f.app = startApp(t, testConfig(t), functions.HandlerAPI,
		fx.Decorate(func(v ports.TokenVerifier) ports.TokenVerifier {
			f.verifier = &countingVerifier{next: v}
			return f.verifier
		}))
	return f
}

// account signs a user up through the Lambda app and returns its id and
// an access token.
func (f *authFixture) account(t testing.TB, email string) (userID, access, refresh string) {
	t.Helper()
	creds := map[string]string{"email": email, "password": "s3cret-pass", "displayName": "User"}
	r := invokeV2(t, f.app, jsonReq("POST", "/v1/auth/signup", creds))
	var su struct{ UserID string }
	decodeInto(t, r, &su)
	r = invokeV2(t, f.app, jsonReq("GET", "/v1/dev/mail?to="+email, nil))
	var m struct{ Messages []struct{ Code string } }
	decodeInto(t, r, &m)
	if r := invokeV2(t, f.app, jsonReq("POST", "/v1/auth/confirm", map[string]string{"email": email, "code": m.Messages[0].Code})); r.Status != 204 {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	r = invokeV2(t, f.app, jsonReq("POST", "/v1/auth/signin", map[string]string{"email": email, "password": "s3cret-pass"}))
	var tk struct{ AccessToken, RefreshToken string }
	decodeInto(t, r, &tk)
	if su.UserID == "" || tk.AccessToken == "" {
		t.Fatalf("account: %+v %+v", su, tk)
	}
	return su.UserID, tk.AccessToken, tk.RefreshToken
}

// accessClaims are what API Gateway's JWT authorizer passes for a Cognito
// access token of userID.
func accessClaims(userID string) map[string]string {
	return map[string]string{
		"sub": userID, "token_use": "access", "client_id": "cloudpost-local", "scope": "aws.cognito.signin.user.admin",
		"cognito:groups": "[admins editors]", "jti": "jti-1", "username": userID,
		"exp": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
	}
}

func meID(t *testing.T, r result) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v1/me: %d %s", r.Status, r.Body)
	}
	var me struct{ ID string }
	decodeInto(t, r, &me)
	return me.ID
}

func TestAuthorizerClaimsAreThePrincipal(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	alice, _, _ := f.account(t, "alice@example.com")
	before := f.verifier.calls.Load()

	x := jsonReq("GET", "/v1/me", nil)
	x.Claims = accessClaims(alice)
	if got := meID(t, invokeV2(t, f.app, x)); got != alice {
		t.Errorf("claims: /v1/me is %q, want %q", got, alice)
	}
	if n := f.verifier.calls.Load() - before; n != 0 {
		t.Errorf("the verifier ran %d times for requests API Gateway had authorized", n)
	}
}

func TestForgedContextHeadersAreIgnored(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	alice, _, _ := f.account(t, "alice@example.com")
	bob, _, _ := f.account(t, "bob@example.com")
	forged, _ := json.Marshal(map[string]any{"authorizer": map[string]any{
		"claims": accessClaims(alice), "jwt": map[string]any{"claims": accessClaims(alice)},
	}})
	forge := func(x exchange) exchange {
		// aws-lambda-go-api-proxy's context headers, and look-alikes.
		x.Header.Set("X-GoLambdaProxy-ApiGw-Context", string(forged))
		x.Header.Set("X-GoLambdaProxy-ApiGw-StageVars", `{"admin":"true"}`)
		x.Header.Set("X-Amzn-Request-Context", string(forged))
		x.Header.Set("X-Apigateway-Context", string(forged))
		return x
	}

	// No authorizer and no token: the forged context must not log anyone in.
	r := invokeV2(t, f.app, forge(jsonReq("GET", "/v1/me", nil)))
	if r.Status != http.StatusUnauthorized {
		t.Errorf("forged context without a token: %d %s", r.Status, r.Body)
	}
	// With a real authorizer for bob, the forged alice context changes nothing.
	x := forge(jsonReq("GET", "/v1/me", nil))
	x.Claims = accessClaims(bob)
	if got := meID(t, invokeV2(t, f.app, x)); got != bob {
		t.Errorf("forged context overrode the authorizer: /v1/me is %q, want bob %q", got, bob)
	}
}

func TestUnusableClaimsFallBackToTheBearerToken(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	alice, access, _ := f.account(t, "alice@example.com")
	idClaims := accessClaims(alice)
	idClaims["token_use"] = "id"
	idClaims["aud"] = "cloudpost-local"

	// An id token passed by the authorizer is refused as the server refuses it.
	x := jsonReq("GET", "/v1/me", nil)
	x.Claims = idClaims
	if r := invokeV2(t, f.app, x); r.Status != http.StatusUnauthorized {
		t.Errorf("id-token claims without a bearer token: %d %s", r.Status, r.Body)
	}
	// ... while a valid access token in the header still works.
	x = jsonReq("GET", "/v1/me", nil, "Authorization", "Bearer "+access)
	x.Claims = idClaims
	if got := meID(t, invokeV2(t, f.app, x)); got != alice {
		t.Errorf("bearer fallback: %q", got)
	}
}

func TestSignOutWithAuthorizerUsesTheRawToken(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	alice, access, refresh := f.account(t, "alice@example.com")
	x := jsonReq("POST", "/v1/auth/signout", map[string]string{"refreshToken": refresh}, "Authorization", "Bearer "+access)
	x.Claims = accessClaims(alice)
	if r := invokeV2(t, f.app, x); r.Status != http.StatusNoContent {
		t.Fatalf("signout: %d %s", r.Status, r.Body)
	}
	if r := invokeV2(t, f.app, jsonReq("POST", "/v1/auth/refresh", map[string]string{"refreshToken": refresh})); r.Status != http.StatusUnauthorized {
		t.Errorf("refresh after sign-out: %d %s", r.Status, r.Body)
	}
}

// TestRevocationHoldsWithAuthorizerClaims: a session ended by sign-out is
// refused on Lambda too, where API Gateway's authorizer (which knows
// nothing of revocations) has already accepted the token: its claims'
// auth_time is older than the sign-out.
func TestRevocationHoldsWithAuthorizerClaims(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	alice, access, _ := f.account(t, "alice@example.com")
	claims := accessClaims(alice)
	claims["auth_time"] = strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	x := jsonReq("GET", "/v1/me", nil)
	x.Claims = claims
	if got := meID(t, invokeV2(t, f.app, x)); got != alice {
		t.Fatalf("before sign-out: %q", got)
	}
	if r := invokeV2(t, f.app, jsonReq("POST", "/v1/auth/signout", nil, "Authorization", "Bearer "+access)); r.Status != http.StatusNoContent {
		t.Fatalf("signout: %d %s", r.Status, r.Body)
	}
	x = jsonReq("POST", "/v1/uploads", map[string]any{"purpose": "post", "contentType": "image/png", "size": 10})
	x.Claims = claims
	if r := invokeV2(t, f.app, x); r.Status != http.StatusUnauthorized {
		t.Errorf("upload with the old session's claims: %d %s", r.Status, r.Body)
	}
}

// TestLimitsCountAPIGatewaysSourceIP: on Lambda the client address is API
// Gateway's sourceIp; X-Forwarded-For is ignored even with trusted proxies
// configured (they mean nothing behind API Gateway).
func TestLimitsCountAPIGatewaysSourceIP(t *testing.T) {
	t.Parallel()
	app := startApp(t, testConfig(t, "CLOUDPOST_LIMIT_SIGNUP_ADDR=2/1h", "CLOUDPOST_TRUSTED_PROXIES=0.0.0.0/0"), functions.HandlerAPI)
	signUp := func(i int, source string) result {
		x := jsonReq("POST", "/v1/auth/signup", map[string]string{
			"email": "u" + strconv.Itoa(i) + "@example.com", "password": "s3cret-pass", "displayName": "U",
		}, "X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
		x.SourceIP = source
		return invokeV2(t, app, x)
	}
	for i := range 2 {
		if r := signUp(i, "203.0.113.50"); r.Status != http.StatusCreated {
			t.Fatalf("sign-up %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := signUp(2, "203.0.113.50")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Policy") == "" {
		t.Fatalf("third sign-up from one source: %d %v %s", r.Status, r.Header, r.Body)
	}
	if r := signUp(3, "203.0.113.51"); r.Status != http.StatusCreated {
		t.Fatalf("another source: %d %s", r.Status, r.Body)
	}
}
