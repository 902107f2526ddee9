package localauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

const (
	// Scope is the scope Cognito puts in access tokens of password sign-ins.
	Scope = "aws.cognito.signin.user.admin"
	// maxTokenSize matches the verifier's limit.
	maxTokenSize = 16 << 10
	// signOutLeeway allows for clock skew when SignOut checks expiry.
	signOutLeeway = 10 * time.Second
)

// userClaims is what tokens say about an account.
type userClaims struct {
	userID, email, displayName string
	confirmed                  bool
	groups                     []string
	authTime                   time.Time // zero: the time of issue
}

// signer holds the RSA key, generated lazily once, and signs and checks
// the provider's tokens.
type signer struct {
	issuer, clientID string
	clock            ports.Clock

	once sync.Once
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
	err  error
}

// init generates the key, its kid and the public JWKS document.
func (s *signer) init() error {
	s.once.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			s.err = domain.Wrap(err, domain.Internal, "signing key")
			return
		}
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			s.err = domain.Wrap(err, domain.Internal, "signing key")
			return
		}
		// The kid is derived from the public key, so it names exactly it.
		sum := sha256.Sum256(der)
		kid := base64.RawURLEncoding.EncodeToString(sum[:16])
		jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			ALG: jwkset.AlgRS256, KID: kid, USE: jwkset.UseSig,
		}})
		if err != nil {
			s.err = domain.Wrap(err, domain.Internal, "jwk")
			return
		}
		store := jwkset.NewMemoryStorage()
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			s.err = domain.Wrap(err, domain.Internal, "jwk")
			return
		}
		doc, err := store.JSONPublic(context.Background())
		if err != nil {
			s.err = domain.Wrap(err, domain.Internal, "jwks")
			return
		}
		s.key, s.kid, s.jwks = key, kid, doc
	})
	return s.err
}

// JWKS returns the JSON Web Key Set with the public signing key (no private
// material). The server serves it at /.well-known/jwks.json and feeds it to
// jwtauth.Config.JWKS in local mode. Returns Internal if the key cannot be
// generated.
func (p *Provider) JWKS(context.Context) ([]byte, error) {
	if err := p.signer.init(); err != nil {
		return nil, err
	}
	return append([]byte(nil), p.signer.jwks...), nil
}

// issue signs an access token and an id token shaped like Cognito's.
func (s *signer) issue(c userClaims, now time.Time, ttl time.Duration, ids ports.IDs) (domain.Tokens, error) {
	if err := s.init(); err != nil {
		return domain.Tokens{}, err
	}
	authTime := c.authTime
	if authTime.IsZero() {
		authTime = now
	}
	exp := now.Add(ttl)
	access := jwt.MapClaims{
		"sub":       c.userID,
		"iss":       s.issuer,
		"client_id": s.clientID,
		"token_use": "access",
		"scope":     Scope,
		"auth_time": authTime.Unix(),
		"exp":       exp.Unix(),
		"iat":       now.Unix(),
		"jti":       ids.NewID(),
		"username":  c.userID,
	}
	id := jwt.MapClaims{
		"sub":              c.userID,
		"iss":              s.issuer,
		"aud":              s.clientID,
		"token_use":        "id",
		"email":            c.email,
		"email_verified":   c.confirmed,
		"name":             c.displayName,
		"cognito:username": c.userID,
		"auth_time":        authTime.Unix(),
		"exp":              exp.Unix(),
		"iat":              now.Unix(),
		"jti":              ids.NewID(),
	}
	if len(c.groups) > 0 {
		access["cognito:groups"] = c.groups
		id["cognito:groups"] = c.groups
	}
	accessToken, err := s.sign(access)
	if err != nil {
		return domain.Tokens{}, err
	}
	idToken, err := s.sign(id)
	if err != nil {
		return domain.Tokens{}, err
	}
	return domain.Tokens{AccessToken: accessToken, IDToken: idToken, ExpiresIn: ttl}, nil
}

func (s *signer) sign(c jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = s.kid
	out, err := t.SignedString(s.key)
	if err != nil {
		return "", domain.Wrap(err, domain.Internal, "sign token")
	}
	return out, nil
}

// accessClaims are the claims SignOut checks.
type accessClaims struct {
	jwt.RegisteredClaims
	TokenUse string `json:"token_use"`
	ClientID string `json:"client_id"`
}

// verifyAccess checks an access token of this provider with its own key and
// returns its user id. Returns Unauthenticated.
func (s *signer) verifyAccess(token string) (string, error) {
	bad := domain.Errorf(domain.Unauthenticated, msgBadAccess)
	if token == "" || len(token) > maxTokenSize {
		return "", bad
	}
	if err := s.init(); err != nil {
		return "", err
	}
	var c accessClaims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, jwt.ErrTokenUnverifiable
		}
		return &s.key.PublicKey, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(s.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(signOutLeeway),
		jwt.WithTimeFunc(s.clock.Now),
		jwt.WithStrictDecoding(),
	)
	if err != nil || c.TokenUse != "access" || c.ClientID != s.clientID || c.Subject == "" {
		return "", bad
	}
	return c.Subject, nil
}
