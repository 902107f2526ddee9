// Package jwtauth verifies Cognito-shaped RS256 JSON Web Tokens against a
// JSON Web Key Set. The same Verifier checks tokens of an Amazon Cognito user
// pool (keys from the pool's jwks.json URL) and tokens of the local identity
// provider (keys from its JWKS function), so both modes share one code path.
//
// Signature checks use github.com/golang-jwt/jwt/v5; keys are parsed by
// github.com/MicahParks/jwkset and looked up through
// github.com/MicahParks/keyfunc/v3.
package jwtauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Limits and defaults of the Verifier.
const (
	// MaxTokenSize is the largest token accepted, in bytes. Longer tokens are
	// refused before any parsing (Cognito tokens are a few KiB at most).
	MaxTokenSize = 16 << 10
	// DefaultLeeway is the clock-skew allowance on exp, iat and nbf.
	DefaultLeeway = 10 * time.Second
	// MaxLeeway bounds Config.Leeway: leeway is for clock skew only.
	MaxLeeway = 5 * time.Minute
	// DefaultCacheSize is the number of verified tokens kept by default.
	DefaultCacheSize = 10_000
	// UnknownKIDRefreshInterval is the least time between two JWKS fetches
	// caused by tokens whose kid is not in the cached key set.
	UnknownKIDRefreshInterval = time.Minute
	// KeysMaxAge is how long a fetched key set is used before the next
	// verification that needs a key refreshes it (so removed keys stop
	// working). A failed refresh keeps the old keys.
	KeysMaxAge = time.Hour
	// FailedFetchRetry is how long verifications answer Unavailable without a
	// new attempt after the first JWKS fetch failed.
	FailedFetchRetry = 5 * time.Second
)

// Client-safe error messages.
const (
	msgInvalid     = "invalid token"
	msgExpired     = "token expired"
	msgUnavailable = "token signing keys are unavailable"
	// msgIDToken answers a genuine id token of a configured client sent
	// where an access token belongs (a common client mistake).
	msgIDToken = "token_use is id: send the access token"
)

// Config configures a Verifier.
type Config struct {
	// Issuer is the exact `iss` every token must carry, e.g.
	// https://cognito-idp.<region>.amazonaws.com/<pool id>.
	Issuer string
	// ClientIDs are the app clients whose tokens are accepted (`client_id`
	// of access tokens, `aud` of id tokens). At least one.
	ClientIDs []string
	// JWKSURL is where the key set is fetched, e.g. <Issuer>/.well-known/jwks.json.
	JWKSURL string
	// JWKS is a static source of the key set; when set it is used instead
	// of JWKSURL (the local identity provider in local mode, tests).
	JWKS func(ctx context.Context) ([]byte, error)
	// HTTPClient fetches JWKSURL; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Clock tells the time for expiry checks and refresh limits; nil means
	// the system clock.
	Clock ports.Clock
	// Leeway allows for clock skew on exp, iat and nbf; 0 means
	// DefaultLeeway. At most MaxLeeway.
	Leeway time.Duration
	// CacheSize is how many verified tokens are remembered until they
	// expire: 0 means DefaultCacheSize, a negative value disables the cache.
	CacheSize int
}

// Verifier verifies access tokens (and id tokens with VerifyID). It is safe
// for concurrent use. Keys are fetched on first use, not by NewVerifier.
type Verifier struct {
	issuer    string
	clientIDs []string
	clock     ports.Clock
	leeway    time.Duration
	keys      *keyStore
	cache     *tokenCache // nil when disabled
	parsers   [2]*jwt.Parser
}

var _ ports.TokenVerifier = (*Verifier)(nil)

// tokenUse is the kind of token a verification expects.
type tokenUse uint8

const (
	useAccess tokenUse = iota
	useID
)

func (u tokenUse) String() string {
	if u == useID {
		return "id"
	}
	return "access"
}

// NewVerifier checks cfg and returns a Verifier. It does no network I/O.
// Returns Invalid for a bad configuration (missing issuer or clients, no key
// source, a malformed JWKS URL, leeway out of range).
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, domain.Errorf(domain.Invalid, "jwtauth: issuer is required")
	}
	if len(cfg.ClientIDs) == 0 || slices.Contains(cfg.ClientIDs, "") {
		return nil, domain.Errorf(domain.Invalid, "jwtauth: at least one non-empty client id is required")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, domain.Errorf(domain.Invalid, "jwtauth: leeway must be between 0 and %s", MaxLeeway)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Clock == nil {
		cfg.Clock = system.Clock{}
	}
	source := cfg.JWKS
	if source == nil {
		u, err := url.Parse(cfg.JWKSURL)
		if cfg.JWKSURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, domain.Errorf(domain.Invalid, "jwtauth: JWKSURL must be an absolute http(s) URL when JWKS is not set")
		}
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: fetchTimeout}
		}
		source = httpSource(client, cfg.JWKSURL)
	}
	v := &Verifier{
		issuer:    cfg.Issuer,
		clientIDs: slices.Clone(cfg.ClientIDs),
		clock:     cfg.Clock,
		leeway:    cfg.Leeway,
		keys:      newKeyStore(source, cfg.Clock),
	}
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	common := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Clock.Now),
		// Strict base64: one token has exactly one encoding, so a cached
		// hash cannot be sidestepped and odd trailing bits are refused.
		jwt.WithStrictDecoding(),
	}
	v.parsers[useAccess] = jwt.NewParser(common...)
	v.parsers[useID] = jwt.NewParser(append(slices.Clone(common), jwt.WithAudience(v.clientIDs...))...)
	return v, nil
}

// Verify checks an access token: size, RS256 signature by a key of the
// JWKS named by the token's kid, issuer, token_use "access", client_id, sub,
// and expiry (with leeway for exp, iat and nbf). It returns the principal:
// UserID (sub), ClientID, TokenID (jti), Groups (cognito:groups), Email when
// the token carries one, ExpiresAt. Returns Unauthenticated for any token
// that fails a check ("token expired" for an expired one, "invalid token"
// otherwise) and Unavailable when the key set cannot be fetched. An id token
// that passes every check an id token must pass (VerifyID's, signature
// first) is refused with "token_use is id: send the access token".
func (v *Verifier) Verify(ctx context.Context, token string) (domain.Principal, error) {
	return v.verify(ctx, token, useAccess)
}

// VerifyID checks an id token like Verify does an access token, except that
// token_use must be "id" and `aud` one of the configured clients. The
// principal's Email is the token's email claim. Same errors as Verify.
func (v *Verifier) VerifyID(ctx context.Context, token string) (domain.Principal, error) {
	return v.verify(ctx, token, useID)
}

// claims are the claims of a Cognito access or id token that matter here.
type claims struct {
	jwt.RegisteredClaims
	TokenUse string   `json:"token_use"`
	ClientID string   `json:"client_id"`
	Groups   []string `json:"cognito:groups"`
	Email    string   `json:"email"`
	// AuthTime is when the user signed in (seconds); refreshed tokens keep it.
	AuthTime *jwt.NumericDate `json:"auth_time"`
}

func (v *Verifier) verify(ctx context.Context, token string, use tokenUse) (domain.Principal, error) {
	if token == "" || len(token) > MaxTokenSize {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, msgInvalid)
	}
	var key cacheKey
	if v.cache != nil {
		// Hash the string's bytes in place: Sum256 only reads them, and
		// converting would copy (and allocate) the whole token per request.
		key = cacheKey{use: use, sum: sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))}
		if p, ok := v.cache.get(key, v.clock.Now(), v.leeway); ok {
			return p, nil
		}
	}
	// Only the compact serialisation's alphabet: base64 decoders skip line
	// breaks, which would let one token have many spellings.
	if !compactJWS(token) {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, msgInvalid)
	}
	var c claims
	_, err := v.parsers[use].ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return v.keys.key(ctx, t)
	})
	if err != nil {
		return domain.Principal{}, classify(err)
	}
	p, err := v.principal(&c, use)
	if err != nil {
		return domain.Principal{}, err
	}
	if v.cache != nil {
		v.cache.put(key, p, v.clock.Now())
	}
	p.Groups = slices.Clone(p.Groups)
	return p, nil
}

// compactJWS reports whether token uses only base64url characters and dots.
func compactJWS(token string) bool {
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// principal applies the Cognito-specific checks the parser does not know.
// c comes from a token whose signature, issuer and times already checked out.
func (v *Verifier) principal(c *claims, use tokenUse) (domain.Principal, error) {
	if c.TokenUse != use.String() || c.Subject == "" || c.ExpiresAt == nil {
		if use == useAccess && v.isIDToken(c) {
			return domain.Principal{}, domain.Errorf(domain.Unauthenticated, msgIDToken)
		}
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, msgInvalid)
	}
	p := domain.Principal{
		UserID:    c.Subject,
		Email:     c.Email,
		Groups:    c.Groups,
		TokenID:   c.ID,
		ExpiresAt: c.ExpiresAt.UTC(),
	}
	// The session began at auth_time; without it, at iat (revocations
	// compare it). Neither leaves the zero time, which any revocation ends.
	switch {
	case c.AuthTime != nil:
		p.AuthTime = c.AuthTime.UTC()
	case c.IssuedAt != nil:
		p.AuthTime = c.IssuedAt.UTC()
	}
	switch use {
	case useAccess:
		// Cognito access tokens carry the client in client_id, not aud.
		if !slices.Contains(v.clientIDs, c.ClientID) {
			return domain.Principal{}, domain.Errorf(domain.Unauthenticated, msgInvalid)
		}
		p.ClientID = c.ClientID
	case useID:
		// The parser already checked that aud holds a configured client.
		for _, a := range c.Audience {
			if slices.Contains(v.clientIDs, a) {
				p.ClientID = a
				break
			}
		}
	}
	return p, nil
}

// isIDToken reports whether c, already checked like any token, is an id
// token VerifyID would accept: the hint is only given for those, so it says
// nothing about tokens of other clients.
func (v *Verifier) isIDToken(c *claims) bool {
	return c.TokenUse == useID.String() && c.Subject != "" && c.ExpiresAt != nil &&
		slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(v.clientIDs, a) })
}

// classify turns a parser error into the domain error the port documents.
func classify(err error) error {
	var unavailable *unavailableError
	switch {
	case errors.As(err, &unavailable):
		return domain.Wrap(unavailable.err, domain.Unavailable, msgUnavailable)
	case errors.Is(err, jwt.ErrTokenExpired):
		// Only a token with a valid signature gets here: the parser
		// validates claims after the signature.
		return domain.Wrap(err, domain.Unauthenticated, msgExpired)
	default:
		return domain.Wrap(err, domain.Unauthenticated, msgInvalid)
	}
}
