package snspush_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/cloudpost/cloudpost/adapters/snspush"
	"github.com/cloudpost/cloudpost/adapters/snspush/mototest"
	"github.com/cloudpost/cloudpost/core/domain"
)

// The moto server the package's integration tests share: one process per
// test run on a free port, with three platform applications.
var moto struct {
	srv      *mototest.Server
	recorder *mototest.Recorder
	client   *sns.Client // a plain client, for what tests do behind the adapter's back
	fcmApp   string      // platform GCM
	apnsApp  string      // platform APNS
	sandApp  string      // platform APNS_SANDBOX
	skip     string      // why integration tests skip, when they do
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	return mototest.RunMain(m, "snspush", func(srv *mototest.Server) error {
		moto.srv = srv
		moto.recorder = &mototest.Recorder{}
		moto.client = sns.NewFromConfig(mototest.AWSConfig(), func(o *sns.Options) {
			o.BaseEndpoint = aws.String(srv.Endpoint)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, app := range []struct {
			arn      *string
			platform string
		}{{&moto.fcmApp, "GCM"}, {&moto.apnsApp, "APNS"}, {&moto.sandApp, "APNS_SANDBOX"}} {
			arn, err := mototest.CreateApplication(ctx, moto.client, app.platform)
			if err != nil {
				return err
			}
			*app.arn = arn
		}
		return nil
	}, func(reason string) { moto.skip = reason })
}

// requireMoto skips when moto_server is missing (with CI=true, TestMain
// has already failed).
func requireMoto(t testing.TB) {
	t.Helper()
	if moto.skip != "" {
		t.Skip(moto.skip)
	}
}

// testConfig configures both platforms on moto (APNs: the production
// application, or the sandbox one).
func testConfig(t testing.TB, sandbox bool) snspush.Config {
	t.Helper()
	requireMoto(t)
	c := snspush.Config{Endpoint: moto.srv.Endpoint, FCMApplicationARN: moto.fcmApp, APNsApplicationARN: moto.apnsApp}
	if sandbox {
		c.APNsApplicationARN, c.APNsSandbox = moto.sandApp, true
	}
	return c
}

// newPusher returns a Pusher on moto whose Publish calls the recorder
// sees; log may be nil.
func newPusher(t testing.TB, cfg snspush.Config, log *slog.Logger) *snspush.Pusher {
	t.Helper()
	requireMoto(t)
	if log == nil {
		log = discardLog()
	}
	p, err := snspush.NewWithAWS(cfg, mototest.AWSConfig(), log, func(o *sns.Options) {
		o.HTTPClient = &http.Client{Transport: moto.recorder, Timeout: 30 * time.Second}
	})
	if err != nil {
		t.Fatalf("NewWithAWS: %v", err)
	}
	return p
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newDevice returns a fresh, unregistered device of platform pl with a
// token of the platform's shape.
func newDevice(pl domain.Platform) domain.Device {
	d := domain.Device{ID: "dev-" + randomHex(6), UserID: "user-" + randomHex(8), Platform: pl}
	switch pl {
	case domain.PlatformFCM:
		d.Token = "fcm:" + randomHex(32) + "_APA91b" + randomHex(40)
	case domain.PlatformAPNs:
		d.Token = randomHex(32)
	}
	return d
}

// endpointOf returns moto's record of d's endpoint: the one d.ChannelRef
// names or, for a device without one, the newest one that held its token.
// moto's records include deleted endpoints (see endpointExists).
func endpointOf(t testing.TB, d domain.Device) (mototest.Endpoint, bool) {
	t.Helper()
	all, err := moto.srv.Endpoints(context.Background())
	if err != nil {
		t.Fatalf("reading moto's endpoints: %v", err)
	}
	token := d.Token
	if d.Platform == domain.PlatformAPNs {
		token = strings.ToLower(token)
	}
	var found mototest.Endpoint
	ok := false
	for _, e := range all {
		if d.ChannelRef != "" && e.ARN == d.ChannelRef || d.ChannelRef == "" && e.Token == token {
			found, ok = e, true
		}
	}
	return found, ok
}

// endpointExists asks moto's SNS API whether the endpoint exists (its
// /moto-api/data.json lists deleted endpoints too).
func endpointExists(t testing.TB, arn string) bool {
	t.Helper()
	_, err := moto.client.GetEndpointAttributes(context.Background(), &sns.GetEndpointAttributesInput{EndpointArn: &arn})
	var ae smithy.APIError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ae) && ae.ErrorCode() == "NotFound":
		return false
	}
	t.Fatalf("GetEndpointAttributes: %v", err)
	return false
}

// push is what a device shows and reads of a push (the fields of
// porttest.ReceivedPush).
type push struct {
	CollapseID      string
	Title           string
	Body            string
	Unread          int
	NotificationIDs []string
	PostID          string
	Type            string
}

// delivered is one push moto recorded, decoded.
type delivered struct {
	push
	// key is the message key read (GCM, APNS, APNS_SANDBOX).
	key string
	// payload is the platform payload (the string under key), decoded.
	payload map[string]any
	// def is the "default" text.
	def string
	// attributes are the message attributes sent with it (the recorder's).
	attributes map[string]string
}

// deliveredTo decodes the messages moto recorded for d's endpoint, oldest
// first.
func deliveredTo(t testing.TB, d domain.Device) []delivered {
	t.Helper()
	e, ok := endpointOf(t, d)
	if !ok {
		return nil
	}
	key := mototest.PlatformOf(e.ARN)
	var out []delivered
	for _, msg := range e.Messages {
		var env map[string]string
		if err := json.Unmarshal([]byte(msg.Body), &env); err != nil {
			t.Fatalf("message %s is not a JSON object of strings: %v", msg.ID, err)
		}
		raw, ok := env[key]
		if !ok {
			t.Fatalf("message %s has no %s key (keys: %v)", msg.ID, key, keys(env))
		}
		dl := delivered{key: key, def: env["default"]}
		if err := json.Unmarshal([]byte(raw), &dl.payload); err != nil {
			t.Fatalf("the %s payload of message %s is not JSON: %v", key, msg.ID, err)
		}
		if pub, ok := moto.recorder.Lookup(msg.ID); ok {
			dl.attributes = pub.Attributes
		}
		switch key {
		case "GCM":
			dl.push = decodeFCM(t, dl.payload)
		default:
			dl.push = decodeAPNs(t, dl.payload)
			dl.CollapseID = dl.attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"]
		}
		out = append(out, dl)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// path walks nested JSON objects.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// decodeFCM reads a push the way an Android app does: the notification,
// the data strings, the collapse key.
func decodeFCM(t testing.TB, p map[string]any) push {
	t.Helper()
	msg := path(p, "fcmV1Message", "message")
	data, _ := path(msg, "data").(map[string]any)
	for k, v := range data {
		if _, ok := v.(string); !ok {
			t.Errorf("FCM data %q is %T; FCM takes strings only", k, v)
		}
	}
	unread, err := strconv.Atoi(str(data["unread"]))
	if err != nil {
		t.Errorf("FCM data unread %q: %v", data["unread"], err)
	}
	return push{
		CollapseID:      str(path(msg, "android", "collapse_key")),
		Title:           str(path(msg, "notification", "title")),
		Body:            str(path(msg, "notification", "body")),
		Unread:          unread,
		NotificationIDs: splitIDs(str(data["notificationIds"])),
		PostID:          str(data["postId"]),
		Type:            str(data["type"]),
	}
}

// decodeAPNs reads a push the way an iOS app does: aps and the custom keys
// (the collapse id travels as the apns-collapse-id header, which SNS makes
// from a message attribute).
func decodeAPNs(t testing.TB, p map[string]any) push {
	t.Helper()
	badge, ok := path(p, "aps", "badge").(float64)
	if !ok {
		t.Errorf("APNs aps.badge is %T, want a number", path(p, "aps", "badge"))
	}
	return push{
		Title:           str(path(p, "aps", "alert", "title")),
		Body:            str(path(p, "aps", "alert", "body")),
		Unread:          int(badge),
		NotificationIDs: splitIDs(str(p["notificationIds"])),
		PostID:          str(p["postId"]),
		Type:            str(p["type"]),
	}
}

// kill does what SNS does when FCM or APNs reports the token unregistered:
// the endpoint's Enabled becomes false.
func kill(t *testing.T, d domain.Device) {
	t.Helper()
	if d.ChannelRef == "" {
		t.Fatal("kill: the device has no endpoint")
	}
	_, err := moto.client.SetEndpointAttributes(t.Context(), &sns.SetEndpointAttributesInput{
		EndpointArn: &d.ChannelRef, Attributes: map[string]string{"Enabled": "false"},
	})
	if err != nil {
		t.Fatalf("kill: SetEndpointAttributes: %v", err)
	}
}
