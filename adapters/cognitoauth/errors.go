package cognitoauth

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Client-safe messages of the errors the provider returns. Unknown email and
// wrong password share msgBadCredentials so accounts cannot be enumerated.
const (
	msgBadCredentials = "incorrect email or password"
	msgBadCode        = "invalid or expired code"
	msgBadRefresh     = "invalid refresh token"
	msgBadAccess      = "invalid access token"
	msgExists         = "an account with this email already exists"
	msgNotConfirmed   = "the account is not confirmed yet"
	msgThrottled      = "too many attempts, try again later"
	msgWeakPassword   = "password does not meet the password policy"
	msgUnavailable    = "the identity service is unavailable"
	msgResetRequired  = "a password reset is required for this account"
)

// Default Retry-After hints when Cognito sends none: its request-rate
// throttle clears within seconds; the per-account limits on codes and
// failed attempts last minutes.
const (
	retryRequestRate = time.Second
	retryAccount     = time.Minute
)

// Cognito exception names (the API error codes the SDK reports).
const (
	excAliasExists           = "AliasExistsException"
	excCodeDeliveryFailure   = "CodeDeliveryFailureException"
	excCodeMismatch          = "CodeMismatchException"
	excExpiredCode           = "ExpiredCodeException"
	excInternalError         = "InternalErrorException"
	excInvalidParameter      = "InvalidParameterException"
	excInvalidPassword       = "InvalidPasswordException"
	excLimitExceeded         = "LimitExceededException"
	excNotAuthorized         = "NotAuthorizedException"
	excPasswordResetRequired = "PasswordResetRequiredException"
	excTooManyFailed         = "TooManyFailedAttemptsException"
	excTooManyRequests       = "TooManyRequestsException"
	excUnsupportedTokenType  = "UnsupportedTokenTypeException"
	excUserLambdaValidation  = "UserLambdaValidationException"
	excUserNotConfirmed      = "UserNotConfirmedException"
	excUserNotFound          = "UserNotFoundException"
	excUsernameExists        = "UsernameExistsException"
	// excEmulatorUnsupported is how cognito-local answers an operation it
	// does not implement ("CognitoLocal#Unsupported", which the SDK reports
	// without its namespace). AWS never sends it.
	excEmulatorUnsupported = "Unsupported"
)

// apiCode returns the Cognito exception name of err ("" for errors that did
// not come from the service, such as network failures).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// translate turns an SDK error into the domain error the port documents.
// Per-operation meanings (e.g. UserNotFound on ForgotPassword) are handled by
// the callers before they fall back to this table:
//
//	UsernameExists, AliasExists             -> Conflict (409)
//	UserNotConfirmed                        -> UserNotConfirmed (403)
//	NotAuthorized, UserNotFound             -> Unauthenticated (401), one message
//	NotAuthorized "Password attempts exceeded" -> TooManyRequests (429)
//	CodeMismatch, ExpiredCode               -> Invalid (400)
//	InvalidPassword                         -> Invalid (400)
//	TooManyRequests, LimitExceeded,
//	TooManyFailedAttempts                   -> TooManyRequests (429) + RetryAfter
//	InternalError, 5xx, network, timeouts   -> Unavailable (503)
//	anything else                           -> Internal (500)
func translate(err error) error {
	if err == nil {
		return nil
	}
	code := apiCode(err)
	switch code {
	case excUsernameExists, excAliasExists:
		return domain.Wrap(err, domain.Conflict, msgExists)
	case excUserNotConfirmed:
		return domain.Wrap(err, domain.UserNotConfirmed, msgNotConfirmed)
	case excNotAuthorized:
		// Cognito locks an account out after repeated wrong passwords and
		// says so only in the message of a NotAuthorizedException.
		if strings.Contains(strings.ToLower(errMessage(err)), "attempts exceeded") {
			return throttled(err, retryAccount)
		}
		return domain.Wrap(err, domain.Unauthenticated, msgBadCredentials)
	case excUserNotFound:
		return domain.Wrap(err, domain.Unauthenticated, msgBadCredentials)
	case excCodeMismatch, excExpiredCode:
		return domain.Wrap(err, domain.Invalid, msgBadCode)
	case excInvalidPassword:
		return domain.Wrap(err, domain.Invalid, msgWeakPassword)
	case excTooManyRequests:
		return throttled(err, retryRequestRate)
	case excLimitExceeded, excTooManyFailed:
		return throttled(err, retryAccount)
	case excPasswordResetRequired:
		return domain.Wrap(err, domain.Forbidden, msgResetRequired)
	case excUserLambdaValidation:
		return domain.Wrap(err, domain.Invalid, "the request was refused by the user pool's validation")
	case excInternalError, excCodeDeliveryFailure:
		return domain.Wrap(err, domain.Unavailable, msgUnavailable)
	case "":
		// No answer from the service: network error, timeout, cancellation.
		if errors.Is(err, context.Canceled) {
			return domain.Wrap(err, domain.Unavailable, "request cancelled")
		}
		return domain.Wrap(err, domain.Unavailable, msgUnavailable)
	}
	if status := httpStatus(err); status >= 500 {
		return domain.Wrap(err, domain.Unavailable, msgUnavailable)
	}
	return domain.Wrap(err, domain.Internal, "identity service error")
}

// throttled is a TooManyRequests error whose RetryAfter comes from the
// response's Retry-After header when Cognito sent one, else def.
func throttled(err error, def time.Duration) error {
	ra := def
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if s, perr := strconv.Atoi(strings.TrimSpace(re.Response.Header.Get("Retry-After"))); perr == nil && s > 0 && s < 24*3600 {
			ra = time.Duration(s) * time.Second
		}
	}
	return &domain.Error{Code: domain.TooManyRequests, Message: msgThrottled, RetryAfter: ra, Err: err}
}

func errMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isThrottleOrOutage reports whether a translated error must reach the
// caller even where the operation otherwise hides the service's answer
// (unknown emails on ForgotPassword, already revoked tokens on SignOut).
func isThrottleOrOutage(err error) bool {
	switch domain.ErrorCode(err) {
	case domain.TooManyRequests, domain.Unavailable:
		return true
	}
	return false
}
