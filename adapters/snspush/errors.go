package snspush

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cloudpost/cloudpost/core/domain"
)

// SNS error codes the adapter tells apart.
const (
	codeNotFound         = "NotFound"
	codeEndpointDisabled = "EndpointDisabled"
	codeInvalidParameter = "InvalidParameter"
	codeInvalidValue     = "InvalidParameterValue"
	codeThrottled        = "Throttled"
	codeKMSThrottling    = "KMSThrottling"
	codeAppDisabled      = "PlatformApplicationDisabled"
	codeAuthorization    = "AuthorizationError"
)

// existingEndpoint finds the ARN in SNS's answer to CreatePlatformEndpoint
// for a token that an endpoint of the application already holds with other
// attributes: "Invalid parameter: Token Reason: Endpoint <arn> already
// exists with the same Token, but different attributes." (AWS's own
// registration sample parses it the same way).
var existingEndpoint = regexp.MustCompile(`Endpoint (arn:[^ ]+:sns:[^ ]+) already exists with the same [Tt]oken`)

// retryables classifies errors as the SDK's standard retryer does.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// failure is an SNS error with what the adapter needs to classify it.
type failure struct {
	code, message string
	status        int
	retryAfter    time.Duration
}

func classify(err error) failure {
	var f failure
	var ae smithy.APIError
	if errors.As(err, &ae) {
		f.code, f.message = ae.ErrorCode(), ae.ErrorMessage()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		f.status = re.HTTPStatusCode()
		if re.Response != nil {
			f.retryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"))
		}
	}
	return f
}

func (f failure) invalidParameter() bool {
	return f.code == codeInvalidParameter || f.code == codeInvalidValue
}

// about reports whether an InvalidParameter message names the parameter
// ("Invalid parameter: Token Reason: ...").
func (f failure) about(param string) bool {
	return f.invalidParameter() && strings.Contains(f.message, "parameter: "+param)
}

// endpointGone reports whether SNS says the endpoint no longer exists:
// NotFound (GetEndpointAttributes, SetEndpointAttributes; moto's Publish),
// or Publish's "Invalid parameter: TargetArn Reason: No endpoint found for
// the target arn specified".
func (f failure) endpointGone() bool {
	return f.code == codeNotFound || f.about("TargetArn") || f.about("EndpointArn")
}

func (f failure) throttled() bool {
	if f.code == codeThrottled || f.code == codeKMSThrottling || f.status == http.StatusTooManyRequests {
		return true
	}
	_, ok := retry.DefaultThrottleErrorCodes[f.code]
	return ok
}

// operatorFault reports a failure of the deployment rather than of the
// request: bad credentials or policy, a disabled platform application
// (an expired APNs certificate, revoked FCM credentials), a wrong ARN.
func (f failure) operatorFault() bool {
	switch f.code {
	case codeAuthorization, codeAppDisabled, "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException",
		"KMSAccessDenied", "KMSDisabled", "KMSInvalidState", "KMSNotFound", "KMSOptInRequired":
		return true
	}
	return f.status == http.StatusForbidden
}

// unavailable translates what is left: a timeout, a cancellation, a
// connection failure, throttling, a 5xx, or a fault of the deployment. It
// logs at warn level (error level for the deployment's faults) unless the
// caller cancelled. The error keeps err as its cause.
func (p *Pusher) unavailable(ctx context.Context, op, endpoint string, f failure, err error) error {
	attrs := []any{"op", op, "endpoint", endpoint, "code", f.code, "status", f.status, "err", err}
	msg := "the push service is unavailable, try again later"
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() == nil {
			p.log.WarnContext(ctx, "snspush: SNS request timed out", attrs...)
		}
		msg = "the push service did not answer in time"
	case f.operatorFault():
		p.log.ErrorContext(ctx, "snspush: SNS refused the deployment's request (credentials, policy or platform application)", attrs...)
	case f.throttled() || f.status >= 500 || retryables.IsErrorRetryable(err) == aws.TrueTernary:
		p.log.WarnContext(ctx, "snspush: SNS unavailable", attrs...)
	default:
		p.log.ErrorContext(ctx, "snspush: SNS request failed", attrs...)
	}
	e := domain.Wrap(err, domain.Unavailable, msg)
	e.RetryAfter = f.retryAfter
	return e
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// redacted is an SNS error whose text has the device token taken out (SNS
// messages may quote what they refuse), so that logging the domain error
// never logs a token. It unwraps to the original for errors.As.
type redacted struct {
	err    error
	tokens []string
}

func (r *redacted) Error() string {
	s := r.err.Error()
	for _, t := range r.tokens {
		if t != "" {
			s = strings.ReplaceAll(s, t, "[token]")
		}
	}
	return s
}

func (r *redacted) Unwrap() error { return r.err }

// redact wraps err so its text never shows any of tokens.
func redact(err error, tokens ...string) error {
	if err == nil {
		return nil
	}
	return &redacted{err: err, tokens: tokens}
}
