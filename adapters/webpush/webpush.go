// Package webpush is the Web Push channel (ports.Push for
// domain.PlatformWebPush): it encrypts each message for the browser's
// subscription (RFC 8291, aes128gcm), signs a VAPID token (RFC 8292) and
// POSTs it to the subscription's push service (RFC 8030), with
// github.com/SherClockHolmes/webpush-go doing the encryption and signing.
//
// Endpoints come from clients, so the Pusher only POSTs to hosts on an
// allow-list (the browsers' push services by default) and never follows
// redirects. It logs nothing: keys and payloads never leave it except
// encrypted.
package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	webpushgo "github.com/SherClockHolmes/webpush-go"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Defaults and bounds.
const (
	// DefaultTTL is how long a push service keeps a push for an offline
	// browser when neither the message nor Config says.
	DefaultTTL = 24 * time.Hour
	// MaxTTL is the longest TTL sent: the push services keep a push four
	// weeks at most (FCM refuses longer).
	MaxTTL = 28 * 24 * time.Hour
	// DefaultTimeout bounds one POST with the default HTTP client.
	DefaultTimeout = 30 * time.Second
	// MaxPayload is the largest JSON payload that fits the one 4096-byte
	// record every push service accepts: 4096 less the aes128gcm header
	// (86 bytes), the AEAD tag (16) and the padding delimiter (1).
	MaxPayload = recordSize - 86 - 16 - 1

	recordSize = 4096
	// maxRetryAfter caps a push service's retry hint.
	maxRetryAfter = 24 * time.Hour
)

// Config configures a Pusher.
type Config struct {
	// VAPIDPublicKey is the application server's P-256 public key,
	// uncompressed (65 bytes), in base64url (padded or not): the key the
	// web app passes to pushManager.subscribe as applicationServerKey.
	VAPIDPublicKey string
	// VAPIDPrivateKey is the matching private key (32 bytes) in base64url.
	// GenerateKeys makes a pair.
	VAPIDPrivateKey string
	// Subject is the contact of the application server that push services
	// see in every VAPID token: a mailto: address or an https: URL.
	// Required (Safari refuses pushes without a valid one).
	Subject string
	// HTTPClient sends the pushes; nil uses a client with DefaultTimeout.
	// Its redirect policy is replaced: a redirect is never followed.
	HTTPClient *http.Client
	// TTL is used for messages that carry none; zero means DefaultTTL.
	TTL time.Duration
	// AllowedHosts lists the hosts an endpoint may be on: an entry allows
	// the host and its subdomains ("*.example.com" the subdomains only).
	// Empty means DefaultAllowedHosts. It keeps a client from making the
	// server POST to an internal address (SSRF).
	AllowedHosts []string
}

// VAPIDKeys is an application server key pair in unpadded base64url, as
// Config takes it.
type VAPIDKeys struct {
	// PublicKey goes to Config.VAPIDPublicKey and to the web app.
	PublicKey string
	// PrivateKey goes to Config.VAPIDPrivateKey; keep it secret.
	PrivateKey string
}

// GenerateKeys makes a new VAPID key pair (P-256). Browsers tie each
// subscription to the public key it was made with: changing the keys
// makes every existing subscription fail (401 or 403) until the browser
// subscribes again.
func GenerateKeys() (VAPIDKeys, error) {
	priv, pub, err := webpushgo.GenerateVAPIDKeys()
	if err != nil {
		return VAPIDKeys{}, fmt.Errorf("webpush: generating VAPID keys: %w", err)
	}
	k := VAPIDKeys{PublicKey: pub, PrivateKey: priv}
	if _, _, err := parseVAPID(k.PublicKey, k.PrivateKey); err != nil {
		return VAPIDKeys{}, err
	}
	return k, nil
}

// Pusher sends Web Push messages. Safe for concurrent use.
type Pusher struct {
	publicKey, privateKey string // unpadded base64url, checked
	subscriber            string // Subject as webpush-go takes it
	client                *http.Client
	ttl                   time.Duration
	hosts                 []hostRule
}

var _ ports.Push = (*Pusher)(nil)

// New checks cfg and returns a Pusher. Its errors name the setting at
// fault and never quote a private key.
func New(cfg Config) (*Pusher, error) {
	pub, priv, err := parseVAPID(cfg.VAPIDPublicKey, cfg.VAPIDPrivateKey)
	if err != nil {
		return nil, err
	}
	sub, err := subscriber(cfg.Subject)
	if err != nil {
		return nil, err
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("webpush: TTL must not be negative, got %s", cfg.TTL)
	}
	hosts, err := parseHosts(cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	var client http.Client
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	} else {
		client.Timeout = DefaultTimeout
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return &Pusher{publicKey: pub, privateKey: priv, subscriber: sub, client: &client, ttl: ttl, hosts: hosts}, nil
}

// parseVAPID checks the key pair and returns both keys in unpadded
// base64url.
func parseVAPID(public, private string) (string, string, error) {
	if public == "" || private == "" {
		return "", "", errors.New("webpush: VAPIDPublicKey and VAPIDPrivateKey are required (GenerateKeys makes a pair)")
	}
	privBytes, err := decodeB64URL(private)
	if err != nil || len(privBytes) != 32 {
		return "", "", errors.New("webpush: VAPIDPrivateKey must be a 32-byte P-256 private key in base64url")
	}
	key, err := ecdh.P256().NewPrivateKey(privBytes)
	if err != nil {
		return "", "", errors.New("webpush: VAPIDPrivateKey is not a valid P-256 private key")
	}
	pubBytes, err := decodeB64URL(public)
	if err != nil || len(pubBytes) != 65 || pubBytes[0] != 4 {
		return "", "", errors.New("webpush: VAPIDPublicKey must be a 65-byte uncompressed P-256 public key in base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(pubBytes); err != nil {
		return "", "", errors.New("webpush: VAPIDPublicKey is not a point on P-256")
	}
	if !bytes.Equal(key.PublicKey().Bytes(), pubBytes) {
		return "", "", errors.New("webpush: VAPIDPublicKey is not the public key of VAPIDPrivateKey")
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(pubBytes), enc.EncodeToString(privBytes), nil
}

// subscriber checks Subject and returns it as webpush-go takes it: that
// library prefixes "mailto:" to anything that does not start with
// "https:", so a mailto: subject loses its scheme here (passing it whole
// would sign "mailto:mailto:...", which Apple refuses).
func subscriber(subject string) (string, error) {
	switch {
	case subject == "":
		return "", errors.New("webpush: Subject is required: a mailto: address or an https: URL push services can reach you at")
	case strings.IndexFunc(subject, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", fmt.Errorf("webpush: Subject %q must not hold spaces or control characters", subject)
	case strings.HasPrefix(subject, "mailto:"):
		addr := strings.TrimPrefix(subject, "mailto:")
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return "", fmt.Errorf("webpush: Subject %q is not a mailto: URI with an e-mail address", subject)
		}
		return addr, nil
	case strings.HasPrefix(subject, "https:"):
		if u, err := url.Parse(subject); err != nil || u.Host == "" || u.User != nil {
			return "", fmt.Errorf("webpush: Subject %q is not an https: URL with a host", subject)
		}
		return subject, nil
	}
	return "", fmt.Errorf("webpush: Subject %q must be a mailto: address or an https URL", subject)
}

// decodeB64URL accepts base64url with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// Register checks that d is a Web Push device whose endpoint is on an
// allowed push service and returns it unchanged: the browser made the
// subscription, there is nothing to create. Returns Invalid.
func (p *Pusher) Register(_ context.Context, d domain.Device) (domain.Device, error) {
	if err := p.checkDevice(d); err != nil {
		return domain.Device{}, err
	}
	return d, nil
}

// Unregister does nothing: the subscription belongs to the browser, and a
// push service has no call to cancel one. It never fails.
func (p *Pusher) Unregister(context.Context, domain.Device) error { return nil }

// checkDevice checks the platform, the subscription and the endpoint's
// host. Returns Invalid.
func (p *Pusher) checkDevice(d domain.Device) error {
	if d.Platform != domain.PlatformWebPush {
		return domain.Errorf(domain.Invalid, "the Web Push channel pushes to webpush devices, not %q", d.Platform)
	}
	if err := domain.ValidateDevice(d); err != nil {
		return err
	}
	if key, err := decodeB64URL(d.Subscription.P256dh); err != nil {
		return domain.Errorf(domain.Invalid, "subscription.keys.p256dh must be base64url")
	} else if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return domain.Errorf(domain.Invalid, "subscription.keys.p256dh is not a point on P-256")
	}
	_, err := p.checkEndpoint(d.Subscription.Endpoint)
	return err
}

// payload is what the service worker receives (event.data.json()).
type payload struct {
	Title           string   `json:"title"`
	Body            string   `json:"body"`
	Type            string   `json:"type"`
	PostID          string   `json:"postId"`
	NotificationIDs []string `json:"notificationIds"`
	Unread          int      `json:"unread"`
	CollapseID      string   `json:"collapseId"`
}

// encodePayload returns the JSON of m, at most MaxPayload bytes: when it
// is longer, the oldest notification ids are dropped (the newest, the
// collapse id, stays; the app syncs the rest) and then the body is
// shortened. Returns Invalid when even that does not fit.
//
// The slice it returns has no spare capacity. webpush-go v1.4.0 pads the
// message in place (bytes.NewBuffer(message) then Write), so the library
// would write into spare capacity: a payload shared by concurrent sends
// (a cached or broadcast message) would race and reach the browsers
// corrupted. With none, its first Write copies. (Fixed upstream after
// v1.4.0 by copying the message, PR #83.)
func encodePayload(m domain.PushMessage) ([]byte, error) {
	pl := payload{
		Title: m.Title, Body: m.Body, Type: string(m.Type), PostID: m.PostID,
		NotificationIDs: append([]string{}, m.NotificationIDs...),
		Unread:          m.Unread, CollapseID: m.CollapseID,
	}
	for {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "<" stays one byte: it is not HTML
		if err := enc.Encode(pl); err != nil {
			return nil, domain.Wrap(err, domain.Internal, "encoding the push payload")
		}
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if len(b) <= MaxPayload {
			return b[:len(b):len(b)], nil
		}
		switch over := len(b) - MaxPayload; {
		case len(pl.NotificationIDs) > 1:
			pl.NotificationIDs = pl.NotificationIDs[1:]
		case pl.Body != "":
			// Every byte of body is at least one byte of JSON: cutting
			// the excess (back to a rune boundary) takes the JSON at
			// least that much closer to the limit.
			cut := max(len(pl.Body)-over, 0)
			for cut > 0 && !utf8.RuneStart(pl.Body[cut]) {
				cut--
			}
			pl.Body = pl.Body[:cut]
		default:
			return nil, domain.Errorf(domain.Invalid, "the push message does not fit in a Web Push payload (%d bytes of JSON, at most %d)", len(b), MaxPayload)
		}
	}
}

// topic returns the Topic header of a collapse id (RFC 8030: at most 32
// characters of base64url): a UUID without its hyphens, another id that
// fits as it is, or else a digest of it; "" for no collapse id.
func topic(collapseID string) string {
	switch {
	case collapseID == "":
		return ""
	case isUUID(collapseID):
		return strings.ReplaceAll(collapseID, "-", "")
	case len(collapseID) <= 32 && isB64URL(collapseID):
		return collapseID
	}
	sum := sha256.Sum256([]byte(collapseID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:32]
}

// isUUID reports whether s is a UUID in its text form (8-4-4-4-12 hex).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if r != '-' {
				return false
			}
		} else if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func isB64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ttlSeconds returns the TTL header: the message's TTL, else the default,
// in whole seconds (rounded up), at most MaxTTL.
func (p *Pusher) ttlSeconds(m domain.PushMessage) int {
	ttl := m.TTL
	if ttl <= 0 {
		ttl = p.ttl
	}
	ttl = min(ttl, MaxTTL)
	return int((ttl + time.Second - 1) / time.Second)
}

// Send encrypts m for d's subscription and POSTs it to its push service.
// Returns Invalid for a device this channel refuses (another platform, an
// endpoint off the allow-list), a message too large or one the service
// refuses (400, 413); NotFound when the subscription is gone (404, 410);
// TooManyRequests with the service's retry delay (429); Unavailable for a
// network failure or a 5xx (with the retry delay when given); Internal when
// the service refuses our VAPID credentials (401, 403): a configuration
// error, such as keys that changed since the browser subscribed.
func (p *Pusher) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	if err := p.checkDevice(d); err != nil {
		return err
	}
	endpoint, _ := p.checkEndpoint(d.Subscription.Endpoint)
	body, err := encodePayload(m)
	if err != nil {
		return err
	}
	sub := &webpushgo.Subscription{
		Endpoint: d.Subscription.Endpoint,
		Keys:     webpushgo.Keys{P256dh: d.Subscription.P256dh, Auth: d.Subscription.Auth},
	}
	opts := &webpushgo.Options{
		HTTPClient:      p.client,
		RecordSize:      recordSize,
		Subscriber:      p.subscriber,
		Topic:           topic(m.CollapseID),
		TTL:             p.ttlSeconds(m),
		Urgency:         webpushgo.UrgencyNormal,
		VAPIDPublicKey:  p.publicKey,
		VAPIDPrivateKey: p.privateKey,
	}
	resp, err := webpushgo.SendNotificationWithContext(ctx, body, sub, opts)
	if err != nil {
		return sendError(err, endpoint.Host)
	}
	defer resp.Body.Close()
	// Read a little of the answer for the error, and drain it (bounded)
	// so that the connection is reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return statusError(resp, endpoint.Host, snippet)
}

// sendError translates a failure before any answer: the network (or the
// context), or the library refusing the input. The endpoint's path and
// the payload stay out of the message.
func sendError(err error, host string) error {
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return domain.Wrap(fmt.Errorf("POST to %s: %w", host, ue.Err), domain.Unavailable, "the Web Push service could not be reached")
	case errors.Is(err, webpushgo.ErrMaxPadExceeded):
		return domain.Errorf(domain.Invalid, "the push message does not fit in a Web Push payload")
	}
	return domain.Wrap(err, domain.Internal, "encrypting or signing the Web Push message")
}

// statusError maps the push service's answer (RFC 8030 §5, RFC 8292 §4)
// to nil or a domain error.
func statusError(resp *http.Response, host string, snippet []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	cause := fmt.Errorf("%s answered %s: %s", host, resp.Status, clean(snippet))
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		return domain.Wrap(cause, domain.NotFound, "the Web Push subscription is gone")
	case code == http.StatusTooManyRequests:
		e := domain.Wrap(cause, domain.TooManyRequests, "the Web Push service is throttling us")
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return domain.Wrap(cause, domain.Internal, "the Web Push service refused our VAPID credentials: check the VAPID keys and subject (a subscription made with other keys fails until the browser subscribes again)")
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge:
		return domain.Wrap(cause, domain.Invalid, "the Web Push service refused the message")
	case code >= 500:
		e := domain.Wrap(cause, domain.Unavailable, "the Web Push service is unavailable")
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	case code >= 400:
		return domain.Wrap(cause, domain.Invalid, "the Web Push service refused the message")
	}
	return domain.Wrap(cause, domain.Unavailable, "unexpected answer from the Web Push service")
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); zero
// when absent or unreadable, at most maxRetryAfter.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		d = time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// clean makes a push service's answer fit for a log line: printable, one
// line, at most 200 bytes.
func clean(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(string(b), "?"))
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	if s == "" {
		return "(no body)"
	}
	return s
}
