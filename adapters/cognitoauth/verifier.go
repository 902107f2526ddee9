package cognitoauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// MaxAccessTokenTTL is the longest access token lifetime Cognito allows
// (one day); a revocation is remembered that long.
const MaxAccessTokenTTL = 24 * time.Hour

// maxRevocations bounds the revocation list; beyond it the oldest entries
// that can no longer matter are dropped first.
const maxRevocations = 100_000

// VerifierOptions tune the token verifier of a Provider.
type VerifierOptions struct {
	// HTTPClient fetches the JWKS; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// CacheSize is the number of verified tokens remembered (see
	// jwtauth.Config.CacheSize): 0 the default, negative none.
	CacheSize int
	// Leeway is the clock-skew allowance (jwtauth.DefaultLeeway when 0).
	Leeway time.Duration
}

// Verifier verifies the pool's access tokens with jwtauth (RS256 only, kid
// looked up in the pool's JWKS, cached, refreshed on an unknown kid at most
// once a minute, exact issuer, token_use, client, exp) and then refuses the
// tokens of users that this process signed out globally or deleted, issued
// before that happened: Cognito revokes those server-side, but a signature
// check alone would accept them until they expire. Safe for concurrent use.
type Verifier struct {
	jwt     *jwtauth.Verifier
	revoked *revocations
}

var _ ports.TokenVerifier = (*Verifier)(nil)

// newVerifier configures jwtauth for the pool described by cfg.
func newVerifier(cfg Config, clock ports.Clock, opts VerifierOptions, revoked *revocations) (*Verifier, error) {
	v, err := jwtauth.NewVerifier(jwtauth.Config{
		Issuer:     cfg.IssuerURL(),
		ClientIDs:  cfg.ClientIDs(),
		JWKSURL:    cfg.JWKSURL(),
		HTTPClient: opts.HTTPClient,
		Clock:      clock,
		Leeway:     opts.Leeway,
		CacheSize:  opts.CacheSize,
	})
	if err != nil {
		return nil, err
	}
	return &Verifier{jwt: v, revoked: revoked}, nil
}

// Verify checks an access token of the pool (see jwtauth.Verifier.Verify)
// and that its user was not signed out or deleted through this process
// after the token was issued. Returns Unauthenticated for any failed check,
// Unavailable when the JWKS cannot be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (domain.Principal, error) {
	p, err := v.jwt.Verify(ctx, token)
	if err != nil {
		return domain.Principal{}, err
	}
	if v.revoked.refuses(p.UserID, token) {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, "token revoked")
	}
	return p, nil
}

// VerifyID checks an id token of the pool (token_use "id", `aud` one of
// the clients) like Verify. Same errors as Verify.
func (v *Verifier) VerifyID(ctx context.Context, token string) (domain.Principal, error) {
	p, err := v.jwt.VerifyID(ctx, token)
	if err != nil {
		return domain.Principal{}, err
	}
	if v.revoked.refuses(p.UserID, token) {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, "token revoked")
	}
	return p, nil
}

// revocations remembers, per user id, when its tokens were revoked.
type revocations struct {
	clock ports.Clock
	mu    sync.RWMutex
	at    map[string]time.Time // user id -> revocation time
}

func newRevocations(clock ports.Clock) *revocations {
	if clock == nil {
		clock = system.Clock{}
	}
	return &revocations{clock: clock, at: make(map[string]time.Time)}
}

// revoke refuses every token of userID issued until now.
func (r *revocations) revoke(userID string) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.at) >= maxRevocations {
		for id, t := range r.at {
			if now.Sub(t) > MaxAccessTokenTTL {
				delete(r.at, id)
			}
		}
		for id := range r.at { // still full: forget arbitrary entries
			if len(r.at) < maxRevocations {
				break
			}
			delete(r.at, id)
		}
	}
	r.at[userID] = now
}

// refuses reports whether token (already verified, of userID) was issued
// no later than its user's revocation. The common case, a user never
// revoked here, costs one map lookup.
func (r *revocations) refuses(userID, token string) bool {
	r.mu.RLock()
	at, ok := r.at[userID]
	r.mu.RUnlock()
	if !ok {
		return false
	}
	iat, ok := issuedAt(token)
	// iat has whole seconds: a token from the revocation's own second is
	// refused too, since it may predate the revocation.
	return !ok || iat <= at.Unix()
}

// issuedAt reads the iat claim of a token whose signature was verified.
func issuedAt(token string) (int64, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0, false
	}
	var c struct {
		IAT *json.Number `json:"iat"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.IAT == nil {
		return 0, false
	}
	f, err := c.IAT.Float64()
	if err != nil {
		return 0, false
	}
	return int64(f), true
}
