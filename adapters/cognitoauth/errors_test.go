package cognitoauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

// fakeCognito answers every Cognito API call with a scripted answer and
// records the calls (operation name and JSON body).
type fakeCognito struct {
	*httptest.Server
	mu     sync.Mutex
	answer func(op string, body map[string]any) (status int, header http.Header, resp any)
	calls  []fakeCall
}

type fakeCall struct {
	op   string
	body map[string]any
}

func newFakeCognito(t testing.TB) *fakeCognito {
	t.Helper()
	f := &fakeCognito{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSCognitoIdentityProviderService.")
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.calls = append(f.calls, fakeCall{op: op, body: body})
		answer := f.answer
		f.mu.Unlock()
		status, header, resp := http.StatusOK, http.Header(nil), any(map[string]any{})
		if answer != nil {
			status, header, resp = answer(op, body)
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCognito) set(answer func(op string, body map[string]any) (int, http.Header, any)) {
	f.mu.Lock()
	f.answer, f.calls = answer, nil
	f.mu.Unlock()
}

// clear forgets the calls recorded so far.
func (f *fakeCognito) clear() {
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
}

func (f *fakeCognito) recorded() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// fail answers every call with the Cognito exception name.
func fail(status int, exception, message string, header http.Header) func(string, map[string]any) (int, http.Header, any) {
	return func(string, map[string]any) (int, http.Header, any) {
		return status, header, map[string]any{"__type": exception, "message": message}
	}
}

func fakeProvider(t *testing.T, f *fakeCognito, secret string) *cognitoauth.Provider {
	t.Helper()
	p, err := cognitoauth.New(cognitoauth.Config{
		Region: "eu-west-1", UserPoolID: "eu-west-1_Fake123", ClientID: "fakeclient1", ClientSecret: secret, Endpoint: f.URL,
	}, cognitoauth.Options{ClientOptions: []func(*cip.Options){func(o *cip.Options) { o.RetryMaxAttempts = 1 }}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestErrorTranslation checks the table of issue 5: each Cognito exception
// becomes the domain error, HTTP status and headers the API promises.
func TestErrorTranslation(t *testing.T) {
	f := newFakeCognito(t)
	p := fakeProvider(t, f, "")
	ctx := context.Background()
	const email, pw = "ada@example.com", "correct-horse-9"
	ops := map[string]func() error{
		"SignUp":                func() error { _, err := p.SignUp(ctx, email, pw, "Ada"); return err },
		"ConfirmSignUp":         func() error { return p.ConfirmSignUp(ctx, email, "123456") },
		"SignIn":                func() error { _, err := p.SignIn(ctx, email, pw); return err },
		"Refresh":               func() error { _, err := p.Refresh(ctx, "refresh-token"); return err },
		"ForgotPassword":        func() error { return p.ForgotPassword(ctx, email) },
		"ResendConfirmation":    func() error { return p.ResendConfirmation(ctx, email) },
		"ConfirmForgotPassword": func() error { _, err := p.ConfirmForgotPassword(ctx, email, "123456", pw); return err },
		"GetIdentity":           func() error { _, err := p.GetIdentity(ctx, "0f6c2d1e-1111-4c4c-9a9a-123456789abc"); return err },
		"DeleteIdentity":        func() error { return p.DeleteIdentity(ctx, "0f6c2d1e-1111-4c4c-9a9a-123456789abc") },
	}
	retry7 := http.Header{"Retry-After": {"7"}}
	cases := []struct {
		op, exception, message string
		status                 int
		header                 http.Header
		want                   domain.Code // "" means nil
		httpStatus             int
		retryAfter             string
	}{
		{op: "SignUp", exception: "UsernameExistsException", want: domain.Conflict, httpStatus: 409},
		{op: "SignUp", exception: "InvalidPasswordException", message: "Password did not conform with policy", want: domain.Invalid, httpStatus: 400},
		{op: "SignUp", exception: "InvalidParameterException", message: "1 validation error detected: Value at 'password' failed to satisfy constraint", want: domain.Invalid, httpStatus: 400},
		{op: "SignUp", exception: "TooManyRequestsException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "1"},
		{op: "SignUp", exception: "LimitExceededException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "60"},
		{op: "SignUp", exception: "TooManyRequestsException", header: retry7, want: domain.TooManyRequests, httpStatus: 429, retryAfter: "7"},
		{op: "SignUp", exception: "InternalErrorException", status: 500, want: domain.Unavailable, httpStatus: 503, retryAfter: "1"},
		{op: "SignUp", exception: "ResourceNotFoundException", message: "User pool client fakeclient1 does not exist.", want: domain.Internal, httpStatus: 500},
		{op: "ConfirmSignUp", exception: "CodeMismatchException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmSignUp", exception: "ExpiredCodeException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmSignUp", exception: "UserNotFoundException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmSignUp", exception: "NotAuthorizedException", message: "User cannot be confirmed. Current status is CONFIRMED", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmSignUp", exception: "LimitExceededException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "60"},
		{op: "SignIn", exception: "NotAuthorizedException", message: "Incorrect username or password.", want: domain.Unauthenticated, httpStatus: 401},
		{op: "SignIn", exception: "UserNotFoundException", message: "User does not exist.", want: domain.Unauthenticated, httpStatus: 401},
		{op: "SignIn", exception: "UserNotConfirmedException", want: domain.UserNotConfirmed, httpStatus: 403},
		{op: "SignIn", exception: "NotAuthorizedException", message: "Password attempts exceeded", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "60"},
		{op: "SignIn", exception: "TooManyRequestsException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "1"},
		{op: "SignIn", exception: "PasswordResetRequiredException", want: domain.Forbidden, httpStatus: 403},
		{op: "SignIn", exception: "InvalidPasswordException", message: "Invalid password", want: domain.Unauthenticated, httpStatus: 401},
		{op: "Refresh", exception: "NotAuthorizedException", message: "Refresh Token has been revoked", want: domain.Unauthenticated, httpStatus: 401},
		{op: "Refresh", exception: "InvalidParameterException", want: domain.Unauthenticated, httpStatus: 401},
		{op: "Refresh", exception: "TooManyRequestsException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "1"},
		{op: "ResendConfirmation", exception: "UserNotFoundException", want: ""},
		{op: "ResendConfirmation", exception: "InvalidParameterException", message: "User is already confirmed.", want: ""},
		{op: "ResendConfirmation", exception: "LimitExceededException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "60"},
		{op: "ResendConfirmation", exception: "CodeDeliveryFailureException", want: domain.Unavailable, httpStatus: 503, retryAfter: "1"},
		{op: "ResendConfirmation", exception: "InternalErrorException", status: 500, want: domain.Unavailable, httpStatus: 503, retryAfter: "1"},
		{op: "ForgotPassword", exception: "UserNotFoundException", want: ""},
		{op: "ForgotPassword", exception: "InvalidParameterException", message: "Cannot reset password for the user as there is no registered/verified email", want: ""},
		{op: "ForgotPassword", exception: "LimitExceededException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "60"},
		{op: "ForgotPassword", exception: "CodeDeliveryFailureException", want: domain.Unavailable, httpStatus: 503, retryAfter: "1"},
		{op: "ConfirmForgotPassword", exception: "CodeMismatchException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmForgotPassword", exception: "ExpiredCodeException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmForgotPassword", exception: "InvalidPasswordException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmForgotPassword", exception: "UserNotFoundException", want: domain.Invalid, httpStatus: 400},
		{op: "ConfirmForgotPassword", exception: "TooManyFailedAttemptsException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "60"},
		// SignOut checks the access token before any call: TestSignOutErrors.
		{op: "GetIdentity", exception: "UserNotFoundException", want: domain.NotFound, httpStatus: 404},
		{op: "GetIdentity", exception: "TooManyRequestsException", want: domain.TooManyRequests, httpStatus: 429, retryAfter: "1"},
		{op: "DeleteIdentity", exception: "UserNotFoundException", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.op+"/"+tc.exception+"/"+tc.message, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			msg := tc.message
			if msg == "" {
				msg = "message from cognito"
			}
			if tc.op == "GetIdentity" || tc.op == "DeleteIdentity" {
				// AdminGetUser fails; ListUsers finds nobody.
				inner := fail(status, tc.exception, msg, tc.header)
				f.set(func(op string, body map[string]any) (int, http.Header, any) {
					if op == "ListUsers" {
						return http.StatusOK, nil, map[string]any{"Users": []any{}}
					}
					return inner(op, body)
				})
			} else {
				f.set(fail(status, tc.exception, msg, tc.header))
			}
			err := ops[tc.op]()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if got := domain.ErrorCode(err); got != tc.want {
				t.Fatalf("code = %s (%v), want %s", got, err, tc.want)
			}
			pd, h := httpapi.Problem(err, "rid")
			if pd.Status != tc.httpStatus {
				t.Fatalf("HTTP status %d, want %d", pd.Status, tc.httpStatus)
			}
			if got := h.Get("Retry-After"); got != tc.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if strings.Contains(pd.Detail, "cognito") || strings.Contains(pd.Detail, msg) && tc.want != domain.Invalid {
				t.Fatalf("detail %q leaks the service's message", pd.Detail)
			}
		})
	}

	// Unknown email and wrong password: one answer.
	f.set(fail(400, "NotAuthorizedException", "Incorrect username or password.", nil))
	_, wrong := p.SignIn(ctx, email, pw)
	f.set(fail(400, "UserNotFoundException", "User does not exist.", nil))
	_, unknown := p.SignIn(ctx, email, pw)
	if domain.ErrorMessage(wrong) != domain.ErrorMessage(unknown) {
		t.Fatalf("wrong password says %q, unknown email %q", domain.ErrorMessage(wrong), domain.ErrorMessage(unknown))
	}

	// No answer at all: Unavailable.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	pd, err := cognitoauth.New(cognitoauth.Config{Region: "eu-west-1", UserPoolID: "eu-west-1_Fake123", ClientID: "fakeclient1", Endpoint: dead.URL},
		cognitoauth.Options{ClientOptions: []func(*cip.Options){func(o *cip.Options) { o.RetryMaxAttempts = 1 }}})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := pd.SignIn(cctx, email, pw); domain.ErrorCode(err) != domain.Unavailable {
		t.Fatalf("unreachable Cognito: %v, want Unavailable", err)
	}
}

// TestResendConfirmation checks the ResendConfirmationCode call the adapter
// makes (cognito-local does not implement it): client id, the email as user
// name and the SECRET_HASH when the client has a secret.
func TestResendConfirmation(t *testing.T) {
	f := newFakeCognito(t)
	p := fakeProvider(t, f, "s3cr3t")
	if err := p.ResendConfirmation(context.Background(), "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	calls := f.recorded()
	if len(calls) != 1 || calls[0].op != "ResendConfirmationCode" {
		t.Fatalf("calls %+v", calls)
	}
	b := calls[0].body
	if b["ClientId"] != "fakeclient1" || b["Username"] != "ada@example.com" || b["SecretHash"] != cognitoauth.SecretHash("ada@example.com", "fakeclient1", "s3cr3t") {
		t.Errorf("request %v", b)
	}
}

// TestGetIdentityRefusesImpossibleIDs: an id that cannot be a `sub` (too
// long, other characters) is NotFound without a call to Cognito.
func TestGetIdentityRefusesImpossibleIDs(t *testing.T) {
	f := newFakeCognito(t)
	p := fakeProvider(t, f, "")
	for _, id := range []string{strings.Repeat("a", 65), "a b", "x\" or 1=1"} {
		if _, err := p.GetIdentity(context.Background(), id); domain.ErrorCode(err) != domain.NotFound {
			t.Errorf("GetIdentity(%q) = %v, want NotFound", id, err)
		}
	}
	if calls := f.recorded(); len(calls) != 0 {
		t.Errorf("Cognito was called: %+v", calls)
	}
}
