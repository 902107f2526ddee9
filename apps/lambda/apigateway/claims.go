package apigateway

import (
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/cloudpost/cloudpost/core/domain"
)

// PrincipalFromClaims returns the caller described by claims that API
// Gateway's JWT authorizer has already verified (signature, issuer,
// audience, expiry). Claim values are strings as API Gateway passes them;
// list claims such as cognito:groups are read by ParseListClaim. The
// claims must be those of an access token (token_use "access") naming a
// user (sub), the same rule the server's verifier applies; otherwise it
// returns Unauthenticated.
func PrincipalFromClaims(claims map[string]string) (domain.Principal, error) {
	sub := claims["sub"]
	if sub == "" {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, "the authorizer's claims name no user")
	}
	if use := claims["token_use"]; use != "access" {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, "an access token is required, not %q", use)
	}
	authTime := parseTimeClaim(claims["auth_time"])
	if authTime.IsZero() {
		authTime = parseTimeClaim(claims["iat"])
	}
	return domain.Principal{
		UserID:    sub,
		Email:     claims["email"],
		Groups:    ParseListClaim(claims["cognito:groups"]),
		ClientID:  claims["client_id"],
		TokenID:   claims["jti"],
		ExpiresAt: parseTimeClaim(claims["exp"]),
		AuthTime:  authTime,
	}, nil
}

// ParseListClaim splits a list-valued claim as an HTTP API JWT authorizer
// stringifies it: `[a b]`, or `["a","b"]` (JSON). Any other non-empty
// value is one element: a Cognito group name may contain a comma, so
// nothing else is split. Empty input gives nil.
func ParseListClaim(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	inner, ok := strings.CutPrefix(s, "[")
	if !ok || !strings.HasSuffix(inner, "]") {
		return []string{s}
	}
	inner = inner[:len(inner)-1]
	if strings.HasPrefix(strings.TrimSpace(inner), `"`) {
		var list []string
		if json.Unmarshal([]byte(s), &list) == nil {
			return list
		}
	}
	// Cognito group names cannot contain white space, so fields are exact.
	f := strings.Fields(inner)
	if len(f) == 0 {
		return nil
	}
	return f
}

// parseTimeClaim reads a time claim (exp, iat, auth_time) in seconds
// since the epoch. Zero when absent or unreadable (the authorizer has
// checked it already).
func parseTimeClaim(s string) time.Time {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC()
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= -1<<62 && f <= 1<<62 {
		return time.Unix(int64(f), 0).UTC()
	}
	return time.Time{}
}
