package lambdaapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// PrincipalFromClaims returns the caller described by claims that API
// Gateway's authorizer has already verified (signature, issuer, audience,
// expiry). Claim values are strings as API Gateway passes them; list claims
// such as cognito:groups may be a JSON array, the HTTP API form "[a b]" or
// the REST API form "a,b". The claims must be those of an access token
// (token_use "access") naming a user (sub), the same rule the server's
// verifier applies; otherwise it returns Unauthenticated.
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

// ParseListClaim splits a list-valued claim as API Gateway stringifies it:
// `["a","b"]` (JSON), `[a b]` (HTTP API JWT authorizer) or `a,b` (REST API
// Cognito authorizer). Empty input gives nil.
func ParseListClaim(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(inner, "]") {
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
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseTimeClaim reads a time claim (exp, iat, auth_time) as seconds since the epoch (JWT, HTTP API) or
// in the REST authorizer's form "Fri Jul 29 18:52:53 UTC 2016". Zero when
// absent or unreadable (the authorizer has checked it already).
func parseTimeClaim(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC()
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(int64(f), 0).UTC()
	}
	for _, layout := range []string{time.UnixDate, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// claimsV1 extracts the claims of a REST API (or HTTP API payload 1.0)
// authorizer: requestContext.authorizer.claims, or .jwt.claims. Values that
// are not strings are rendered as API Gateway renders them (numbers in
// decimal, arrays as JSON). ok is false without claims.
func claimsV1(authorizer map[string]any) (map[string]string, bool) {
	raw, ok := authorizer["claims"].(map[string]any)
	if !ok {
		jwt, _ := authorizer["jwt"].(map[string]any)
		if raw, ok = jwt["claims"].(map[string]any); !ok {
			return nil, false
		}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		case nil:
		default:
			b, err := json.Marshal(v)
			if err == nil {
				out[k] = string(b)
			}
		}
	}
	return out, true
}
