package domain

import (
	"encoding/base64"
	"net/url"
	"strings"
	"time"
	// Quiet hours name IANA zones: the rule must not depend on whether
	// the host (a minimal Lambda or container image) has zoneinfo.
	_ "time/tzdata"
)

// Platform is the push service a device receives on.
type Platform string

// Push platforms.
const (
	// PlatformFCM is Firebase Cloud Messaging (Android, and iOS apps that
	// use Firebase); the token is an FCM registration token.
	PlatformFCM Platform = "fcm"
	// PlatformAPNs is Apple Push Notification service; the token is the
	// device token in hex.
	PlatformAPNs Platform = "apns"
	// PlatformWebPush is a browser's Push API subscription (RFC 8030).
	PlatformWebPush Platform = "webpush"
)

// Platforms lists every platform, in a stable order.
var Platforms = []Platform{PlatformFCM, PlatformAPNs, PlatformWebPush}

// WebPushSubscription is what a browser's PushSubscription.toJSON() gives:
// the push service endpoint and the client's keys (unpadded base64url).
type WebPushSubscription struct {
	Endpoint string
	// P256dh is the client's P-256 public key, 65 bytes uncompressed.
	P256dh string
	// Auth is the 16-byte authentication secret.
	Auth string
}

// Device is one app install or browser that receives push notifications
// for its user. Its ID is chosen by the client (an id the app keeps, e.g.
// a UUID) and is unique per user.
type Device struct {
	ID       string
	UserID   string
	Platform Platform
	// Token is the FCM registration token or the APNs device token; empty
	// for Web Push.
	Token string
	// Subscription is set for Web Push only.
	Subscription *WebPushSubscription
	// Locale is the app's language tag (BCP 47), may be empty.
	Locale string
	// ChannelRef is the push adapter's own handle on the device (the SNS
	// platform endpoint ARN); empty when the channel needs none.
	ChannelRef string
	CreatedAt  time.Time
	// SeenAt is when the device was last registered: devices not seen for
	// DeviceRetention are pruned.
	SeenAt time.Time
}

// Address is where the device receives: its token, or its subscription's
// endpoint. One address belongs to one device of one user at a time.
func (d Device) Address() string {
	if d.Subscription != nil {
		return string(d.Platform) + ":" + d.Subscription.Endpoint
	}
	return string(d.Platform) + ":" + d.Token
}

// Device limits.
const (
	// MaxDevicesPerUser bounds the devices one user may register.
	MaxDevicesPerUser = 20
	// DeviceRetention is how long a device that is never registered again
	// is kept.
	DeviceRetention = 270 * 24 * time.Hour
	maxDeviceID     = 64
	maxPushToken    = 4096
	maxEndpoint     = 2048
	maxLocale       = 35
)

// ValidateDeviceID checks a client-chosen device id: 1 to 64 characters
// among letters, digits and "._:-". Returns Invalid.
func ValidateDeviceID(id string) error {
	if id == "" || len(id) > maxDeviceID {
		return Errorf(Invalid, "deviceId must be 1 to %d characters", maxDeviceID)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)) {
			return Errorf(Invalid, "deviceId may hold only letters, digits and . _ : -")
		}
	}
	return nil
}

// ValidateDevice checks what a client registers: the id, the platform, a
// token of the platform's shape (FCM: printable, no spaces; APNs: hex of
// 64 to 200 digits) or a Web Push subscription (an https endpoint, a
// 65-byte uncompressed P-256 key, a 16-byte auth secret), and the locale.
// Returns Invalid with a message naming the field.
func ValidateDevice(d Device) error {
	if err := ValidateDeviceID(d.ID); err != nil {
		return err
	}
	switch d.Platform {
	case PlatformFCM, PlatformAPNs:
		if d.Subscription != nil {
			return Errorf(Invalid, "subscription is for webpush devices; %s devices send token", d.Platform)
		}
		if err := validateToken(d.Platform, d.Token); err != nil {
			return err
		}
	case PlatformWebPush:
		if d.Token != "" {
			return Errorf(Invalid, "token is for fcm and apns devices; webpush devices send subscription")
		}
		if d.Subscription == nil {
			return Errorf(Invalid, "subscription is required for webpush devices")
		}
		if err := validateSubscription(*d.Subscription); err != nil {
			return err
		}
	default:
		return Errorf(Invalid, "platform must be fcm, apns or webpush")
	}
	if len(d.Locale) > maxLocale {
		return Errorf(Invalid, "locale must be at most %d characters", maxLocale)
	}
	for _, r := range d.Locale {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Errorf(Invalid, "locale must be a language tag such as en-US")
		}
	}
	return nil
}

func validateToken(p Platform, token string) error {
	if token == "" {
		return Errorf(Invalid, "token is required for %s devices", p)
	}
	if len(token) > maxPushToken {
		return Errorf(Invalid, "token must be at most %d characters", maxPushToken)
	}
	if p == PlatformAPNs {
		if len(token) < 64 || len(token) > 200 || len(token)%2 != 0 {
			return Errorf(Invalid, "an apns token is the device token in hex (64 to 200 digits)")
		}
		for _, r := range token {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return Errorf(Invalid, "an apns token is the device token in hex (64 to 200 digits)")
			}
		}
		return nil
	}
	for _, r := range token {
		if r <= ' ' || r > '~' {
			return Errorf(Invalid, "an fcm token holds printable ASCII without spaces")
		}
	}
	return nil
}

func validateSubscription(s WebPushSubscription) error {
	if len(s.Endpoint) > maxEndpoint {
		return Errorf(Invalid, "subscription.endpoint must be at most %d characters", maxEndpoint)
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Errorf(Invalid, "subscription.endpoint must be an https URL without credentials")
	}
	key, err := decodeB64URL(s.P256dh)
	if err != nil || len(key) != 65 || key[0] != 4 {
		return Errorf(Invalid, "subscription.keys.p256dh must be a 65-byte uncompressed P-256 public key in base64url")
	}
	auth, err := decodeB64URL(s.Auth)
	if err != nil || len(auth) != 16 {
		return Errorf(Invalid, "subscription.keys.auth must be 16 bytes in base64url")
	}
	return nil
}

// decodeB64URL accepts base64url with or without padding (browsers send it
// unpadded; some libraries pad).
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// DeliveryState is where a notification's push delivery stands.
type DeliveryState string

// Delivery states. Pending is the only state a relay claims; the others
// are final.
const (
	DeliveryPending DeliveryState = "pending"
	// DeliverySent: the push reached at least one device's push service.
	DeliverySent DeliveryState = "sent"
	// DeliverySkipped: nothing to send (no device, push turned off for
	// the type, the post muted, already read, the recipient gone).
	DeliverySkipped DeliveryState = "skipped"
	// DeliveryFailed: every attempt failed and the relay gave up. The
	// notification stays in the inbox.
	DeliveryFailed DeliveryState = "failed"
)

// Delivery is a notification claimed by a relay: the notification and the
// number of this claim (1 for the first attempt). The number fences the
// outcome: only the latest claim may record one.
type Delivery struct {
	Notification Notification
	Attempt      int
}

// DeliveryOutcome is what a relay records for a claimed notification.
type DeliveryOutcome struct {
	// State is final, or DeliveryPending to try again at NextAttemptAt.
	State DeliveryState
	// NextAttemptAt is when a pending notification is due again.
	NextAttemptAt time.Time
	// Deferred says the claim was not an attempt (coalescing window, quiet
	// hours): the attempt count goes back down.
	Deferred bool
	// At is when the outcome happened (DoneAt of final states, LastPushAt
	// of sent ones).
	At time.Time
	// Error is the last failure, for operators (never shown to clients).
	Error string
}

// NotificationSettings are a user's push preferences. The zero value is
// the default: every type pushed, no quiet hours. The inbox and the live
// stream do not depend on them.
type NotificationSettings struct {
	// PushOff lists the notification types not pushed.
	PushOff []NotificationType
	// Quiet, when set, holds pushes back while it lasts each day.
	Quiet *QuietHours
}

// QuietHours is a daily period, in the user's time zone, during which
// pushes wait until it ends. Start == End is refused; Start > End spans
// midnight.
type QuietHours struct {
	// Start and End are minutes after local midnight (0..1439).
	Start, End int
	// TimeZone is an IANA zone name such as Europe/Lisbon.
	TimeZone string
}

// PushEnabled reports whether notifications of type t are pushed.
func (s NotificationSettings) PushEnabled(t NotificationType) bool {
	for _, off := range s.PushOff {
		if off == t {
			return false
		}
	}
	return true
}

// QuietUntil returns when the quiet hours holding at now end, or the zero
// time when now is outside them (or none are set, or the zone is unknown
// to this system, which validation prevents).
func (q *QuietHours) QuietUntil(now time.Time) time.Time {
	if q == nil || q.Start == q.End {
		return time.Time{}
	}
	loc, err := time.LoadLocation(q.TimeZone)
	if err != nil {
		return time.Time{}
	}
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	minute := local.Hour()*60 + local.Minute()
	at := func(day, minutes int) time.Time {
		d := midnight.AddDate(0, 0, day)
		return time.Date(d.Year(), d.Month(), d.Day(), minutes/60, minutes%60, 0, 0, loc).UTC()
	}
	switch {
	case q.Start < q.End && minute >= q.Start && minute < q.End:
		return at(0, q.End)
	case q.Start > q.End && minute >= q.Start:
		return at(1, q.End)
	case q.Start > q.End && minute < q.End:
		return at(0, q.End)
	}
	return time.Time{}
}

// ValidateQuietHours checks minutes and the zone. Returns Invalid.
func ValidateQuietHours(q QuietHours) error {
	if q.Start < 0 || q.Start > 1439 || q.End < 0 || q.End > 1439 {
		return Errorf(Invalid, "quietHours start and end must be times of day HH:MM")
	}
	if q.Start == q.End {
		return Errorf(Invalid, "quietHours start and end must differ")
	}
	if q.TimeZone == "" || q.TimeZone == "Local" {
		return Errorf(Invalid, "quietHours.timeZone must be an IANA time zone such as Europe/Lisbon")
	}
	if _, err := time.LoadLocation(q.TimeZone); err != nil {
		return Errorf(Invalid, "quietHours.timeZone %q is not a known IANA time zone", q.TimeZone)
	}
	return nil
}

// PushMessage is one push to one device: a notification, or several on the
// same post coalesced into one.
type PushMessage struct {
	// CollapseID is the id of the newest notification it carries: a
	// retried push carries the same one, so the device shows it once (FCM
	// collapse_key, APNs apns-collapse-id, Web Push Topic).
	CollapseID string
	// NotificationIDs are the notifications it carries, oldest first.
	NotificationIDs []string
	Type            NotificationType
	PostID          string
	Title           string
	Body            string
	// Unread is the recipient's unread count (the APNs badge).
	Unread int
	// TTL is how long the push service may hold it for an offline device.
	TTL time.Duration
}

// OneTimeToken is a short-lived secret redeemed once, such as a stream
// ticket: only its hash is stored.
type OneTimeToken struct {
	// Hash identifies the token (a hash of the secret the client holds).
	Hash string
	// Purpose says what the token opens; redeeming checks it.
	Purpose   string
	UserID    string
	AuthTime  time.Time
	ExpiresAt time.Time
}
