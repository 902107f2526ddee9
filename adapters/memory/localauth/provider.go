// Package localauth is the local identity provider: an in-memory user pool
// that behaves like the Amazon Cognito pool cloudpost uses in AWS. It keeps
// accounts with bcrypt password hashes, mails confirmation and reset codes
// to an in-memory outbox, throttles repeated failures, and issues RS256
// access and id tokens shaped like Cognito's (with the `auth_time` of the
// sign-in, which refreshed tokens keep), whose public keys it publishes as a
// JWKS (served at /.well-known/jwks.json). The server verifies them with the
// same jwtauth.Verifier as Cognito tokens.
//
// bcrypt is slow by design, so the provider bounds it: at most
// Config.MaxConcurrentHashes password hashes or comparisons run at once, and
// a call that cannot get a slot within Config.HashWait answers
// TooManyRequests, so that a flood of sign-ins cannot take all the CPU.
package localauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math/big"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Defaults of Config and the provider's fixed rules.
const (
	DefaultIssuer     = "http://127.0.0.1/local-pool"
	DefaultClientID   = "cloudpost-local"
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// DefaultHashWait is how long a call waits for a password hashing slot
	// (Config.HashWait).
	DefaultHashWait = 200 * time.Millisecond
	// BusyRetryAfter is the RetryAfter of the TooManyRequests answered when
	// no hashing slot frees up in time.
	BusyRetryAfter = time.Second

	// SignUpCodeTTL and ResetCodeTTL are how long mailed codes stay valid.
	SignUpCodeTTL = 24 * time.Hour
	ResetCodeTTL  = time.Hour
	// MaxFailures is how many consecutive failed sign-ins (or wrong codes)
	// an account takes before it is throttled. Each further failure doubles
	// the wait, from BaseLockout up to MaxLockout.
	MaxFailures = 5
	BaseLockout = time.Minute
	MaxLockout  = time.Hour
	// MaxResetMailsPerHour limits ForgotPassword per account, and
	// ResendConfirmation too (counted apart).
	MaxResetMailsPerHour = 5
	// MaxMailsPerAddress is how many messages the outbox keeps per address.
	MaxMailsPerAddress = 20

	// Subjects of the mailed messages, so tests can tell the codes apart.
	SubjectSignUp = "Your cloudpost confirmation code"
	SubjectReset  = "Your cloudpost password reset code"

	maxDisplayNameLen = 2048 // Cognito's attribute limit; the core applies its own
)

// Client-safe messages of the errors the provider returns.
const (
	msgBadCredentials = "incorrect email or password"
	msgBadCode        = "invalid or expired code"
	msgThrottled      = "too many attempts, try again later"
	msgBadRefresh     = "invalid refresh token"
	msgBadAccess      = "invalid access token"
	msgBusy           = "the server is busy: try again in a moment"
)

// Config configures a Provider. Zero fields take the defaults.
type Config struct {
	// Issuer is the `iss` of the tokens (DefaultIssuer).
	Issuer string
	// ClientID is the app client of the tokens (DefaultClientID).
	ClientID string
	// AccessTTL is the lifetime of access and id tokens (1 h).
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens (30 days).
	RefreshTTL time.Duration
	// BcryptCost is the password hashing cost (bcrypt.DefaultCost); tests
	// use bcrypt.MinCost.
	BcryptCost int
	// MaxConcurrentHashes caps the bcrypt operations (hashes, and password
	// checks, including the dummy check for unknown emails) that run at
	// once (runtime.GOMAXPROCS(0)).
	MaxConcurrentHashes int
	// HashWait is how long a call waits for a free hashing slot before it
	// answers TooManyRequests (DefaultHashWait).
	HashWait time.Duration
	// MaxFailures is how many consecutive failed sign-ins (or wrong codes)
	// an account takes before it is throttled, as Cognito does (0: the
	// package's MaxFailures; negative: never). An app that counts failures
	// per account and client address itself (core/limits) turns this off,
	// since an account-wide lock lets anyone who knows an email keep its
	// owner out.
	MaxFailures int
	// Clock tells the time (the system clock).
	Clock ports.Clock
	// IDs makes user ids and token ids (UUIDv7).
	IDs ports.IDs
}

// Message is a mail the provider "sent".
type Message struct {
	To      string
	Subject string
	Code    string
	SentAt  time.Time
}

// Provider is the local identity provider. Safe for concurrent use.
type Provider struct {
	cfg Config

	signer    signer
	hashSlots chan struct{} // a token per running bcrypt operation
	hasher    hasher        // bcrypt; tests count or hold its calls
	dummyOnce sync.Once
	dummyHash []byte // compared against for unknown emails, to equalise timing

	mu       sync.Mutex
	accounts map[string]*account // by normalised email
	byID     map[string]*account
	refresh  map[[32]byte]refreshRecord // by SHA-256 of the token
	outbox   map[string][]Message       // by address, oldest first
}

var _ ports.Identity = (*Provider)(nil)

type account struct {
	userID      string
	email       string
	displayName string
	hash        []byte
	confirmed   bool
	groups      []string

	signUpCode pendingCode
	resetCode  pendingCode
	resetMails []time.Time // ForgotPassword times within the last hour
	codeMails  []time.Time // ResendConfirmation times within the last hour

	signIns   throttle // failed sign-ins
	codeTries throttle // wrong confirmation or reset codes
	refresh   map[[32]byte]struct{}
}

type pendingCode struct {
	code    string
	expires time.Time
}

type refreshRecord struct {
	userID   string
	expires  time.Time
	authTime time.Time
}

// New returns a provider with cfg's defaults applied. The signing key is
// generated on first use.
func New(cfg Config) *Provider {
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = MaxFailures
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if cfg.HashWait <= 0 {
		cfg.HashWait = DefaultHashWait
	}
	if cfg.Clock == nil {
		cfg.Clock = system.Clock{}
	}
	if cfg.IDs == nil {
		cfg.IDs = system.IDs{}
	}
	return &Provider{
		cfg:       cfg,
		signer:    signer{issuer: cfg.Issuer, clientID: cfg.ClientID, clock: cfg.Clock},
		hashSlots: make(chan struct{}, cfg.MaxConcurrentHashes),
		hasher:    bcryptHasher{},
		accounts:  make(map[string]*account),
		byID:      make(map[string]*account),
		refresh:   make(map[[32]byte]refreshRecord),
		outbox:    make(map[string][]Message),
	}
}

// Issuer returns the `iss` of the provider's tokens.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// ClientID returns the app client id of the provider's tokens.
func (p *Provider) ClientID() string { return p.cfg.ClientID }

// SignUp registers an unconfirmed account and mails a confirmation code.
// Returns Invalid for a malformed email, a display name that is not plain
// text or a password that breaks domain.ValidatePassword, Conflict if the
// email is taken (confirmed or not), TooManyRequests (RetryAfter
// BusyRetryAfter) when no password hashing slot frees up within
// Config.HashWait or ctx ends while waiting for one.
func (p *Provider) SignUp(ctx context.Context, email, password, displayName string) (domain.SignUpResult, error) {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return domain.SignUpResult{}, err
	}
	if err := domain.ValidatePassword(password); err != nil {
		return domain.SignUpResult{}, err
	}
	if err := domain.ValidateText("display name", displayName, 0, maxDisplayNameLen, false); err != nil {
		return domain.SignUpResult{}, err
	}
	hash, err := p.hashPassword(ctx, password)
	if err != nil {
		return domain.SignUpResult{}, err
	}
	code, err := newCode()
	if err != nil {
		return domain.SignUpResult{}, err
	}
	now := p.cfg.Clock.Now()

	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.accounts[email]; ok {
		return domain.SignUpResult{}, domain.Errorf(domain.Conflict, "an account with this email already exists")
	}
	a := &account{
		userID:      p.cfg.IDs.NewID(),
		email:       email,
		displayName: displayName,
		hash:        hash,
		signUpCode:  pendingCode{code: code, expires: now.Add(SignUpCodeTTL)},
		refresh:     make(map[[32]byte]struct{}),
	}
	p.accounts[email] = a
	p.byID[a.userID] = a
	p.mailLocked(email, SubjectSignUp, code, now)
	return domain.SignUpResult{UserID: a.userID, ConfirmationRequired: true}, nil
}

// ConfirmSignUp confirms the account with the mailed code (single use,
// valid SignUpCodeTTL). Returns Invalid for a wrong, used or expired code,
// also for an unknown email or a confirmed account, and TooManyRequests
// after MaxFailures wrong codes.
func (p *Provider) ConfirmSignUp(_ context.Context, email, code string) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return domain.Errorf(domain.Invalid, msgBadCode)
	}
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.accounts[email]
	if a == nil {
		return domain.Errorf(domain.Invalid, msgBadCode)
	}
	if err := a.checkCode(&a.signUpCode, code, now, p.cfg.MaxFailures); err != nil {
		return err
	}
	a.confirmed = true
	return nil
}

// checkCode checks code against want under the account's code throttle and
// consumes want when it matches. The caller holds p.mu.
func (a *account) checkCode(want *pendingCode, code string, now time.Time, maxFailures int) error {
	if wait := a.codeTries.wait(now); wait > 0 {
		return throttled(wait)
	}
	// Count the attempt as a failure until it proves right.
	a.codeTries.fail(now, maxFailures)
	if want.code == "" || !now.Before(want.expires) ||
		subtle.ConstantTimeCompare([]byte(want.code), []byte(code)) != 1 {
		return domain.Errorf(domain.Invalid, msgBadCode)
	}
	a.codeTries = throttle{}
	*want = pendingCode{}
	return nil
}

// SignIn checks the password and issues access, id and refresh tokens.
// Returns Unauthenticated with the same message for an unknown email and a
// wrong password, UserNotConfirmed for an unconfirmed account (only with the
// right password), and TooManyRequests (with RetryAfter) while the account
// is throttled after MaxFailures consecutive failures; the throttle applies
// before the password is checked. It also returns TooManyRequests
// (RetryAfter BusyRetryAfter) when no password hashing slot frees up within
// Config.HashWait or ctx ends while waiting for one; such an attempt does
// not count against the account.
func (p *Provider) SignIn(ctx context.Context, email, password string) (domain.Tokens, error) {
	email, err := domain.NormalizeEmail(email)
	p.mu.Lock()
	var a *account
	if err == nil {
		a = p.accounts[email]
	}
	if a == nil {
		p.mu.Unlock()
		if err := p.dummyCompare(ctx, password); err != nil {
			return domain.Tokens{}, err
		}
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, msgBadCredentials)
	}
	// A throttled account is answered at once, without queueing for a slot.
	if wait := a.signIns.wait(p.cfg.Clock.Now()); wait > 0 {
		p.mu.Unlock()
		return domain.Tokens{}, throttled(wait)
	}
	p.mu.Unlock()

	// Take the hashing slot before the attempt is counted, so that a busy
	// answer never locks the account.
	release, err := p.acquireHashSlot(ctx)
	if err != nil {
		return domain.Tokens{}, err
	}
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	if wait := a.signIns.wait(now); wait > 0 {
		p.mu.Unlock()
		release()
		return domain.Tokens{}, throttled(wait)
	}
	// Count the attempt as a failure before the slow compare, so concurrent
	// guesses cannot all slip under the limit; a right password resets it.
	a.signIns.fail(now, p.cfg.MaxFailures)
	hash := a.hash
	p.mu.Unlock()

	ok := p.checkPassword(hash, password)
	release()
	if !ok {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, msgBadCredentials)
	}

	p.mu.Lock()
	if p.accounts[email] != a {
		p.mu.Unlock() // deleted meanwhile
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, msgBadCredentials)
	}
	a.signIns = throttle{}
	if !a.confirmed {
		p.mu.Unlock()
		return domain.Tokens{}, domain.Errorf(domain.UserNotConfirmed, "the account is not confirmed")
	}
	refresh, err := p.newRefreshLocked(a, now)
	claims := a.claims()
	p.mu.Unlock()
	if err != nil {
		return domain.Tokens{}, err
	}
	tokens, err := p.signer.issue(claims, now, p.cfg.AccessTTL, p.cfg.IDs)
	if err != nil {
		return domain.Tokens{}, err
	}
	tokens.RefreshToken = refresh
	return tokens, nil
}

// Refresh issues new access and id tokens (RefreshToken empty) for a
// refresh token; they keep the `auth_time` of the sign-in that made the
// refresh token. Returns Unauthenticated for an unknown, expired or revoked
// refresh token or a deleted account.
func (p *Provider) Refresh(_ context.Context, refreshToken string) (domain.Tokens, error) {
	if refreshToken == "" {
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, msgBadRefresh)
	}
	sum := sha256.Sum256([]byte(refreshToken))
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	r, ok := p.refresh[sum]
	var a *account
	if ok {
		a = p.byID[r.userID]
		if a == nil || !now.Before(r.expires) {
			p.revokeLocked(sum)
			ok = false
		}
	}
	if !ok {
		p.mu.Unlock()
		return domain.Tokens{}, domain.Errorf(domain.Unauthenticated, msgBadRefresh)
	}
	claims := a.claims()
	p.mu.Unlock()
	claims.authTime = r.authTime
	return p.signer.issue(claims, now, p.cfg.AccessTTL, p.cfg.IDs)
}

// ResendConfirmation mails a new confirmation code (valid SignUpCodeTTL,
// replacing the previous one) to an unconfirmed account. It returns nil and
// mails nothing for unknown or confirmed emails. Returns Invalid for a
// malformed email and TooManyRequests after MaxResetMailsPerHour requests
// within an hour.
func (p *Provider) ResendConfirmation(_ context.Context, email string) error {
	return p.mailCode(email, codeMail{confirmed: false, subject: SubjectSignUp, ttl: SignUpCodeTTL,
		slot: func(a *account) (*pendingCode, *[]time.Time) { return &a.signUpCode, &a.codeMails }})
}

// ForgotPassword mails a reset code (valid ResetCodeTTL) to a confirmed
// account. It returns nil and mails nothing for unknown or unconfirmed
// emails. Returns Invalid for a malformed email and TooManyRequests after
// MaxResetMailsPerHour requests within an hour.
func (p *Provider) ForgotPassword(_ context.Context, email string) error {
	return p.mailCode(email, codeMail{confirmed: true, subject: SubjectReset, ttl: ResetCodeTTL,
		slot: func(a *account) (*pendingCode, *[]time.Time) { return &a.resetCode, &a.resetMails }})
}

// codeMail is a kind of mailed code: for confirmed accounts or not, its
// subject and lifetime, and where an account keeps it and its mail times.
type codeMail struct {
	confirmed bool
	subject   string
	ttl       time.Duration
	slot      func(a *account) (*pendingCode, *[]time.Time)
}

// mailCode mails a new code of kind k to the account of email, replacing
// the previous one, when the account exists and its confirmation matches;
// else it returns nil and mails nothing. Returns Invalid for a malformed
// email and TooManyRequests past the hourly limit.
func (p *Provider) mailCode(email string, k codeMail) error {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return err
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.accounts[email]
	if a == nil || a.confirmed != k.confirmed {
		return nil
	}
	pending, sent := k.slot(a)
	if err := limitMails(sent, now); err != nil {
		return err
	}
	*pending = pendingCode{code: code, expires: now.Add(k.ttl)}
	p.mailLocked(email, k.subject, code, now)
	return nil
}

// limitMails records a mail sent at now in sent (the times of the last
// hour), or returns TooManyRequests when MaxResetMailsPerHour were sent.
func limitMails(sent *[]time.Time, now time.Time) error {
	*sent = slices.DeleteFunc(*sent, func(t time.Time) bool { return !now.Before(t.Add(time.Hour)) })
	if len(*sent) >= MaxResetMailsPerHour {
		return throttled((*sent)[0].Add(time.Hour).Sub(now))
	}
	*sent = append(*sent, now)
	return nil
}

// ConfirmForgotPassword sets a new password with the mailed reset code
// (single use), revokes every refresh token of the account, lifts a sign-in
// throttle and returns the account's user id. Returns Invalid for a weak
// password, for a wrong, used or expired code and for an unknown email,
// TooManyRequests after MaxFailures wrong codes, and TooManyRequests
// (RetryAfter BusyRetryAfter) when no password hashing slot frees up within
// Config.HashWait or ctx ends while waiting for one.
func (p *Provider) ConfirmForgotPassword(ctx context.Context, email, code, newPassword string) (string, error) {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return "", domain.Errorf(domain.Invalid, msgBadCode)
	}
	if err := domain.ValidatePassword(newPassword); err != nil {
		return "", err
	}
	// Hash before taking the lock (bcrypt is slow); this also makes
	// unknown emails cost the same as known ones.
	hash, err := p.hashPassword(ctx, newPassword)
	if err != nil {
		return "", err
	}
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.accounts[email]
	if a == nil {
		return "", domain.Errorf(domain.Invalid, msgBadCode)
	}
	if err := a.checkCode(&a.resetCode, code, now, p.cfg.MaxFailures); err != nil {
		return "", err
	}
	a.hash = hash
	a.signIns = throttle{}
	p.revokeUserLocked(a)
	return a.userID, nil
}

// SignOut revokes every refresh token of the access token's user, which
// includes refreshToken when it is theirs; a refresh token of another user
// is left alone, and the answer does not tell whether it was valid. The
// access token is checked with the provider's own key: signature, issuer,
// client, token_use "access" and expiry. Returns Unauthenticated for an
// invalid access token.
func (p *Provider) SignOut(_ context.Context, accessToken, refreshToken string) error {
	userID, err := p.signer.verifyAccess(accessToken)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if refreshToken != "" {
		// Only the owner's sign-out may revoke a token (revokeUserLocked
		// below does it); the explicit check keeps that true should the
		// global revocation ever become optional.
		sum := sha256.Sum256([]byte(refreshToken))
		if r, ok := p.refresh[sum]; ok && r.userID == userID {
			p.revokeLocked(sum)
		}
	}
	if a := p.byID[userID]; a != nil {
		p.revokeUserLocked(a)
	}
	return nil
}

// GetIdentity returns the account of a user id. Returns NotFound.
func (p *Provider) GetIdentity(_ context.Context, userID string) (domain.Identity, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.byID[userID]
	if a == nil {
		return domain.Identity{}, domain.Errorf(domain.NotFound, "identity not found")
	}
	return domain.Identity{UserID: a.userID, Email: a.email, DisplayName: a.displayName, Confirmed: a.confirmed}, nil
}

// DeleteIdentity removes the account and revokes its refresh tokens.
// Deleting an unknown user is not an error.
func (p *Provider) DeleteIdentity(_ context.Context, userID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.byID[userID]
	if a == nil {
		return nil
	}
	p.revokeUserLocked(a)
	delete(p.byID, userID)
	delete(p.accounts, a.email)
	return nil
}

// SetGroups replaces the user's groups, which later tokens carry in
// `cognito:groups` (an admin operation, like Cognito's AdminAddUserToGroup).
// Returns NotFound for an unknown user, Invalid for an empty group name.
func (p *Provider) SetGroups(_ context.Context, userID string, groups []string) error {
	if slices.Contains(groups, "") {
		return domain.Errorf(domain.Invalid, "group names must not be empty")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.byID[userID]
	if a == nil {
		return domain.Errorf(domain.NotFound, "identity not found")
	}
	a.groups = slices.Clone(groups)
	return nil
}

// Mail returns the messages sent to the address, newest first (at most
// MaxMailsPerAddress). The address is normalised like an account email.
func (p *Provider) Mail(to string) []Message {
	if e, err := domain.NormalizeEmail(to); err == nil {
		to = e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	msgs := slices.Clone(p.outbox[to])
	slices.Reverse(msgs)
	return msgs
}

func (p *Provider) mailLocked(to, subject, code string, now time.Time) {
	box := append(p.outbox[to], Message{To: to, Subject: subject, Code: code, SentAt: now})
	if len(box) > MaxMailsPerAddress {
		box = slices.Delete(box, 0, len(box)-MaxMailsPerAddress)
	}
	p.outbox[to] = box
}

// newRefreshLocked makes, stores and returns a refresh token for a.
func (p *Provider) newRefreshLocked(a *account, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", domain.Wrap(err, domain.Internal, "refresh token")
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	// Drop the user's expired tokens so the maps do not grow forever.
	for s := range a.refresh {
		if r := p.refresh[s]; !now.Before(r.expires) {
			p.revokeLocked(s)
		}
	}
	p.refresh[sum] = refreshRecord{userID: a.userID, expires: now.Add(p.cfg.RefreshTTL), authTime: now}
	a.refresh[sum] = struct{}{}
	return token, nil
}

func (p *Provider) revokeLocked(sum [32]byte) {
	r, ok := p.refresh[sum]
	if !ok {
		return
	}
	delete(p.refresh, sum)
	if a := p.byID[r.userID]; a != nil {
		delete(a.refresh, sum)
	}
}

func (p *Provider) revokeUserLocked(a *account) {
	for sum := range a.refresh {
		delete(p.refresh, sum)
	}
	clear(a.refresh)
}

// claims returns what the account's tokens say about it. Caller holds p.mu.
func (a *account) claims() userClaims {
	return userClaims{
		userID:      a.userID,
		email:       a.email,
		displayName: a.displayName,
		confirmed:   a.confirmed,
		groups:      slices.Clone(a.groups),
	}
}

// acquireHashSlot waits up to Config.HashWait for one of the
// MaxConcurrentHashes bcrypt slots and returns the function that frees it.
// Returns TooManyRequests (RetryAfter BusyRetryAfter) when none frees up in
// time or ctx ends first.
func (p *Provider) acquireHashSlot(ctx context.Context) (release func(), err error) {
	release = func() { <-p.hashSlots }
	select {
	case p.hashSlots <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(p.cfg.HashWait)
	defer timer.Stop()
	select {
	case p.hashSlots <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, &domain.Error{Code: domain.TooManyRequests, Message: msgBusy, RetryAfter: BusyRetryAfter}
	case <-ctx.Done():
		return nil, &domain.Error{Code: domain.TooManyRequests, Message: msgBusy, RetryAfter: BusyRetryAfter, Err: ctx.Err()}
	}
}

// hashPassword hashes with bcrypt in a hashing slot. The password is first
// reduced to the base64 of its SHA-256, because bcrypt reads at most 72
// bytes and the policy allows 256 characters: longer passwords must not
// share a hash. Returns TooManyRequests when no slot is free in time,
// Internal.
func (p *Provider) hashPassword(ctx context.Context, pw string) ([]byte, error) {
	release, err := p.acquireHashSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	h, err := p.hasher.Hash(prehash(pw), p.cfg.BcryptCost)
	if err != nil {
		return nil, domain.Wrap(err, domain.Internal, "hash password")
	}
	return h, nil
}

// checkPassword compares pw with hash; the caller holds a hashing slot.
func (p *Provider) checkPassword(hash []byte, pw string) bool {
	return p.hasher.Check(hash, prehash(pw)) == nil
}

// hasher makes and checks password hashes: bcryptHasher, except in tests,
// which count its calls or hold them to fill the hashing slots.
type hasher interface {
	// Hash returns the hash of pw at cost.
	Hash(pw []byte, cost int) ([]byte, error)
	// Check returns nil when pw matches hash.
	Check(hash, pw []byte) error
}

// bcryptHasher is the hasher of every Provider outside tests.
type bcryptHasher struct{}

// Hash is bcrypt.GenerateFromPassword.
func (bcryptHasher) Hash(pw []byte, cost int) ([]byte, error) {
	return bcrypt.GenerateFromPassword(pw, cost)
}

// Check is bcrypt.CompareHashAndPassword.
func (bcryptHasher) Check(hash, pw []byte) error { return bcrypt.CompareHashAndPassword(hash, pw) }

func prehash(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// dummyCompare spends the time of a real password check, in a hashing slot
// like one, so unknown emails answer as slowly as wrong passwords. Returns
// TooManyRequests when no slot is free in time.
func (p *Provider) dummyCompare(ctx context.Context, pw string) error {
	release, err := p.acquireHashSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	p.dummyOnce.Do(func() {
		p.dummyHash, _ = p.hasher.Hash([]byte("cloudpost-dummy-password"), p.cfg.BcryptCost)
	})
	if p.dummyHash != nil {
		_ = p.checkPassword(p.dummyHash, pw)
	}
	return nil
}

// newCode returns 6 uniformly random digits.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", domain.Wrap(err, domain.Internal, "code")
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// throttle counts consecutive failures. From the MaxFailures-th on, every
// failure locks for BaseLockout, doubled per further failure, at most
// MaxLockout.
type throttle struct {
	failures int
	until    time.Time
}

func (t *throttle) wait(now time.Time) time.Duration {
	if now.Before(t.until) {
		return t.until.Sub(now)
	}
	return 0
}

func (t *throttle) fail(now time.Time, maxFailures int) {
	t.failures++
	if maxFailures < 0 || t.failures < maxFailures {
		return
	}
	d := MaxLockout
	if shift := t.failures - maxFailures; shift < 7 {
		d = min(BaseLockout<<shift, MaxLockout)
	}
	t.until = now.Add(d)
}

// throttled is the TooManyRequests error, its RetryAfter rounded up to a
// whole second (what a Retry-After header can say).
func throttled(wait time.Duration) error {
	if r := wait % time.Second; r != 0 {
		wait += time.Second - r
	}
	return &domain.Error{Code: domain.TooManyRequests, Message: msgThrottled, RetryAfter: wait}
}
