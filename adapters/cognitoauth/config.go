package cognitoauth

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config is the Cognito mode's configuration (CLOUDPOST_AUTH=cognito). Its
// fields carry caarlos0/env tags so apps/config can embed it.
type Config struct {
	// Region is the pool's AWS region, e.g. eu-west-1.
	Region string `env:"CLOUDPOST_COGNITO_REGION"`
	// UserPoolID is the pool id, e.g. eu-west-1_AbCdEf123.
	UserPoolID string `env:"CLOUDPOST_COGNITO_USER_POOL_ID"`
	// ClientID is the app client the API signs users in with. The client
	// must allow USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH.
	ClientID string `env:"CLOUDPOST_COGNITO_CLIENT_ID"`
	// ClientSecret is the app client's secret, empty for a public client.
	// With a secret every call carries the SECRET_HASH.
	ClientSecret string `env:"CLOUDPOST_COGNITO_CLIENT_SECRET"`
	// ExtraClientIDs are further app clients (e.g. the web and mobile
	// clients that sign in with Amplify) whose access tokens the API accepts.
	ExtraClientIDs []string `env:"CLOUDPOST_COGNITO_EXTRA_CLIENT_IDS" envSeparator:","`
	// Endpoint overrides the Cognito API endpoint (cognito-local, e.g.
	// http://127.0.0.1:9229). Empty: AWS. With an endpoint no AWS
	// credentials are needed.
	Endpoint string `env:"CLOUDPOST_COGNITO_ENDPOINT"`
	// Issuer overrides the tokens' `iss`; empty: derived from Region and
	// UserPoolID (AWS), or <Endpoint>/<UserPoolID> with an Endpoint
	// (cognito-local's issuer when it is started with HOST and PORT naming
	// that endpoint).
	Issuer string `env:"CLOUDPOST_COGNITO_ISSUER"`

	// Domain is the hosted UI domain for social login, e.g.
	// https://auth.example.com or https://<prefix>.auth.<region>.amazoncognito.com.
	// Empty: the /v1/auth/oauth routes are off.
	Domain string `env:"CLOUDPOST_COGNITO_DOMAIN"`
	// RedirectURLs are the callback URLs the social login may send the
	// hosted UI back to (each registered on the app client); the first is
	// the default. Typically <public URL>/v1/auth/oauth/callback.
	RedirectURLs []string `env:"CLOUDPOST_COGNITO_REDIRECT_URLS" envSeparator:","`
	// OAuthProviders are the social providers offered at
	// /v1/auth/oauth/{provider}: google, apple, facebook, amazon.
	OAuthProviders []string `env:"CLOUDPOST_COGNITO_OAUTH_PROVIDERS" envSeparator:"," envDefault:"google,apple"`
	// StateSecret keys the encrypted cookie that binds the OAuth state to
	// its PKCE verifier (at least 32 bytes). Empty: a random key per
	// process, which only works with a single instance.
	StateSecret string `env:"CLOUDPOST_COGNITO_STATE_SECRET"`
	// StateTTL is how long a social login may take from redirect to callback.
	StateTTL time.Duration `env:"CLOUDPOST_COGNITO_STATE_TTL" envDefault:"10m"`
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	// poolRE is Cognito's user pool id pattern; cognito-local makes
	// local_XXXXXXXX ids, which it also matches.
	poolRE     = regexp.MustCompile(`^[\w-]+_[0-9a-zA-Z]+$`)
	clientIDRE = regexp.MustCompile(`^[\w+]+$`) // and at most 128 bytes: validClientID
)

// Validate checks the configuration. Each message names the variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if !regionRE.MatchString(c.Region) {
		bad("CLOUDPOST_COGNITO_REGION", "must be an AWS region like eu-west-1, not %q", c.Region)
	}
	if !poolRE.MatchString(c.UserPoolID) || len(c.UserPoolID) > 55 {
		bad("CLOUDPOST_COGNITO_USER_POOL_ID", "must be a user pool id like eu-west-1_AbCdEf123, not %q", c.UserPoolID)
	}
	if !validClientID(c.ClientID) {
		bad("CLOUDPOST_COGNITO_CLIENT_ID", "must be an app client id (letters, digits), not %q", c.ClientID)
	}
	for _, id := range c.ExtraClientIDs {
		if !validClientID(id) {
			bad("CLOUDPOST_COGNITO_EXTRA_CLIENT_IDS", "%q is not an app client id", id)
		}
	}
	if c.Endpoint != "" && !httpURL(c.Endpoint) {
		bad("CLOUDPOST_COGNITO_ENDPOINT", "must be an http(s) URL, not %q", c.Endpoint)
	}
	if c.Issuer != "" && !httpURL(c.Issuer) {
		bad("CLOUDPOST_COGNITO_ISSUER", "must be an http(s) URL, not %q", c.Issuer)
	}
	if c.Domain != "" {
		if !httpURL(c.Domain) || (!strings.HasPrefix(c.Domain, "https://") && c.Endpoint == "") {
			bad("CLOUDPOST_COGNITO_DOMAIN", "must be an https URL like https://auth.example.com, not %q", c.Domain)
		}
		if len(c.RedirectURLs) == 0 {
			bad("CLOUDPOST_COGNITO_REDIRECT_URLS", "must list at least one callback URL when CLOUDPOST_COGNITO_DOMAIN is set")
		}
		for _, u := range c.RedirectURLs {
			if !httpURL(u) || strings.Contains(u, "#") {
				bad("CLOUDPOST_COGNITO_REDIRECT_URLS", "%q is not an absolute http(s) URL without fragment", u)
			}
		}
		if len(c.OAuthProviders) == 0 {
			bad("CLOUDPOST_COGNITO_OAUTH_PROVIDERS", "must name at least one of google, apple, facebook, amazon")
		}
		for _, p := range c.OAuthProviders {
			if _, ok := IdentityProviders[p]; !ok {
				bad("CLOUDPOST_COGNITO_OAUTH_PROVIDERS", "%q is not one of google, apple, facebook, amazon", p)
			}
		}
		if c.StateSecret != "" && len(c.StateSecret) < 32 {
			bad("CLOUDPOST_COGNITO_STATE_SECRET", "must have at least 32 characters")
		}
		if c.StateTTL < time.Minute || c.StateTTL > time.Hour {
			bad("CLOUDPOST_COGNITO_STATE_TTL", "must be between 1m and 1h")
		}
	}
	return errors.Join(errs...)
}

// IdentityProviders maps the {provider} of /v1/auth/oauth/{provider} to the
// identity_provider name the Cognito hosted UI knows.
var IdentityProviders = map[string]string{
	"google":   "Google",
	"apple":    "SignInWithApple",
	"facebook": "Facebook",
	"amazon":   "LoginWithAmazon",
}

// IssuerURL is the `iss` of the pool's tokens: Issuer when set, else
// <Endpoint>/<UserPoolID> with an Endpoint, else
// https://cognito-idp.<Region>.amazonaws.com/<UserPoolID>.
func (c Config) IssuerURL() string {
	switch {
	case c.Issuer != "":
		return strings.TrimRight(c.Issuer, "/")
	case c.Endpoint != "":
		return strings.TrimRight(c.Endpoint, "/") + "/" + c.UserPoolID
	default:
		return "https://cognito-idp." + c.Region + ".amazonaws.com/" + c.UserPoolID
	}
}

// JWKSURL is where the pool publishes its signing keys: the key set lives
// under the issuer on AWS, and under <Endpoint>/<UserPoolID> on
// cognito-local.
func (c Config) JWKSURL() string {
	if c.Endpoint != "" {
		return strings.TrimRight(c.Endpoint, "/") + "/" + c.UserPoolID + "/.well-known/jwks.json"
	}
	return c.IssuerURL() + "/.well-known/jwks.json"
}

// ClientIDs are every app client whose tokens are accepted: ClientID first.
func (c Config) ClientIDs() []string {
	return append([]string{c.ClientID}, c.ExtraClientIDs...)
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// validClientID reports whether id looks like an app client id: 1 to 128
// word characters or '+'. (The length is checked apart: a counted
// repetition in the regexp is slow to compile, at every process start.)
func validClientID(id string) bool { return len(id) <= 128 && clientIDRE.MatchString(id) }
