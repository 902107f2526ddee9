package domain

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies a domain error. The set is small on purpose: every layer
// (HTTP, Lambda, tests) can handle each code explicitly.
type Code string

// Error codes. Their string values appear as the `code` field of API problems.
const (
	// Invalid: the input breaks a rule (validation, malformed cursor, wrong code).
	Invalid Code = "Invalid"
	// NotFound: the thing does not exist (or the caller may not know it exists).
	NotFound Code = "NotFound"
	// Conflict: a uniqueness rule or a concurrent change prevents the operation.
	Conflict Code = "Conflict"
	// Unauthenticated: no valid identity (missing, bad or expired token or credentials).
	Unauthenticated Code = "Unauthenticated"
	// Forbidden: the identity is known but may not do this.
	Forbidden Code = "Forbidden"
	// UserNotConfirmed: the account exists but its sign-up was not confirmed yet.
	UserNotConfirmed Code = "UserNotConfirmed"
	// TooLarge: a size limit was exceeded.
	TooLarge Code = "TooLarge"
	// UnsupportedMediaType: the content type is not allowed.
	UnsupportedMediaType Code = "UnsupportedMediaType"
	// PreconditionFailed: an If-Match style precondition (version) no longer holds.
	PreconditionFailed Code = "PreconditionFailed"
	// Unprocessable: the request is well-formed but cannot be processed as
	// sent (an Idempotency-Key already used for another request).
	Unprocessable Code = "Unprocessable"
	// TooManyRequests: the caller is throttled; RetryAfter says for how long.
	TooManyRequests Code = "TooManyRequests"
	// Unavailable: a dependency is down or overloaded; retrying later may work.
	Unavailable Code = "Unavailable"
	// Internal: a bug or an unexpected failure. Its message is never shown to clients.
	Internal Code = "Internal"
)

// Error is the one error type of the domain. Message is safe to show to a
// client; Err (optional) is the underlying cause, for logs only.
type Error struct {
	Code    Code
	Message string
	// RetryAfter is a hint for TooManyRequests and Unavailable errors (zero: none).
	RetryAfter time.Duration
	// Err is the wrapped cause; it is never shown to clients.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted, client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and message that keeps err as its
// cause (for logs). A nil err still yields an error.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the client-safe message of err: the message of the
// first *Error in its chain unless it is Internal, else "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// RetryAfter returns the retry hint of the first *Error in err's chain.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsCode reports whether err carries the code.
func IsCode(err error, code Code) bool { return err != nil && ErrorCode(err) == code }
