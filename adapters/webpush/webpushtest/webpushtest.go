// Package webpushtest is a Web Push service for tests: an HTTPS server
// (httptest.NewTLSServer) that makes subscriptions as a browser would
// (a P-256 key pair and a 16-byte auth secret, an endpoint on the
// server), and checks each push the way a real push service and browser
// do together: the VAPID Authorization header (RFC 8292: an ES256 token
// signed by the configured application server key, for this origin,
// expiring within 24 hours, with a contact), the TTL, Topic and Urgency
// headers (RFC 8030), and the aes128gcm body (RFC 8188, RFC 8291), which
// it decrypts with the subscription's keys. Each endpoint answers 201,
// or the status a test sets (404, 410, 429 with Retry-After, ...).
//
// A request that breaks a rule is answered 400, 401 or 403 and noted as a
// problem; the test fails at cleanup for problems it did not take with
// TakeProblems.
package webpushtest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// MaxBody is the largest body the service takes (RFC 8030 §7.2: a push
// service must accept at least 4096 bytes; the browsers' take no more).
const MaxBody = 4096

// Push is one push the service accepted.
type Push struct {
	// Payload is the decrypted message.
	Payload []byte
	// Body is the request body as received (encrypted).
	Body []byte
	// TTL, Topic and Urgency are the request's headers ("" when absent).
	TTL            int
	Topic, Urgency string
	// Subject is the VAPID token's sub claim.
	Subject string
}

// Server is the push service. Safe for concurrent use.
type Server struct {
	t        testing.TB
	srv      *httptest.Server
	vapidKey []byte // the applicationServerKey every subscription is tied to
	origin   string
	close    sync.Once

	mu       sync.Mutex
	subs     map[string]*subscription // by the endpoint's last path segment
	problems []string
	requests int
}

type subscription struct {
	priv       *ecdh.PrivateKey
	auth       []byte
	status     int
	retryAfter string
	received   []Push
}

// New starts a push service whose subscriptions are tied to the VAPID
// public key vapidPublicKey (base64url, as webpush.Config takes it): a
// push signed with another key is answered 403. It stops at the end of
// the test, and the test fails then for any problem not taken.
func New(t testing.TB, vapidPublicKey string) *Server {
	t.Helper()
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(vapidPublicKey, "="))
	if err != nil || len(key) != 65 {
		t.Fatalf("webpushtest: the VAPID public key must be 65 bytes of base64url")
	}
	s := &Server{t: t, vapidKey: key, subs: map[string]*subscription{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.origin = s.srv.URL
	t.Cleanup(func() {
		s.Close()
		for _, p := range s.TakeProblems() {
			t.Errorf("webpushtest: push refused: %s", p)
		}
	})
	return s
}

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Host is the host of every endpoint (127.0.0.1), for an allow-list.
func (s *Server) Host() string {
	u, _ := url.Parse(s.origin)
	return u.Hostname()
}

// Close stops the server: pushes then fail to connect. Safe to call
// more than once.
func (s *Server) Close() { s.close.Do(s.srv.Close) }

// NewSubscription makes a subscription as a browser does and returns it
// as the client registers it.
func (s *Server) NewSubscription() domain.WebPushSubscription {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatalf("webpushtest: %v", err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	id := rand.Text()
	s.mu.Lock()
	s.subs[id] = &subscription{priv: priv, auth: auth}
	s.mu.Unlock()
	enc := base64.RawURLEncoding
	return domain.WebPushSubscription{
		Endpoint: s.origin + "/push/" + id,
		P256dh:   enc.EncodeToString(priv.PublicKey().Bytes()),
		Auth:     enc.EncodeToString(auth),
	}
}

// sub returns the subscription of an endpoint made by NewSubscription.
func (s *Server) sub(endpoint string) *subscription {
	s.t.Helper()
	id, ok := strings.CutPrefix(endpoint, s.origin+"/push/")
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[id]
	if !ok || sub == nil {
		s.t.Fatalf("webpushtest: %q is not an endpoint of this server", endpoint)
	}
	return sub
}

// SetStatus makes the endpoint answer every valid push with status (0 or
// 201: accept it) and, when not empty, a Retry-After header.
func (s *Server) SetStatus(endpoint string, status int, retryAfter string) {
	sub := s.sub(endpoint)
	s.mu.Lock()
	defer s.mu.Unlock()
	sub.status, sub.retryAfter = status, retryAfter
}

// Received returns the pushes the endpoint accepted, oldest first.
func (s *Server) Received(endpoint string) []Push {
	sub := s.sub(endpoint)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), sub.received...)
}

// Keys returns the subscription's private key and auth secret, as the
// browser keeps them.
func (s *Server) Keys(endpoint string) (*ecdh.PrivateKey, []byte) {
	sub := s.sub(endpoint)
	return sub.priv, sub.auth
}

// Requests returns how many POSTs reached the server, valid or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// TakeProblems returns the rule breaks seen so far and forgets them (the
// test then does not fail for them).
func (s *Server) TakeProblems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.problems
	s.problems = nil
	return p
}

// refuse answers a request that breaks a rule and notes the problem.
func (s *Server) refuse(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf("%d %s", status, msg))
	s.mu.Unlock()
	http.Error(w, msg, status)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		s.refuse(w, http.StatusMethodNotAllowed, "method %s: a push is a POST", r.Method)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/push/")
	s.mu.Lock()
	sub := s.subs[id]
	s.mu.Unlock()
	if !ok || sub == nil {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	subject, status, err := s.checkVAPID(r.Header.Get("Authorization"), time.Now())
	if err != nil {
		s.refuse(w, status, "VAPID: %v", err)
		return
	}
	p := Push{Subject: subject, Topic: r.Header.Get("Topic"), Urgency: r.Header.Get("Urgency")}
	if p.TTL, err = strconv.Atoi(r.Header.Get("TTL")); err != nil || p.TTL < 0 {
		s.refuse(w, http.StatusBadRequest, "TTL header %q: it is required, a number of seconds (RFC 8030 §5.2)", r.Header.Get("TTL"))
		return
	}
	if t := p.Topic; t != "" && (len(t) > 32 || strings.IndexFunc(t, notB64URL) >= 0) {
		s.refuse(w, http.StatusBadRequest, "Topic %q: at most 32 characters of base64url (RFC 8030 §5.4)", t)
		return
	}
	switch p.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		s.refuse(w, http.StatusBadRequest, "Urgency %q: very-low, low, normal or high (RFC 8030 §5.3)", p.Urgency)
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		s.refuse(w, http.StatusBadRequest, "Content-Encoding %q: a push is aes128gcm (RFC 8291 §4)", ce)
		return
	}
	p.Body, err = io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(p.Body) > MaxBody {
		s.refuse(w, http.StatusRequestEntityTooLarge, "body over %d bytes", MaxBody)
		return
	}
	if p.Payload, err = Decrypt(p.Body, sub.priv, sub.auth); err != nil {
		s.refuse(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.mu.Lock()
	status, retry := sub.status, sub.retryAfter
	if status == 0 || status == http.StatusCreated {
		sub.received = append(sub.received, p)
	}
	s.mu.Unlock()
	if status == 0 || status == http.StatusCreated {
		w.Header().Set("Location", s.origin+"/message/"+rand.Text())
		w.WriteHeader(http.StatusCreated)
		return
	}
	if retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	http.Error(w, http.StatusText(status), status)
}

func notB64URL(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// checkVAPID verifies an Authorization header "vapid t=<JWT>, k=<key>"
// (RFC 8292 §3) and returns the token's subject, or the status to answer
// (401 for a bad token, 403 for another application server's key) and
// why.
func (s *Server) checkVAPID(h string, now time.Time) (string, int, error) {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return "", http.StatusUnauthorized, fmt.Errorf("authorization %q is not the vapid scheme", cut(h))
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		params[k] = v
	}
	token, key := params["t"], params["k"]
	if token == "" || key == "" {
		return "", http.StatusUnauthorized, fmt.Errorf("the vapid scheme needs t and k")
	}
	keyBytes, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		return "", http.StatusUnauthorized, fmt.Errorf("k is not unpadded base64url: %v", err)
	}
	if !bytes.Equal(keyBytes, s.vapidKey) {
		return "", http.StatusForbidden, fmt.Errorf("k is not the application server key the subscription was made with")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), keyBytes)
	if err != nil {
		return "", http.StatusUnauthorized, fmt.Errorf("k is not a P-256 public key: %v", err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", http.StatusUnauthorized, fmt.Errorf("t is not a JWS in compact form")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeJSON(parts[0], &header); err != nil || header.Alg != "ES256" {
		return "", http.StatusUnauthorized, fmt.Errorf("the token's header must say alg ES256 (%v)", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", http.StatusUnauthorized, fmt.Errorf("the ES256 signature must be 64 bytes of base64url (r || s)")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, sv) {
		return "", http.StatusUnauthorized, fmt.Errorf("the token's signature does not verify with k")
	}
	var claims struct {
		Aud any `json:"aud"`
		Exp any `json:"exp"`
		Sub any `json:"sub"`
	}
	if err := decodeJSON(parts[1], &claims); err != nil {
		return "", http.StatusUnauthorized, fmt.Errorf("the token's claims: %v", err)
	}
	if aud, _ := claims.Aud.(string); aud != s.origin {
		return "", http.StatusUnauthorized, fmt.Errorf("aud %v is not the push resource's origin %s", claims.Aud, s.origin)
	}
	exp, ok := claims.Exp.(float64)
	if !ok {
		return "", http.StatusUnauthorized, fmt.Errorf("exp %v is not a number", claims.Exp)
	}
	expires := time.Unix(int64(exp), 0)
	switch {
	case !expires.After(now):
		return "", http.StatusUnauthorized, fmt.Errorf("the token expired at %s", expires.UTC().Format(time.RFC3339))
	case expires.After(now.Add(24 * time.Hour)):
		return "", http.StatusUnauthorized, fmt.Errorf("exp %s is more than 24 hours ahead (RFC 8292 §2)", expires.UTC().Format(time.RFC3339))
	}
	sub, _ := claims.Sub.(string)
	if err := checkSubject(sub); err != nil {
		return "", http.StatusUnauthorized, err
	}
	return sub, 0, nil
}

// checkSubject wants a mailto: URI with one address or an https: URL
// (RFC 8292 §2.1; Apple refuses anything else).
func checkSubject(sub string) error {
	if addr, ok := strings.CutPrefix(sub, "mailto:"); ok {
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return fmt.Errorf("sub %q is not a mailto: URI with an e-mail address", sub)
		}
		return nil
	}
	if u, err := url.Parse(sub); err == nil && u.Scheme == "https" && u.Host != "" {
		return nil
	}
	return fmt.Errorf("sub %q is neither a mailto: nor an https: URI", sub)
}

func decodeJSON(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
