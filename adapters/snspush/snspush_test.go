package snspush_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/cloudpost/cloudpost/adapters/snspush"
	"github.com/cloudpost/cloudpost/core/domain"
)

// message returns a push as the relay builds it.
func message() domain.PushMessage {
	return domain.PushMessage{
		CollapseID:      "0196f1c2-7a3b-7c4d-8e5f-000000000002",
		NotificationIDs: []string{"0196f1c2-7a3b-7c4d-8e5f-000000000001", "0196f1c2-7a3b-7c4d-8e5f-000000000002"},
		Type:            domain.NotificationComment,
		PostID:          "0196f1c2-0000-7000-8000-00000000abcd",
		Title:           "Ana and Ben commented on your post",
		Body:            "Nice <photo> & more!",
		Unread:          7,
		TTL:             90 * time.Minute,
	}
}

func register(t *testing.T, p *snspush.Pusher, d domain.Device) domain.Device {
	t.Helper()
	got, err := p.Register(t.Context(), d)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if got.ChannelRef == "" {
		t.Fatal("Register returned no ChannelRef")
	}
	return got
}

func send(t *testing.T, p *snspush.Pusher, d domain.Device, m domain.PushMessage) {
	t.Helper()
	if err := p.Send(t.Context(), d, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// only returns the one push moto recorded for d.
func only(t *testing.T, d domain.Device) delivered {
	t.Helper()
	got := deliveredTo(t, d)
	if len(got) != 1 {
		t.Fatalf("moto recorded %d pushes for the device, want 1", len(got))
	}
	return got[0]
}

func expectCode(t *testing.T, err error, code domain.Code, what string) {
	t.Helper()
	if !domain.IsCode(err, code) {
		t.Fatalf("%s: got %v (code %q), want %s", what, err, domain.ErrorCode(err), code)
	}
}

func checkCommon(t *testing.T, got push, m domain.PushMessage) {
	t.Helper()
	if got.Title != m.Title || got.Body != m.Body {
		t.Errorf("title/body = %q / %q, want %q / %q", got.Title, got.Body, m.Title, m.Body)
	}
	if got.Unread != m.Unread {
		t.Errorf("unread = %d, want %d", got.Unread, m.Unread)
	}
	if !slices.Equal(got.NotificationIDs, m.NotificationIDs) || got.PostID != m.PostID || got.Type != string(m.Type) {
		t.Errorf("data = ids %q post %q type %q, want %q %q %q", got.NotificationIDs, got.PostID, got.Type, m.NotificationIDs, m.PostID, m.Type)
	}
	if got.CollapseID != m.CollapseID {
		t.Errorf("collapse id = %q, want %q", got.CollapseID, m.CollapseID)
	}
}

// TestFCMPayload checks the FCM HTTP v1 message under the GCM key as moto
// recorded it, and the message attributes sent with it.
func TestFCMPayload(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	d := register(t, p, newDevice(domain.PlatformFCM))
	m := message()
	before := time.Now()
	send(t, p, d, m)

	got := only(t, d)
	if got.key != "GCM" {
		t.Fatalf("message key %q, want GCM", got.key)
	}
	checkCommon(t, got.push, m)
	msg := path(got.payload, "fcmV1Message", "message")
	if msg == nil {
		t.Fatalf("no fcmV1Message.message in %v", got.payload)
	}
	if data := path(msg, "data").(map[string]any); data["collapseId"] != m.CollapseID || data["unread"] != "7" {
		t.Errorf("data = %v, want collapseId %s and unread \"7\"", data, m.CollapseID)
	}
	if ttl := str(path(msg, "android", "ttl")); ttl != "5400s" {
		t.Errorf("android.ttl = %q, want 5400s", ttl)
	}
	if tag := str(path(msg, "android", "notification", "tag")); tag != m.CollapseID {
		t.Errorf("android.notification.tag = %q, want the collapse id", tag)
	}
	// iOS apps that receive through Firebase: the APNs part.
	if h := str(path(msg, "apns", "headers", "apns-collapse-id")); h != m.CollapseID {
		t.Errorf("apns.headers.apns-collapse-id = %q, want the collapse id", h)
	}
	if b, _ := path(msg, "apns", "payload", "aps", "badge").(float64); int(b) != m.Unread {
		t.Errorf("apns.payload.aps.badge = %v, want %d", b, m.Unread)
	}
	if exp := str(path(msg, "apns", "headers", "apns-expiration")); exp < itoa(before.Unix()+5400) || exp > itoa(time.Now().Unix()+5400) {
		t.Errorf("apns-expiration = %s, want about now + 5400s", exp)
	}
	if got.def != m.Body {
		t.Errorf("default text %q, want the body", got.def)
	}
	want := map[string]string{"AWS.SNS.MOBILE.FCM.TTL": "5400"}
	if !mapsEqual(got.attributes, want) {
		t.Errorf("message attributes %v, want %v", got.attributes, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAPNsPayload checks the APNs payload under the APNS key (production
// application) or APNS_SANDBOX (sandbox application), and its message
// attributes: collapse id, push type and the TTL of that key.
func TestAPNsPayload(t *testing.T) {
	requireMoto(t)
	for _, tc := range []struct {
		name    string
		sandbox bool
		key     string
	}{{"production", false, "APNS"}, {"sandbox", true, "APNS_SANDBOX"}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPusher(t, testConfig(t, tc.sandbox), nil)
			d := newDevice(domain.PlatformAPNs)
			d.Token = strings.ToUpper(d.Token) // SNS keeps APNs tokens in lower case
			d = register(t, p, d)
			m := message()
			send(t, p, d, m)

			got := only(t, d)
			if got.key != tc.key {
				t.Fatalf("message key %q, want %s", got.key, tc.key)
			}
			checkCommon(t, got.push, m)
			if s := str(path(got.payload, "aps", "sound")); s != "default" {
				t.Errorf("aps.sound = %q, want default", s)
			}
			if th := str(path(got.payload, "aps", "thread-id")); th != m.PostID {
				t.Errorf("aps.thread-id = %q, want the post id", th)
			}
			if c := str(got.payload["collapseId"]); c != m.CollapseID {
				t.Errorf("collapseId = %q, want %q", c, m.CollapseID)
			}
			want := map[string]string{
				"AWS.SNS.MOBILE.APNS.COLLAPSE_ID":   m.CollapseID,
				"AWS.SNS.MOBILE.APNS.PUSH_TYPE":     "alert",
				"AWS.SNS.MOBILE." + tc.key + ".TTL": "5400",
			}
			if !mapsEqual(got.attributes, want) {
				t.Errorf("message attributes %v, want %v", got.attributes, want)
			}
			e, _ := endpointOf(t, d)
			if e.Token != strings.ToLower(d.Token) {
				t.Errorf("endpoint token %q, want the lower-case token", e.Token)
			}
			// Registering the upper-case token again changes nothing.
			if again := register(t, p, d); again.ChannelRef != d.ChannelRef || again.Token != d.Token {
				t.Errorf("registering again: ChannelRef %q token kept %v", again.ChannelRef, again.Token == d.Token)
			}
		})
	}
}

// TestSendWithoutTTL: no TTL attribute and no android.ttl when the message
// has none; a push without a post has no thread-id.
func TestSendWithoutTTL(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	m := message()
	m.TTL, m.PostID = 0, ""
	fcm := register(t, p, newDevice(domain.PlatformFCM))
	apns := register(t, p, newDevice(domain.PlatformAPNs))
	send(t, p, fcm, m)
	send(t, p, apns, m)
	f, a := only(t, fcm), only(t, apns)
	if ttl := path(f.payload, "fcmV1Message", "message", "android", "ttl"); ttl != nil {
		t.Errorf("android.ttl = %v, want none", ttl)
	}
	if len(f.attributes) != 0 {
		t.Errorf("FCM attributes %v, want none", f.attributes)
	}
	if _, ok := a.attributes["AWS.SNS.MOBILE.APNS.TTL"]; ok {
		t.Errorf("APNs attributes %v, want no TTL", a.attributes)
	}
	if th := path(a.payload, "aps", "thread-id"); th != nil {
		t.Errorf("aps.thread-id = %v, want none", th)
	}
}

// TestRegisterExistingEndpoint: a token that an endpoint already holds
// with other attributes (another user's CustomUserData, Enabled=false):
// SNS refuses to create another and names the endpoint in its error;
// Register takes that endpoint and brings it up to date.
func TestRegisterExistingEndpoint(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		attrs map[string]string
	}{
		{"another user", nil},
		{"disabled", map[string]string{"Enabled": "false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(domain.PlatformFCM)
			out, err := moto.client.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{
				PlatformApplicationArn: &moto.fcmApp, Token: &d.Token, CustomUserData: aws.String("someone-else"), Attributes: tc.attrs,
			})
			if err != nil {
				t.Fatal(err)
			}
			// What SNS (and moto) answer to the plain create.
			_, err = moto.client.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{
				PlatformApplicationArn: &moto.fcmApp, Token: &d.Token, CustomUserData: &d.UserID,
			})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameter" || !strings.Contains(ae.ErrorMessage(), *out.EndpointArn+" already exists with the same Token, but different attributes") {
				t.Fatalf("creating again: %v, want InvalidParameter naming the endpoint", err)
			}

			got := register(t, p, d)
			if got.ChannelRef != *out.EndpointArn {
				t.Fatalf("ChannelRef %q, want the existing endpoint %q", got.ChannelRef, *out.EndpointArn)
			}
			e, _ := endpointOf(t, got)
			if !e.Enabled || e.Attributes["CustomUserData"] != d.UserID {
				t.Errorf("endpoint enabled %v, CustomUserData %v; want enabled and the user id", e.Enabled, e.Attributes["CustomUserData"])
			}
			send(t, p, got, message())
			if n := len(deliveredTo(t, got)); n != 1 {
				t.Errorf("%d pushes recorded, want 1", n)
			}
		})
	}
}

// TestRegisterRefreshedToken: the app's token changed (FCM rotates them);
// registering the device with its endpoint moves the endpoint to the new
// token.
func TestRegisterRefreshedToken(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	d := register(t, p, newDevice(domain.PlatformFCM))
	d.Token = newDevice(domain.PlatformFCM).Token
	got := register(t, p, d)
	if got.ChannelRef != d.ChannelRef {
		t.Fatalf("ChannelRef changed from %q to %q", d.ChannelRef, got.ChannelRef)
	}
	e, _ := endpointOf(t, got)
	if e.Attributes["Token"] != d.Token || !e.Enabled {
		t.Errorf("endpoint token %v enabled %v, want the new token, enabled", e.Attributes["Token"], e.Enabled)
	}
	send(t, p, got, message())
	if n := len(deliveredTo(t, got)); n != 1 {
		t.Errorf("%d pushes recorded, want 1", n)
	}
}

// TestRegisterMovedToken: a token registered by one user's device is
// registered by another user's device (the phone changed hands, or
// accounts): both get the same endpoint, which now carries the second
// user; releasing the first device leaves it alone.
func TestRegisterMovedToken(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	ctx := t.Context()
	first := register(t, p, newDevice(domain.PlatformAPNs))
	second := newDevice(domain.PlatformAPNs)
	second.Token = first.Token
	second = register(t, p, second)
	if second.ChannelRef != first.ChannelRef {
		t.Fatalf("the second registration made endpoint %q, want the first's %q", second.ChannelRef, first.ChannelRef)
	}
	e, _ := endpointOf(t, second)
	if e.Attributes["CustomUserData"] != second.UserID {
		t.Errorf("endpoint CustomUserData %v, want the second user %s", e.Attributes["CustomUserData"], second.UserID)
	}
	if err := p.Unregister(ctx, first); err != nil {
		t.Fatalf("Unregister of the first device: %v", err)
	}
	if !endpointExists(t, second.ChannelRef) {
		t.Fatal("releasing the first device deleted the endpoint the second one uses")
	}
	send(t, p, second, message())
	if err := p.Unregister(ctx, second); err != nil {
		t.Fatalf("Unregister of the second device: %v", err)
	}
	if endpointExists(t, second.ChannelRef) {
		t.Error("the endpoint is still there after releasing its device")
	}
}

// TestRegisterDeletedEndpoint: an endpoint deleted behind the adapter's
// back (GetEndpointAttributes: NotFound) is made again.
func TestRegisterDeletedEndpoint(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	d := register(t, p, newDevice(domain.PlatformFCM))
	if _, err := moto.client.DeleteEndpoint(t.Context(), &sns.DeleteEndpointInput{EndpointArn: &d.ChannelRef}); err != nil {
		t.Fatal(err)
	}
	expectCode(t, p.Send(t.Context(), d, message()), domain.NotFound, "Send to a deleted endpoint")
	got := register(t, p, d)
	if got.ChannelRef == d.ChannelRef {
		t.Fatal("Register kept the deleted endpoint")
	}
	send(t, p, got, message())
}

// TestRegisterOtherApplicationsEndpoint: a ChannelRef that is not an
// endpoint of the platform's application (the configured application
// changed, e.g. sandbox to production) is replaced, not reused.
func TestRegisterOtherApplicationsEndpoint(t *testing.T) {
	sandbox := newPusher(t, testConfig(t, true), nil)
	prod := newPusher(t, testConfig(t, false), nil)
	d := register(t, sandbox, newDevice(domain.PlatformAPNs))
	if !strings.Contains(d.ChannelRef, "/APNS_SANDBOX/") {
		t.Fatalf("sandbox endpoint %q", d.ChannelRef)
	}
	// moto matches tokens across applications (SNS does per application),
	// so the sandbox endpoint goes first.
	if err := sandbox.Unregister(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	got := register(t, prod, d)
	if !strings.Contains(got.ChannelRef, "/APNS/") {
		t.Fatalf("ChannelRef %q, want an endpoint of the APNS application", got.ChannelRef)
	}
	send(t, prod, got, message())
	if dl := only(t, got); dl.key != "APNS" {
		t.Errorf("message key %q, want APNS", dl.key)
	}
}

// TestRegisterRefused: platforms this Pusher is not configured for, and
// devices without a token.
func TestRegisterRefused(t *testing.T) {
	fcmOnly := testConfig(t, false)
	fcmOnly.APNsApplicationARN = ""
	p := newPusher(t, fcmOnly, nil)
	_, err := p.Register(t.Context(), newDevice(domain.PlatformAPNs))
	expectCode(t, err, domain.Invalid, "APNs device without an APNs application")
	if !strings.Contains(err.Error(), "CLOUDPOST_SNS_APNS_APPLICATION_ARN") {
		t.Errorf("error %q does not name the setting", err)
	}
	if got := p.Platforms(); !slices.Equal(got, []domain.Platform{domain.PlatformFCM}) {
		t.Errorf("Platforms() = %v, want [fcm]", got)
	}

	apnsOnly := testConfig(t, false)
	apnsOnly.FCMApplicationARN = ""
	p = newPusher(t, apnsOnly, nil)
	_, err = p.Register(t.Context(), newDevice(domain.PlatformFCM))
	expectCode(t, err, domain.Invalid, "FCM device without an FCM application")
	if !strings.Contains(err.Error(), "CLOUDPOST_SNS_FCM_APPLICATION_ARN") {
		t.Errorf("error %q does not name the setting", err)
	}

	p = newPusher(t, testConfig(t, false), nil)
	_, err = p.Register(t.Context(), domain.Device{ID: "web", UserID: "u", Platform: domain.PlatformWebPush})
	expectCode(t, err, domain.Invalid, "Web Push device")
	_, err = p.Register(t.Context(), domain.Device{ID: "d", UserID: "u", Platform: domain.PlatformFCM})
	expectCode(t, err, domain.Invalid, "FCM device without a token")
}

// TestSendGone: what Send reports for devices that no longer receive. moto
// answers Publish to a disabled endpoint with EndpointDisabled (HTTP 400),
// as SNS does, and to a deleted one with NotFound (SNS: InvalidParameter
// "TargetArn Reason: No endpoint found", see TestErrorMapping).
func TestSendGone(t *testing.T) {
	p := newPusher(t, testConfig(t, false), nil)
	ctx := t.Context()
	expectCode(t, p.Send(ctx, newDevice(domain.PlatformFCM), message()), domain.NotFound, "Send without ChannelRef")
	bad := newDevice(domain.PlatformFCM)
	bad.ChannelRef = "not-an-arn"
	expectCode(t, p.Send(ctx, bad, message()), domain.NotFound, "Send with a ChannelRef that is no endpoint ARN")

	d := register(t, p, newDevice(domain.PlatformFCM))
	kill(t, d)
	err := p.Send(ctx, d, message())
	expectCode(t, err, domain.NotFound, "Send to a disabled endpoint")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "EndpointDisabled" {
		t.Errorf("moto's answer: %v, want EndpointDisabled", err)
	}
	if n := len(deliveredTo(t, d)); n != 0 {
		t.Errorf("moto recorded %d pushes to the disabled endpoint", n)
	}

	if _, err := moto.client.DeleteEndpoint(ctx, &sns.DeleteEndpointInput{EndpointArn: &d.ChannelRef}); err != nil {
		t.Fatal(err)
	}
	err = p.Send(ctx, d, message())
	expectCode(t, err, domain.NotFound, "Send to a deleted endpoint")
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFound" {
		t.Errorf("moto's answer: %v, want NotFound", err)
	}
}

// TestNoSecretsLogged: tokens and message texts appear in no log line,
// even when SNS refuses things.
func TestNoSecretsLogged(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newPusher(t, testConfig(t, false), log)
	ctx := t.Context()
	m := message()
	d := register(t, p, newDevice(domain.PlatformFCM))
	send(t, p, d, m)
	kill(t, d)
	_ = p.Send(ctx, d, m)
	d = register(t, p, d)
	if err := p.Unregister(ctx, d); err != nil {
		t.Fatal(err)
	}
	_ = p.Send(ctx, d, m)
	for _, secret := range []string{d.Token, m.Title, m.Body} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, buf.String())
		}
	}
}

// TestPing checks the platform applications.
func TestPing(t *testing.T) {
	ctx := t.Context()
	if err := newPusher(t, testConfig(t, false), nil).Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	missing := testConfig(t, false)
	missing.FCMApplicationARN = strings.Replace(moto.fcmApp, "cloudpost-gcm", "no-such-app", 1)
	err := newPusher(t, missing, nil).Ping(ctx)
	expectCode(t, err, domain.Internal, "Ping with a missing application")
	if !strings.Contains(err.Error(), "CLOUDPOST_SNS_FCM_APPLICATION_ARN") {
		t.Errorf("error %q does not name the variable", err)
	}

	out, err := moto.client.CreatePlatformApplication(ctx, &sns.CreatePlatformApplicationInput{
		Name: aws.String("disabled-" + randomHex(4)), Platform: aws.String("APNS"), Attributes: map[string]string{"PlatformCredential": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := moto.client.SetPlatformApplicationAttributes(ctx, &sns.SetPlatformApplicationAttributesInput{
		PlatformApplicationArn: out.PlatformApplicationArn, Attributes: map[string]string{"Enabled": "false"},
	}); err != nil {
		t.Fatal(err)
	}
	disabled := testConfig(t, false)
	disabled.APNsApplicationARN = *out.PlatformApplicationArn
	err = newPusher(t, disabled, nil).Ping(ctx)
	expectCode(t, err, domain.Internal, "Ping with a disabled application")
	if !strings.Contains(err.Error(), "CLOUDPOST_SNS_APNS_APPLICATION_ARN") {
		t.Errorf("error %q does not name the variable", err)
	}

	down := testConfig(t, false)
	down.Endpoint = "http://127.0.0.1:1"
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	expectCode(t, newPusher(t, down, nil).Ping(c), domain.Unavailable, "Ping with SNS unreachable")
}
