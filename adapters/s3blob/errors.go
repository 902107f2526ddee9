package s3blob

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cloudpost/cloudpost/core/domain"
)

// notFoundCodes are the S3 error codes of a missing object. A HEAD answer
// has no body, so the SDK names its 404 "NotFound".
var notFoundCodes = map[string]bool{"NoSuchKey": true, "NotFound": true}

// unavailableCodes are codes of a temporary failure that may come without
// an HTTP status (a key of a DeleteObjects answer).
var unavailableCodes = map[string]bool{"InternalError": true, "ServiceUnavailable": true, "SlowDown": true}

// preconditionCodes refuse a conditional write: 412 PreconditionFailed
// when an object exists (If-None-Match: *), 409 ConditionalRequestConflict
// to the loser of concurrent conditional writes.
var preconditionCodes = map[string]bool{"PreconditionFailed": true, "ConditionalRequestConflict": true}

// fullCodes are S3-compatible servers' answers when they are out of space
// (versitygw: 403 QuotaExceeded, 507 InsufficientStorage).
var fullCodes = map[string]bool{"QuotaExceeded": true, "InsufficientStorage": true}

// retryables classifies errors as the SDK's standard retryer does:
// connection errors, 500/502/503/504, throttling and timeout codes.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// translate turns an SDK error of op on key into a domain error. The SDK has
// already retried what its retryer retries, so what is left is final:
//   - NoSuchKey/NotFound: NotFound;
//   - PreconditionFailed/ConditionalRequestConflict (a conditional write
//     refused): PreconditionFailed, not logged;
//   - QuotaExceeded/InsufficientStorage (the server is full): Unavailable,
//     logged at error level;
//   - throttling, 5xx, 429, connection failures, timeouts and cancellation:
//     Unavailable (logged at warn level unless the caller cancelled);
//   - everything else, access denied, bad credentials and a missing bucket
//     included: Internal, logged at error level with the bucket and key,
//     since it means the deployment is broken, not the request.
func (s *Store) translate(ctx context.Context, op, key string, err error) error {
	code, status := errorCode(err), httpStatus(err)
	attrs := []any{"op", op, "bucket", s.bucket, "key", key, "code", code, "status", status, "err", err}
	switch {
	case notFoundCodes[code]:
		return domain.Wrap(err, domain.NotFound, "object not found")
	case preconditionCodes[code]:
		return domain.Wrap(err, domain.PreconditionFailed, "an object already exists at this key")
	case fullCodes[code]:
		s.log.ErrorContext(ctx, "s3blob: S3 storage full", attrs...)
		return domain.Wrap(err, domain.Unavailable, "the media store is full")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "s3blob: S3 request timed out", attrs...)
		}
		return domain.Wrap(err, domain.Unavailable, "the media store did not answer in time")
	case status >= 500 || unavailableCodes[code] || status == http.StatusTooManyRequests || retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary ||
		retryables.IsErrorRetryable(err) == aws.TrueTernary:
		s.log.WarnContext(ctx, "s3blob: S3 unavailable", attrs...)
		return domain.Wrap(err, domain.Unavailable, "the media store is unavailable, try again later")
	}
	msg := "s3blob: S3 request failed"
	if code == "AccessDenied" || status == http.StatusForbidden {
		msg = "s3blob: S3 access denied"
	}
	s.log.ErrorContext(ctx, msg, attrs...)
	return domain.Wrap(err, domain.Internal, "the media store failed")
}

// errorCode returns the S3 error code in err's chain, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of S3's answer in err's chain, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isCode(err error, code string) bool { return errorCode(err) == code }

// objectError is one failed key of a DeleteObjects answer, as an
// smithy.APIError so translate classifies it like any other error.
type objectError struct {
	code, message string
}

func (e *objectError) Error() string                 { return "api error " + e.code + ": " + e.message }
func (e *objectError) ErrorCode() string             { return e.code }
func (e *objectError) ErrorMessage() string          { return e.message }
func (e *objectError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

var _ smithy.APIError = (*objectError)(nil)
