// Package limits is the abuse policy: how many sign-ups, sign-ins, code
// requests, uploads, posts, comments and notification reads a client
// address and a user may make per time window, and how many failed
// sign-ins and wrong codes an account may take from one address and from
// everywhere. The counts live in storage (ports.RateCounters), so a limit
// holds across server instances and Lambda invocations.
//
// Failures are counted apart from attempts, per (account, address) with a
// low ceiling and per account with a much higher one: whoever guesses a
// password from one address is slowed long before the account's owner,
// signing in from elsewhere, is.
package limits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Rule allows at most Max events per Window. The zero Rule sets no limit.
type Rule struct {
	Max    int
	Window time.Duration
}

// Off reports whether the rule sets no limit.
func (r Rule) Off() bool { return r.Max <= 0 || r.Window <= 0 }

// String formats the rule as ParseRule reads it: "20/1h0m0s" or "off".
func (r Rule) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.Max) + "/" + r.Window.String()
}

// ParseRule reads "N/duration" (e.g. "20/1h", "5/15m") or "off". The window
// is whole seconds, at least 1s. Returns an error saying what is wrong.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Rule{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	max, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || max < 1 {
		return Rule{}, fmt.Errorf("%q is not a limit like 20/1h (a positive count, a slash, a duration) or off", s)
	}
	w, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil || w < time.Second || w%time.Second != 0 {
		return Rule{}, fmt.Errorf("%q: the window must be whole seconds, at least 1s", s)
	}
	return Rule{Max: max, Window: w}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler (configuration).
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Action is what a client does that a limit counts.
type Action string

// Actions.
const (
	SignUp Action = "signup"
	SignIn Action = "signin"
	// Codes: resending a confirmation code, asking for a reset code,
	// confirming a sign-up, resetting a password.
	Codes         Action = "codes"
	Upload        Action = "upload"
	Post          Action = "post"
	Comment       Action = "comment"
	Notifications Action = "notifications"
	// Devices: registering a push device.
	Devices Action = "devices"
)

// Failure is what a failed attempt was.
type Failure string

// Failures.
const (
	// BadPassword: a sign-in with a wrong password (or unknown email).
	BadPassword Failure = "password"
	// BadCode: a wrong confirmation or reset code.
	BadCode Failure = "code"
)

// Policy is every limit. A zero Rule is no limit.
type Policy struct {
	// PerAddress and PerUser limit each action per client address and per
	// signed-in user.
	PerAddress map[Action]Rule
	PerUser    map[Action]Rule
	// FailuresPerAccountAddress, FailuresPerAddress and FailuresPerAccount
	// limit failed attempts (wrong passwords, wrong codes), each kind apart.
	FailuresPerAccountAddress Rule
	FailuresPerAddress        Rule
	FailuresPerAccount        Rule
}

// DefaultPolicy is the policy of an app that configures nothing. Per
// address limits are generous because many users may share an address
// (carrier-grade NAT, offices).
func DefaultPolicy() Policy {
	return Policy{
		PerAddress: map[Action]Rule{
			SignUp: {30, time.Hour}, SignIn: {100, 5 * time.Minute}, Codes: {60, time.Hour},
			Upload: {600, time.Hour}, Post: {300, time.Hour}, Comment: {600, time.Hour}, Notifications: {1200, time.Minute},
			Devices: {600, time.Hour},
		},
		PerUser: map[Action]Rule{
			Upload: {120, time.Hour}, Post: {60, time.Hour}, Comment: {120, time.Hour}, Notifications: {120, time.Minute},
			Devices: {60, time.Hour},
		},
		FailuresPerAccountAddress: Rule{10, 15 * time.Minute},
		FailuresPerAddress:        Rule{100, 15 * time.Minute},
		FailuresPerAccount:        Rule{200, time.Hour},
	}
}

// Status is the state of one limit after a request, for the IETF RateLimit
// headers: Name identifies the policy, Remaining events are left in the
// window, which ends in Reset.
type Status struct {
	Name      string
	Rule      Rule
	Remaining int
	Reset     time.Duration
}

// Service applies a Policy over shared counters.
type Service struct {
	counters ports.RateCounters
	clock    ports.Clock
	policy   Policy
}

// New returns the limit service.
func New(counters ports.RateCounters, clock ports.Clock, policy Policy) *Service {
	return &Service{counters: counters, clock: clock, policy: policy}
}

// Take counts one event of action by userID ("" when not signed in) from
// addr ("" when unknown) against every rule that applies, and returns the
// state of each. Returns TooManyRequests (RetryAfter: until the latest
// exceeded window ends) when any is exceeded; the counters' errors
// (Unavailable).
func (s *Service) Take(ctx context.Context, action Action, userID, addr string) ([]Status, error) {
	type check struct {
		name string
		counter
	}
	var checks []check
	if r := s.policy.PerAddress[action]; !r.Off() && addr != "" {
		checks = append(checks, check{string(action) + "-addr", counter{"a:" + string(action) + ":" + addrKey(addr), r}})
	}
	if r := s.policy.PerUser[action]; !r.Off() && userID != "" {
		checks = append(checks, check{string(action) + "-user", counter{"u:" + string(action) + ":" + userID, r}})
	}
	out := make([]Status, 0, len(checks))
	var wait time.Duration
	now := s.clock.Now()
	for _, c := range checks {
		n, reset, err := s.counters.Hit(ctx, c.key, c.rule.Window, 1, now)
		if err != nil {
			return nil, err
		}
		st := Status{Name: c.name, Rule: c.rule, Remaining: max(c.rule.Max-n, 0), Reset: reset.Sub(now)}
		if n > c.rule.Max {
			wait = max(wait, st.Reset)
		}
		out = append(out, st)
	}
	if wait > 0 {
		return out, tooMany(wait, "too many requests: try again later")
	}
	return out, nil
}

// counter is one counted rule.
type counter struct {
	key  string
	rule Rule
}

// failureCounters are the counters of one kind of failure by account from
// addr.
func (s *Service) failureCounters(kind Failure, account, addr string) []counter {
	prefix, acct := "f:"+string(kind)+":", accountKey(account)
	out := []counter{{prefix + "acct:" + acct, s.policy.FailuresPerAccount}}
	if addr != "" {
		a := addrKey(addr)
		out = append(out,
			counter{prefix + "pair:" + acct + ":" + a, s.policy.FailuresPerAccountAddress},
			counter{prefix + "addr:" + a, s.policy.FailuresPerAddress})
	}
	return out
}

// CheckFailures returns TooManyRequests (with RetryAfter) when account,
// from addr, has used up a failure limit of kind: the attempt must not
// even be tried. It counts nothing. Returns the counters' errors.
func (s *Service) CheckFailures(ctx context.Context, kind Failure, account, addr string) error {
	now := s.clock.Now()
	var wait time.Duration
	for _, f := range s.failureCounters(kind, account, addr) {
		if f.rule.Off() {
			continue
		}
		n, reset, err := s.counters.Hit(ctx, f.key, f.rule.Window, 0, now)
		if err != nil {
			return err
		}
		if n >= f.rule.Max {
			wait = max(wait, reset.Sub(now))
		}
	}
	if wait > 0 {
		return tooMany(wait, "too many failed attempts: try again later")
	}
	return nil
}

// RecordFailure counts a failed attempt of kind on account from addr.
// Returns the counters' errors.
func (s *Service) RecordFailure(ctx context.Context, kind Failure, account, addr string) error {
	now := s.clock.Now()
	for _, f := range s.failureCounters(kind, account, addr) {
		if f.rule.Off() {
			continue
		}
		if _, _, err := s.counters.Hit(ctx, f.key, f.rule.Window, 1, now); err != nil {
			return err
		}
	}
	return nil
}

// Prune deletes counters whose windows ended over a minute ago. Returns the
// counters' errors.
func (s *Service) Prune(ctx context.Context) (int, error) {
	return s.counters.PruneRateCounters(ctx, s.clock.Now().Add(-time.Minute))
}

func tooMany(wait time.Duration, msg string) error {
	// Whole seconds, rounded up: Retry-After has no fractions.
	wait = (wait + time.Second - 1).Truncate(time.Second)
	return &domain.Error{Code: domain.TooManyRequests, Message: msg, RetryAfter: wait}
}

// addrKey is the counted form of a client address: an IPv4 address as is,
// an IPv6 address by its /64 (one subscriber's prefix: counting single
// addresses would let a client rotate through 2^64 of them).
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "x" + shortHash(addr)
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// accountKey keeps emails out of the counters' keys (and their length
// bounded).
func accountKey(account string) string { return shortHash(strings.ToLower(account)) }

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}
