package cognitoauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

// TestGetIdentityBySub: a user whose username is not its sub (a social
// sign-in, "google_123") is found through ListUsers with an exact sub filter.
func TestGetIdentityBySub(t *testing.T) {
	const sub = "0f6c2d1e-1111-4c4c-9a9a-123456789abc"
	f := newFakeCognito(t)
	p := fakeProvider(t, f, "")
	f.set(func(op string, body map[string]any) (int, http.Header, any) {
		switch op {
		case "AdminGetUser":
			return 400, nil, map[string]any{"__type": "UserNotFoundException", "message": "User does not exist."}
		case "ListUsers":
			if body["Filter"] != `sub = "`+sub+`"` || body["UserPoolId"] != "eu-west-1_Fake123" {
				return 400, nil, map[string]any{"__type": "InvalidParameterException", "message": "bad filter"}
			}
			return 200, nil, map[string]any{"Users": []any{map[string]any{
				"Username": "google_123", "UserStatus": "EXTERNAL_PROVIDER",
				"Attributes": []any{
					map[string]any{"Name": "sub", "Value": sub},
					map[string]any{"Name": "email", "Value": "ada@example.com"},
					map[string]any{"Name": "name", "Value": "Ada"},
				},
			}}}
		case "AdminDeleteUser":
			if body["Username"] != "google_123" {
				return 400, nil, map[string]any{"__type": "UserNotFoundException", "message": "no"}
			}
		}
		return 200, nil, map[string]any{}
	})
	id, err := p.GetIdentity(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != sub || id.Email != "ada@example.com" || id.DisplayName != "Ada" || !id.Confirmed {
		t.Fatalf("GetIdentity = %+v", id)
	}
	if err := p.DeleteIdentity(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	calls := f.recorded()
	if last := calls[len(calls)-1]; last.op != "AdminDeleteUser" || last.body["Username"] != "google_123" {
		t.Fatalf("delete call: %+v", last)
	}

	// Ids that cannot be a sub never reach a filter.
	f.set(nil)
	for _, bad := range []string{"", `x" or sub ^= "`, "a/b", "ada@example.com"} {
		if _, err := p.GetIdentity(context.Background(), bad); domain.ErrorCode(err) != domain.NotFound {
			t.Errorf("GetIdentity(%q) = %v, want NotFound", bad, err)
		}
	}
	if n := len(f.recorded()); n != 0 {
		t.Fatalf("%d calls for malformed ids", n)
	}
}

// TestResetSignsOut: after a password reset the account's sessions end and
// the account's sub is looked up by the email and returned; a failure to
// end the sessions or to find the user is reported, not hidden.
func TestResetSignsOut(t *testing.T) {
	const sub = "0f6c2d1e-1111-4c4c-9a9a-123456789abc"
	f := newFakeCognito(t)
	p := fakeProvider(t, f, "")
	var signOutErr, getUserErr string
	f.set(func(op string, body map[string]any) (int, http.Header, any) {
		switch op {
		case "AdminUserGlobalSignOut":
			if body["Username"] != "ada@example.com" || body["UserPoolId"] != "eu-west-1_Fake123" {
				return 400, nil, map[string]any{"__type": "UserNotFoundException"}
			}
			if signOutErr != "" {
				return 400, nil, map[string]any{"__type": signOutErr}
			}
		case "AdminGetUser":
			if body["Username"] != "ada@example.com" || body["UserPoolId"] != "eu-west-1_Fake123" {
				return 400, nil, map[string]any{"__type": "UserNotFoundException"}
			}
			if getUserErr != "" {
				return 400, nil, map[string]any{"__type": getUserErr}
			}
			return 200, nil, map[string]any{"Username": sub, "UserStatus": "CONFIRMED", "UserAttributes": []any{
				map[string]any{"Name": "email", "Value": "ada@example.com"},
				map[string]any{"Name": "sub", "Value": sub},
			}}
		}
		return 200, nil, map[string]any{}
	})
	ctx := context.Background()
	id, err := p.ConfirmForgotPassword(ctx, "ada@example.com", "123456", "correct-horse-9")
	if err != nil || id != sub {
		t.Fatalf("ConfirmForgotPassword = %q, %v; want %q", id, err, sub)
	}
	calls := f.recorded()
	if len(calls) != 3 || calls[0].op != "ConfirmForgotPassword" || calls[1].op != "AdminUserGlobalSignOut" || calls[2].op != "AdminGetUser" {
		t.Fatalf("calls %+v", calls)
	}
	for _, tc := range []struct {
		signOut, getUser string
		want             domain.Code
	}{
		{signOut: "TooManyRequestsException", want: domain.TooManyRequests},
		{getUser: "TooManyRequestsException", want: domain.TooManyRequests},
		{getUser: "InternalErrorException", want: domain.Unavailable},
		// Deleted between the reset and the look-up: like an unknown email.
		{signOut: "UserNotFoundException", getUser: "UserNotFoundException", want: domain.Invalid},
	} {
		signOutErr, getUserErr = tc.signOut, tc.getUser
		id, err := p.ConfirmForgotPassword(ctx, "ada@example.com", "123456", "correct-horse-9")
		if domain.ErrorCode(err) != tc.want || id != "" {
			t.Errorf("sign-out %q, look-up %q: ConfirmForgotPassword = %q, %v; want %s", tc.signOut, tc.getUser, id, err, tc.want)
		}
	}
}
