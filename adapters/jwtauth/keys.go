package jwtauth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cloudpost/cloudpost/ports"
)

const (
	// fetchTimeout bounds one JWKS fetch.
	fetchTimeout = 10 * time.Second
	// maxJWKSSize bounds the key set document (Cognito's is about 1 KiB).
	maxJWKSSize = 1 << 20
	// maxKIDLen bounds the kid header; longer ones are refused before lookup.
	maxKIDLen = 256
	// minRSABits refuses weak keys even if a key set publishes them.
	minRSABits = 2048
)

var (
	errNoKID      = errors.New("token header has no usable kid")
	errCrit       = errors.New("token header has critical extensions")
	errUnknownKID = errors.New("kid is not in the key set")
	errWeakKey    = errors.New("key is not an RSA key of at least 2048 bits")
)

// unavailableError marks a key lookup that failed because the key set could
// not be fetched (as opposed to a bad token).
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "jwks unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// keySet is one fetched JWKS, immutable once stored.
type keySet struct {
	kf        keyfunc.Keyfunc
	fetchedAt time.Time
}

// keyStore caches the key set and decides when it may be fetched again:
// once on first use, again for an unknown kid at most once per
// UnknownKIDRefreshInterval, and when older than KeysMaxAge.
type keyStore struct {
	source  func(ctx context.Context) ([]byte, error)
	clock   ports.Clock
	current atomic.Pointer[keySet]

	// mu serialises fetches: concurrent verifications needing keys share
	// one fetch instead of each making its own.
	mu          sync.Mutex
	lastAttempt time.Time // guarded by mu
	lastErr     error     // guarded by mu; error of the last failed attempt
}

func newKeyStore(source func(ctx context.Context) ([]byte, error), clock ports.Clock) *keyStore {
	return &keyStore{source: source, clock: clock}
}

// key is the jwt.Keyfunc: it returns the RSA public key named by the
// token's kid, fetching the key set when the rules above allow.
func (s *keyStore) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" || len(kid) > maxKIDLen {
		return nil, errNoKID
	}
	// RFC 7515 4.1.11: extensions listed in crit must be understood; we
	// understand none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	ks := s.current.Load()
	if ks != nil {
		k, err := ks.lookup(ctx, t)
		if err == nil {
			if s.clock.Now().Sub(ks.fetchedAt) >= KeysMaxAge {
				s.refreshStale(ctx, ks)
			}
			return k, nil
		}
		if !errors.Is(err, errUnknownKID) {
			return nil, err
		}
	}
	return s.refresh(ctx, ks, t)
}

// refresh fetches the key set for a token whose kid was not found in seen
// (nil: no key set yet), unless the rate limits forbid it.
func (s *keyStore) refresh(ctx context.Context, seen *keySet, t *jwt.Token) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.current.Load(); cur != seen {
		// Another verification fetched while this one waited: use its keys.
		return cur.lookup(ctx, t)
	}
	now := s.clock.Now()
	switch {
	case seen == nil && !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < FailedFetchRetry:
		return nil, &unavailableError{s.lastErr}
	case seen != nil && now.Sub(s.lastAttempt) < UnknownKIDRefreshInterval:
		return nil, errUnknownKID
	}
	s.lastAttempt = now
	ks, err := s.fetch(ctx, now)
	if err != nil {
		s.lastErr = err
		return nil, &unavailableError{err}
	}
	s.current.Store(ks)
	return ks.lookup(ctx, t)
}

// refreshStale replaces an old key set. Only one caller refreshes; the
// others keep using the old keys meanwhile, as does everyone if it fails.
func (s *keyStore) refreshStale(ctx context.Context, seen *keySet) {
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.current.Load() != seen || now.Sub(s.lastAttempt) < UnknownKIDRefreshInterval {
		return
	}
	s.lastAttempt = now
	if ks, err := s.fetch(ctx, now); err == nil {
		s.current.Store(ks)
	} else {
		s.lastErr = err
	}
}

// fetch reads and parses the key set. Keys that are not RSA signature keys
// for RS256 with a kid are skipped, so one odd key does not break the set.
func (s *keyStore) fetch(ctx context.Context, now time.Time) (*keySet, error) {
	// The fetch serves every waiting verification, so the cancellation of
	// the one that happens to run it must not abort it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	raw, err := s.source(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	if len(raw) > maxJWKSSize {
		return nil, fmt.Errorf("jwks larger than %d bytes", maxJWKSSize)
	}
	var doc jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	store := jwkset.NewMemoryStorage()
	n := 0
	for _, m := range doc.Keys {
		if m.KTY != jwkset.KtyRSA || m.KID == "" ||
			(m.ALG != "" && m.ALG != jwkset.AlgRS256) || (m.USE != "" && m.USE != jwkset.UseSig) {
			continue
		}
		m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.OTH = "", "", "", "", "", "", nil // public part only
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue
		}
		if pub, ok := jwk.Key().(*rsa.PublicKey); !ok || pub.N.BitLen() < minRSABits {
			continue
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			return nil, fmt.Errorf("store jwk: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil, errors.New("jwks has no usable RS256 key")
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: context.Background(), Storage: store})
	if err != nil {
		return nil, fmt.Errorf("keyfunc: %w", err)
	}
	return &keySet{kf: kf, fetchedAt: now}, nil
}

// lookup returns the RSA public key for the token's kid, errUnknownKID when
// the set does not have it.
func (ks *keySet) lookup(ctx context.Context, t *jwt.Token) (any, error) {
	k, err := ks.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			return nil, errUnknownKID
		}
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < minRSABits {
		return nil, errWeakKey
	}
	return pub, nil
}

// httpSource fetches the key set from url with client.
func httpSource(client *http.Client, url string) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
		if err != nil {
			return nil, err
		}
		if len(body) > maxJWKSSize {
			return nil, fmt.Errorf("GET %s: body larger than %d bytes", url, maxJWKSSize)
		}
		return body, nil
	}
}
