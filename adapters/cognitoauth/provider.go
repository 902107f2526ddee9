// Package cognitoauth is the Amazon Cognito identity adapter: sign-up,
// confirmation, password and refresh-token sign-in, password reset,
// sign-out and account deletion against a Cognito user pool through
// aws-sdk-go-v2/service/cognitoidentityprovider, with Cognito's exceptions
// translated into domain errors, and verification of the pool's access
// tokens through adapters/jwtauth (the same code that checks the local
// provider's tokens). It works against AWS and against cognito-local
// (Config.Endpoint).
package cognitoauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Options are the Go-level settings of a Provider that configuration
// variables do not carry. The zero value is fine for production.
type Options struct {
	// Clock tells the time (token lifetimes, revocations); nil: the system clock.
	Clock ports.Clock
	// HTTPClient makes the Cognito API calls; nil: the SDK's default client.
	HTTPClient *http.Client
	// AWSConfig, when set, is the SDK configuration to use (credentials,
	// retries); nil: the default chain (environment, shared files, the
	// Lambda or instance role) for Config.Region, loaded on first use, or
	// anonymous credentials when Config.Endpoint is set.
	AWSConfig *aws.Config
	// ClientOptions adjust the SDK client (retries, middleware) last.
	ClientOptions []func(*cip.Options)
	// Verifier tunes the token verifier.
	Verifier VerifierOptions
}

// Provider is the Cognito identity provider. Safe for concurrent use. It
// does no I/O until its first call.
type Provider struct {
	cfg      Config
	opts     Options
	clock    ports.Clock
	client   *lazyClient
	revoked  *revocations
	verifier *Verifier
}

var _ ports.Identity = (*Provider)(nil)

// New checks cfg and returns a provider and its token verifier (see
// Provider.Verifier). It does no network I/O. Returns the error of
// cfg.Validate for a bad configuration.
func New(cfg Config, opts Options) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = system.Clock{}
	}
	p := &Provider{cfg: cfg, opts: opts, clock: opts.Clock, revoked: newRevocations(opts.Clock)}
	p.client = &lazyClient{build: p.buildClient}
	v, err := newVerifier(cfg, opts.Clock, opts.Verifier, p.revoked)
	if err != nil {
		return nil, err
	}
	p.verifier = v
	return p, nil
}

// Verifier returns the verifier of the pool's access tokens. It refuses
// the tokens of users this provider signed out globally or deleted.
func (p *Provider) Verifier() *Verifier { return p.verifier }

// Config returns the provider's configuration.
func (p *Provider) Config() Config { return p.cfg }

// buildClient makes the SDK client; it may read the AWS shared
// configuration files (no network I/O: credentials resolve on first call).
func (p *Provider) buildClient(ctx context.Context) (*cip.Client, error) {
	var ac aws.Config
	switch {
	case p.opts.AWSConfig != nil:
		ac = p.opts.AWSConfig.Copy()
	case p.cfg.Endpoint != "":
		// cognito-local checks no signatures.
		ac = aws.Config{Region: p.cfg.Region, Credentials: aws.AnonymousCredentials{}}
	default:
		var err error
		ac, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(p.cfg.Region))
		if err != nil {
			return nil, domain.Wrap(err, domain.Unavailable, "loading the AWS configuration failed")
		}
	}
	return cip.NewFromConfig(ac, func(o *cip.Options) {
		o.Region = p.cfg.Region
		if p.cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(p.cfg.Endpoint)
		}
		// Set on the service options rather than with config.WithHTTPClient,
		// which does not combine with AWS_CA_BUNDLE.
		if p.opts.HTTPClient != nil {
			o.HTTPClient = p.opts.HTTPClient
		}
		for _, f := range p.opts.ClientOptions {
			f(o)
		}
	}), nil
}

// secretHash returns a pointer to the SECRET_HASH for username, nil for a
// client without a secret.
func (p *Provider) secretHash(username string) *string {
	if p.cfg.ClientSecret == "" {
		return nil
	}
	return aws.String(SecretHash(username, p.cfg.ClientID, p.cfg.ClientSecret))
}

// SignUp registers the account (username = email, attributes email and
// name) and lets Cognito mail the confirmation code. The profile row is
// made by the post-confirmation trigger or on the first authenticated call.
// Returns Conflict for a taken email, Invalid for a password that breaks
// the pool's policy, TooManyRequests when throttled, Unavailable when
// Cognito cannot be reached.
func (p *Provider) SignUp(ctx context.Context, email, password, displayName string) (domain.SignUpResult, error) {
	c, err := p.client.get(ctx)
	if err != nil {
		return domain.SignUpResult{}, err
	}
	attrs := []types.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}}
	if displayName != "" {
		attrs = append(attrs, types.AttributeType{Name: aws.String("name"), Value: aws.String(displayName)})
	}
	out, err := c.SignUp(ctx, &cip.SignUpInput{
		ClientId:       aws.String(p.cfg.ClientID),
		Username:       aws.String(email),
		Password:       aws.String(password),
		SecretHash:     p.secretHash(email),
		UserAttributes: attrs,
	})
	if err != nil {
		if apiCode(err) == excInvalidParameter && strings.Contains(strings.ToLower(errMessage(err)), "password") {
			return domain.SignUpResult{}, domain.Wrap(err, domain.Invalid, msgWeakPassword)
		}
		return domain.SignUpResult{}, translate(err)
	}
	return domain.SignUpResult{UserID: aws.ToString(out.UserSub), ConfirmationRequired: !out.UserConfirmed}, nil
}

// ConfirmSignUp confirms the account with the mailed code. Returns Invalid
// for a wrong, used or expired code and also for an unknown email or an
// account that is already confirmed (no enumeration), TooManyRequests when
// throttled.
func (p *Provider) ConfirmSignUp(ctx context.Context, email, code string) error {
	c, err := p.client.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{
		ClientId:         aws.String(p.cfg.ClientID),
		Username:         aws.String(email),
		ConfirmationCode: aws.String(code),
		SecretHash:       p.secretHash(email),
	})
	return codeError(err)
}

// codeError translates the answer of a call that checks a mailed code:
// anything that says "no such user" or "not in that state" is reported like
// a wrong code.
func codeError(err error) error {
	switch apiCode(err) {
	case "":
		if err == nil {
			return nil
		}
	case excUserNotFound, excNotAuthorized, excInvalidParameter, excCodeMismatch, excExpiredCode:
		if !strings.Contains(strings.ToLower(errMessage(err)), "attempts exceeded") {
			return domain.Wrap(err, domain.Invalid, msgBadCode)
		}
	}
	return translate(err)
}

// SignIn checks the password (USER_PASSWORD_AUTH) and returns the tokens.
// Returns Unauthenticated for an unknown email or a wrong password (one
// message for both), UserNotConfirmed, TooManyRequests when Cognito throttles
// or locks the account, Forbidden when the pool demands a further step this
// API does not offer (MFA, new password).
func (p *Provider) SignIn(ctx context.Context, email, password string) (domain.Tokens, error) {
	c, err := p.client.get(ctx)
	if err != nil {
		return domain.Tokens{}, err
	}
	params := map[string]string{"USERNAME": email, "PASSWORD": password}
	if h := p.secretHash(email); h != nil {
		params["SECRET_HASH"] = *h
	}
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId:       aws.String(p.cfg.ClientID),
		AuthFlow:       types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: params,
	})
	if err != nil {
		if apiCode(err) == excInvalidPassword {
			// Cognito answers a wrong password with NotAuthorized; an
			// InvalidPassword here (cognito-local does it) still only means
			// bad credentials, and a 400 would tell that the email exists.
			return domain.Tokens{}, domain.Wrap(err, domain.Unauthenticated, msgBadCredentials)
		}
		return domain.Tokens{}, translate(err)
	}
	if out.ChallengeName != "" {
		return domain.Tokens{}, domain.Errorf(domain.Forbidden, "sign-in needs a step this API does not support (%s)", out.ChallengeName)
	}
	return p.tokens(out.AuthenticationResult, true)
}

// Refresh exchanges a refresh token for new access and id tokens
// (REFRESH_TOKEN_AUTH; GetTokensFromRefreshToken for a client with a
// secret, whose SECRET_HASH would need the user's internal username).
// Returns Unauthenticated for an unknown, expired or revoked refresh token,
// TooManyRequests, Unavailable.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (domain.Tokens, error) {
	if refreshToken == "" || len(refreshToken) > maxRefreshTokenLen {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, msgBadRefresh)
	}
	c, err := p.client.get(ctx)
	if err != nil {
		return domain.Tokens{}, err
	}
	var res *types.AuthenticationResultType
	if p.cfg.ClientSecret != "" {
		out, e := c.GetTokensFromRefreshToken(ctx, &cip.GetTokensFromRefreshTokenInput{
			ClientId:     aws.String(p.cfg.ClientID),
			ClientSecret: aws.String(p.cfg.ClientSecret),
			RefreshToken: aws.String(refreshToken),
		})
		if out != nil {
			res = out.AuthenticationResult
		}
		err = e
	} else {
		out, e := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
			ClientId:       aws.String(p.cfg.ClientID),
			AuthFlow:       types.AuthFlowTypeRefreshTokenAuth,
			AuthParameters: map[string]string{"REFRESH_TOKEN": refreshToken},
		})
		if out != nil {
			res = out.AuthenticationResult
		}
		err = e
	}
	if err != nil {
		switch apiCode(err) {
		case excNotAuthorized, excUserNotFound, excInvalidParameter, excUserNotConfirmed, excPasswordResetRequired:
			return domain.Tokens{}, domain.Wrap(err, domain.Unauthenticated, msgBadRefresh)
		}
		return domain.Tokens{}, translate(err)
	}
	t, err := p.tokens(res, false)
	if err != nil {
		return domain.Tokens{}, err
	}
	// With refresh token rotation Cognito returns a new refresh token,
	// which the client must keep; without it none.
	t.RefreshToken = aws.ToString(res.RefreshToken)
	return t, nil
}

// tokens converts an authentication result. Cognito sends ExpiresIn;
// cognito-local does not, so it is then read from the access token's exp.
func (p *Provider) tokens(res *types.AuthenticationResultType, withRefresh bool) (domain.Tokens, error) {
	if res == nil || aws.ToString(res.AccessToken) == "" || aws.ToString(res.IdToken) == "" ||
		(withRefresh && aws.ToString(res.RefreshToken) == "") {
		return domain.Tokens{}, domain.Errorf(domain.Internal, "cognito returned incomplete tokens")
	}
	t := domain.Tokens{
		AccessToken:  aws.ToString(res.AccessToken),
		IDToken:      aws.ToString(res.IdToken),
		RefreshToken: aws.ToString(res.RefreshToken),
		ExpiresIn:    time.Duration(res.ExpiresIn) * time.Second,
	}
	if t.ExpiresIn <= 0 {
		if exp, ok := unverifiedExp(t.AccessToken); ok {
			t.ExpiresIn = exp.Sub(p.clock.Now()).Truncate(time.Second)
		}
		if t.ExpiresIn <= 0 {
			return domain.Tokens{}, domain.Errorf(domain.Internal, "cognito returned an access token without a lifetime")
		}
	}
	return t, nil
}

// maxRefreshTokenLen bounds the refresh tokens sent to Cognito (its own
// are a few KiB).
const maxRefreshTokenLen = 16 << 10

// tokenClaims are the claims read from a token without a check of its own.
type tokenClaims struct {
	Exp      int64  `json:"exp"`
	Username string `json:"username"`
}

// readClaims decodes the payload of a JWT. It checks nothing: callers use
// it only on a token just received from Cognito over TLS or on one already
// verified.
func readClaims(token string) (tokenClaims, bool) {
	var c tokenClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return tokenClaims{}, false
	}
	return c, true
}

// unverifiedExp reads the exp claim of a token just received from Cognito
// over TLS; it is only a lifetime hint for the client, never a check.
func unverifiedExp(token string) (time.Time, bool) {
	c, ok := readClaims(token)
	if !ok || c.Exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(c.Exp, 0), true
}

// tokenUsername returns the Cognito username (`username` claim) of a
// verified access token, the name a SECRET_HASH is computed for once the
// user is signed in; sub when the claim is missing (in a pool whose users
// sign in with their email, the username Cognito generates is the sub).
func tokenUsername(accessToken, sub string) string {
	if c, ok := readClaims(accessToken); ok && c.Username != "" {
		return c.Username
	}
	return sub
}

// ResendConfirmation lets Cognito mail a new confirmation code
// (ResendConfirmationCode). Returns nil for an unknown or already
// confirmed email ("User is already confirmed."; no enumeration);
// TooManyRequests when throttled, Unavailable.
func (p *Provider) ResendConfirmation(ctx context.Context, email string) error {
	return p.mailCode(ctx, func(c *cip.Client) error {
		_, err := c.ResendConfirmationCode(ctx, &cip.ResendConfirmationCodeInput{
			ClientId: aws.String(p.cfg.ClientID), Username: aws.String(email), SecretHash: p.secretHash(email),
		})
		return err
	})
}

// ForgotPassword lets Cognito mail a reset code. Returns nil for an unknown
// email or one that cannot receive codes (no enumeration); TooManyRequests
// when throttled, Unavailable.
func (p *Provider) ForgotPassword(ctx context.Context, email string) error {
	return p.mailCode(ctx, func(c *cip.Client) error {
		_, err := c.ForgotPassword(ctx, &cip.ForgotPasswordInput{
			ClientId: aws.String(p.cfg.ClientID), Username: aws.String(email), SecretHash: p.secretHash(email),
		})
		return err
	})
}

// mailCode runs a call that has Cognito mail a code and keeps quiet about
// why nothing was sent: an unknown user, or one that cannot get this code,
// answers nil like a sent code. Throttling and outages are returned.
func (p *Provider) mailCode(ctx context.Context, send func(c *cip.Client) error) error {
	c, err := p.client.get(ctx)
	if err != nil {
		return err
	}
	err = send(c)
	switch apiCode(err) {
	case excUserNotFound, excInvalidParameter, excNotAuthorized:
		if terr := translate(err); isThrottleOrOutage(terr) {
			return terr
		}
		return nil
	}
	return translate(err)
}

// ConfirmForgotPassword sets the new password with the mailed code, then
// revokes the account's refresh tokens (AdminUserGlobalSignOut) and returns
// the account's user id, its `sub` (AdminGetUser by the email; the reset
// itself answers nothing). Returns Invalid for a wrong or expired code (also
// for an unknown email, and for an account deleted right after the reset)
// or a password that breaks the pool's policy, TooManyRequests when
// throttled, Unavailable when Cognito cannot be reached; when the sign-out
// or the look-up after the reset fails (TooManyRequests, Unavailable), the
// new password is already set.
func (p *Provider) ConfirmForgotPassword(ctx context.Context, email, code, newPassword string) (string, error) {
	c, err := p.client.get(ctx)
	if err != nil {
		return "", err
	}
	_, err = c.ConfirmForgotPassword(ctx, &cip.ConfirmForgotPasswordInput{
		ClientId:         aws.String(p.cfg.ClientID),
		Username:         aws.String(email),
		ConfirmationCode: aws.String(code),
		Password:         aws.String(newPassword),
		SecretHash:       p.secretHash(email),
	})
	if apiCode(err) == excInvalidPassword {
		return "", domain.Wrap(err, domain.Invalid, msgWeakPassword)
	}
	if err != nil {
		return "", codeError(err)
	}
	// Cognito keeps the sessions of a reset account; the port promises
	// they end, so sign the user out everywhere (refresh tokens revoked).
	_, err = c.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{
		UserPoolId: aws.String(p.cfg.UserPoolID), Username: aws.String(email),
	})
	switch apiCode(err) {
	case "":
		if err != nil {
			return "", translate(err)
		}
	case excEmulatorUnsupported, excUserNotFound:
		// cognito-local lacks the operation; a user deleted meanwhile has
		// no sessions left (and is answered below).
	default:
		return "", translate(err)
	}
	// The email is an alias of the user in a pool whose users sign in
	// with it, so the admin API finds the user by it.
	out, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{
		UserPoolId: aws.String(p.cfg.UserPoolID), Username: aws.String(email),
	})
	if apiCode(err) == excUserNotFound {
		return "", domain.Wrap(err, domain.Invalid, msgBadCode)
	}
	if err != nil {
		return "", translate(err)
	}
	sub := attrMap(out.UserAttributes)["sub"]
	if sub == "" {
		return "", domain.Errorf(domain.Internal, "cognito returned a user without a sub")
	}
	return sub, nil
}

// SignOut ends the sessions of the access token's user: GlobalSignOut
// revokes every refresh token of that user (refreshToken among them when it
// is theirs) and their access tokens, and this provider's verifier refuses
// the user's earlier access tokens from then on. A refresh token of another
// user is never revoked, and the answer is the same as for a worthless one.
// The access token is first verified here (signature, issuer, client,
// token_use, expiry), so a forged one costs no Cognito call; GlobalSignOut
// then refuses one that Cognito already revoked. Returns Unauthenticated for
// an invalid access token, TooManyRequests, Unavailable (also when the
// pool's keys cannot be fetched).
//
// cognito-local has no GlobalSignOut: when the service answers that it does
// not implement the operation (only the emulator does), SignOut revokes
// refreshToken alone, once it has proved that the token is the caller's
// (see revokeOwnRefreshToken), and succeeds whoever owns the token: the
// app's stored revocation (core/sessions) is what ends the caller's access
// tokens there, and the caller's other refresh tokens outlive the sign-out
// on the emulator only.
func (p *Provider) SignOut(ctx context.Context, accessToken, refreshToken string) error {
	caller, err := p.verifier.jwt.Verify(ctx, accessToken)
	if err != nil {
		return err
	}
	c, err := p.client.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.GlobalSignOut(ctx, &cip.GlobalSignOutInput{AccessToken: aws.String(accessToken)})
	switch apiCode(err) {
	case "":
		if err != nil {
			return translate(err)
		}
	case excNotAuthorized, excInvalidParameter, excUserNotFound:
		return domain.Wrap(err, domain.Unauthenticated, msgBadAccess)
	case excEmulatorUnsupported:
		_, rerr := p.revokeOwnRefreshToken(ctx, c, accessToken, caller.UserID, refreshToken)
		if rerr == nil {
			p.revoked.revoke(caller.UserID)
		}
		return rerr
	default:
		return translate(err)
	}
	// Cognito accepted the token: the verifier now refuses the user's
	// older tokens.
	p.revoked.revoke(caller.UserID)
	return nil
}

// revokeOwnRefreshToken revokes refreshToken (RevokeToken) only once it is
// proved to belong to the caller, whose verified access token and `sub` are
// given, and reports whether it did. A refresh token is opaque, so the proof
// is to redeem it (REFRESH_TOKEN_AUTH, with a SECRET_HASH computed for the
// caller's username when the client has a secret, which Cognito refuses for
// another user's token) and to verify the access token that comes back with
// the pool's keys, like any bearer token, and compare its `sub`: a verified
// signature, rather than claims decoded on trust, keeps the decision sound
// even if the endpoint is not Cognito itself (a misrouted or intercepted
// call), and the pool's keys are already cached from the caller's token.
// A token that cannot be redeemed, that fails verification or that is
// another user's is left alone without an error; throttling and outages are
// returned (they say nothing about the token).
func (p *Provider) revokeOwnRefreshToken(ctx context.Context, c *cip.Client, accessToken, callerID, refreshToken string) (bool, error) {
	if refreshToken == "" || len(refreshToken) > maxRefreshTokenLen {
		return false, nil
	}
	params := map[string]string{"REFRESH_TOKEN": refreshToken}
	if h := p.secretHash(tokenUsername(accessToken, callerID)); h != nil {
		params["SECRET_HASH"] = *h
	}
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId:       aws.String(p.cfg.ClientID),
		AuthFlow:       types.AuthFlowTypeRefreshTokenAuth,
		AuthParameters: params,
	})
	if err != nil {
		if terr := translate(err); isThrottleOrOutage(terr) {
			return false, terr
		}
		return false, nil
	}
	if out.AuthenticationResult == nil {
		return false, nil
	}
	owner, err := p.verifier.jwt.Verify(ctx, aws.ToString(out.AuthenticationResult.AccessToken))
	if err != nil || owner.UserID != callerID {
		return false, nil
	}
	in := &cip.RevokeTokenInput{ClientId: aws.String(p.cfg.ClientID), Token: aws.String(refreshToken)}
	if p.cfg.ClientSecret != "" {
		in.ClientSecret = aws.String(p.cfg.ClientSecret)
	}
	_, err = c.RevokeToken(ctx, in)
	switch apiCode(err) {
	case "":
		if err != nil {
			return false, translate(err)
		}
	case excNotAuthorized, excUnsupportedTokenType, excInvalidParameter:
		// Redeemed a moment ago, gone now: revoked meanwhile.
	default:
		return false, translate(err)
	}
	return true, nil
}

// userIDRE is the shape of a user id (Cognito `sub`, a UUID); anything else
// cannot name a user, and never reaches a ListUsers filter.
var userIDRE = regexp.MustCompile(`^[0-9A-Za-z-]+$`) // at most 64 bytes, checked apart (cheaper to compile)

// GetIdentity returns the account whose `sub` is userID (AdminGetUser; for
// users whose username is not their sub, such as social sign-ins, a
// ListUsers lookup by sub). Returns NotFound for an unknown user,
// TooManyRequests, Unavailable.
func (p *Provider) GetIdentity(ctx context.Context, userID string) (domain.Identity, error) {
	u, err := p.findUser(ctx, userID)
	if err != nil {
		return domain.Identity{}, err
	}
	id := domain.Identity{UserID: u.sub, Email: u.attrs["email"], DisplayName: u.attrs["name"]}
	switch u.status {
	case types.UserStatusTypeConfirmed, types.UserStatusTypeExternalProvider, types.UserStatusTypeResetRequired:
		id.Confirmed = true
	}
	return id, nil
}

// DeleteIdentity deletes the account whose `sub` is userID (AdminDeleteUser):
// its refresh tokens stop working, and this provider's verifier refuses its
// access tokens. Deleting an unknown user is not an error. Returns
// TooManyRequests, Unavailable.
func (p *Provider) DeleteIdentity(ctx context.Context, userID string) error {
	u, err := p.findUser(ctx, userID)
	if domain.IsCode(err, domain.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := p.client.get(ctx)
	if err != nil {
		return err
	}
	_, err = c.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(p.cfg.UserPoolID), Username: aws.String(u.username)})
	if err != nil && apiCode(err) != excUserNotFound {
		return translate(err)
	}
	p.revoked.revoke(userID)
	return nil
}

// poolUser is what GetIdentity and DeleteIdentity need of a user.
type poolUser struct {
	username string
	sub      string
	status   types.UserStatusType
	attrs    map[string]string
}

// findUser resolves a user id (sub) to the pool's user. Returns NotFound.
func (p *Provider) findUser(ctx context.Context, userID string) (poolUser, error) {
	notFound := domain.Errorf(domain.NotFound, "user not found")
	if len(userID) > 64 || !userIDRE.MatchString(userID) {
		return poolUser{}, notFound
	}
	c, err := p.client.get(ctx)
	if err != nil {
		return poolUser{}, err
	}
	// In a pool whose users sign in with their email, the username Cognito
	// generates is the sub, so one AdminGetUser usually does it.
	out, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(p.cfg.UserPoolID), Username: aws.String(userID)})
	switch {
	case err == nil:
		u := poolUser{username: aws.ToString(out.Username), status: out.UserStatus, attrs: attrMap(out.UserAttributes)}
		u.sub = u.attrs["sub"]
		if u.sub == userID {
			return u, nil
		}
	case apiCode(err) != excUserNotFound:
		return poolUser{}, translate(err)
	}
	list, err := c.ListUsers(ctx, &cip.ListUsersInput{
		UserPoolId: aws.String(p.cfg.UserPoolID),
		Filter:     aws.String(`sub = "` + userID + `"`),
		Limit:      aws.Int32(2),
	})
	if err != nil {
		return poolUser{}, translate(err)
	}
	for _, lu := range list.Users {
		u := poolUser{username: aws.ToString(lu.Username), status: lu.UserStatus, attrs: attrMap(lu.Attributes)}
		u.sub = u.attrs["sub"]
		if u.sub == userID {
			return u, nil
		}
	}
	return poolUser{}, notFound
}

func attrMap(attrs []types.AttributeType) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return m
}

// Ping checks that the pool's key set can be fetched (the issuer's
// well-known JWKS URL, no credentials needed), for a readiness probe.
// Returns Unavailable.
func (p *Provider) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.JWKSURL(), nil)
	if err != nil {
		return domain.Wrap(err, domain.Internal, "jwks request")
	}
	client := p.opts.Verifier.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return domain.Wrap(err, domain.Unavailable, msgUnavailable)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return domain.Errorf(domain.Unavailable, "%s: the pool's JWKS answered %d", msgUnavailable, res.StatusCode)
	}
	return nil
}
