package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/snspush/mototest"
	"github.com/cloudpost/cloudpost/adapters/webpush"
	"github.com/cloudpost/cloudpost/adapters/webpush/webpushtest"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/core/domain"
)

// TestPushChannelsEndToEnd: the server configured for SNS mobile push
// (against moto) and Web Push (against an in-test push service that
// checks VAPID and decrypts): a comment reaches each of the author's
// three devices once, as the push service of each received it.
func TestPushChannelsEndToEnd(t *testing.T) {
	moto := mototest.ForTest(t)
	mototest.SetEnv(t, mototest.Region)
	client := sns.NewFromConfig(mototest.AWSConfig(), func(o *sns.Options) { o.BaseEndpoint = aws.String(moto.Endpoint) })
	app := func(platform string) string {
		arn, err := mototest.CreateApplication(t.Context(), client, platform)
		if err != nil {
			t.Fatal(err)
		}
		return arn
	}
	keys, err := webpush.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	browsers := webpushtest.New(t, keys.PublicKey)
	env := []string{
		"CLOUDPOST_PUSH_UNCONFIGURED=refuse",
		"CLOUDPOST_SNS_ENDPOINT=" + moto.Endpoint, "CLOUDPOST_SNS_REGION=" + mototest.Region,
		"CLOUDPOST_SNS_FCM_APPLICATION_ARN=" + app("GCM"), "CLOUDPOST_SNS_APNS_APPLICATION_ARN=" + app("APNS"),
		"CLOUDPOST_VAPID_PUBLIC_KEY=" + keys.PublicKey, "CLOUDPOST_VAPID_PRIVATE_KEY=" + keys.PrivateKey,
		"CLOUDPOST_VAPID_SUBJECT=mailto:ops@example.com", "CLOUDPOST_WEBPUSH_ALLOWED_HOSTS=" + browsers.Host(),
	}
	// The in-test push service's TLS certificate is trusted through its
	// own client; everything else is the app's configuration.
	trust := fx.Decorate(func(ch fxmodules.PushChannels, cfg config.Config) (fxmodules.PushChannels, error) {
		wp, err := webpush.New(webpush.Config{
			VAPIDPublicKey: cfg.Push.VAPIDPublicKey, VAPIDPrivateKey: cfg.Push.VAPIDPrivateKey, Subject: cfg.Push.VAPIDSubject,
			AllowedHosts: cfg.Push.WebPushAllowedHosts, HTTPClient: browsers.Client(),
		})
		ch[domain.PlatformWebPush] = wp
		return ch, err
	})
	ann, bob, _ := startServer(t, env, nil, trust)
	ann.token = signUpAndIn(ann, "ann@example.com", "Ann").AccessToken
	bob.token = signUpAndIn(bob, "bob@example.com", "Bob").AccessToken

	var cfg struct {
		Platforms        []string
		WebPushPublicKey string
	}
	ann.do("GET", "/v1/push/config", nil, 200, &cfg)
	if len(cfg.Platforms) != 3 || cfg.WebPushPublicKey != keys.PublicKey {
		t.Fatalf("push config %+v", cfg)
	}
	sub := browsers.NewSubscription()
	ann.do("PUT", "/v1/devices/android", map[string]string{"platform": "fcm", "token": "fcm-registration-token-of-anns-android"}, 201, nil)
	ann.do("PUT", "/v1/devices/iphone", map[string]string{"platform": "apns", "token": strings.Repeat("0a", 32)}, 201, nil)
	ann.do("PUT", "/v1/devices/laptop", map[string]any{"platform": "webpush", "subscription": map[string]any{
		"endpoint": sub.Endpoint, "expirationTime": nil, "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth},
	}}, 201, nil)
	// A subscription to an address outside the allow-list is refused.
	ann.do("PUT", "/v1/devices/evil", map[string]any{"platform": "webpush", "subscription": map[string]any{
		"endpoint": "https://169.254.169.254/latest", "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth},
	}}, 400, nil)

	var post struct{ ID string }
	ann.do("POST", "/v1/posts", map[string]string{"body": "hello"}, 201, &post)
	var comment struct{ ID string }
	bob.do("POST", "/v1/posts/"+post.ID+"/comments", map[string]string{"body": "Lovely!"}, 201, &comment)

	// Each SNS endpoint received one publish, and the browser one push.
	var eps []mototest.Endpoint
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if eps, err = moto.Endpoints(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(eps) == 2 && len(eps[0].Messages) == 1 && len(eps[1].Messages) == 1 && len(browsers.Received(sub.Endpoint)) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate, if any, would show
	if eps, err = moto.Endpoints(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 {
		t.Fatalf("%d SNS endpoints, want 2 (android, iphone)", len(eps))
	}
	for _, ep := range eps {
		if len(ep.Messages) != 1 {
			t.Fatalf("endpoint %s (%s) received %d publishes, want 1", ep.ARN, mototest.PlatformOf(ep.ARN), len(ep.Messages))
		}
		var msg map[string]string
		if err := json.Unmarshal([]byte(ep.Messages[0].Body), &msg); err != nil {
			t.Fatalf("publish %q: %v", ep.Messages[0].Body, err)
		}
		key := map[string]string{"GCM": "GCM", "APNS": "APNS"}[mototest.PlatformOf(ep.ARN)]
		if !strings.Contains(msg[key], "Bob commented on your post") || !strings.Contains(msg[key], "Lovely!") {
			t.Errorf("%s message %q", key, msg[key])
		}
	}
	got := browsers.Received(sub.Endpoint)
	if len(got) != 1 {
		t.Fatalf("the browser received %d pushes, want 1", len(got))
	}
	var payload struct {
		Title, Body, CollapseID string
		Unread                  int
	}
	if err := json.Unmarshal(got[0].Payload, &payload); err != nil {
		t.Fatalf("decrypted payload %q: %v", got[0].Payload, err)
	}
	if payload.Title != "Bob commented on your post" || payload.Body != "Lovely!" || payload.Unread != 1 || got[0].Topic == "" {
		t.Errorf("web push %+v, topic %q", payload, got[0].Topic)
	}
	if p := browsers.TakeProblems(); len(p) > 0 {
		t.Errorf("the push service refused requests: %v", p)
	}
}
