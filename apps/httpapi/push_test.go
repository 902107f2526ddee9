package httpapi_test

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

const fcmToken = "fcm-token-0123456789:abcdefghijklmnopqrstuvwxyz"

func webPushSubscription(t *testing.T, endpoint string) map[string]any {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]any{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(auth),
	}}
}

func TestDevices(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	put := func(u *user, id string, body map[string]any) *resp {
		return en.do(req{method: "PUT", path: "/v1/devices/" + id, token: u.token, body: body})
	}
	r := put(ann, "phone-1", map[string]any{"platform": "fcm", "token": fcmToken, "locale": "pt-PT"}).want(t, http.StatusCreated)
	if d := r.obj(t); d["id"] != "phone-1" || d["platform"] != "fcm" || r.header.Get("Location") != "/v1/devices/phone-1" || strings.Contains(string(r.body), fcmToken) {
		t.Fatalf("created %s %v", r.body, r.header)
	}
	put(ann, "phone-1", map[string]any{"platform": "fcm", "token": fcmToken}).want(t, http.StatusOK)
	put(ann, "browser", map[string]any{"platform": "webpush", "subscription": webPushSubscription(t, "https://push.example.net/sub/1")}).want(t, http.StatusCreated)

	// Bad input: clear 400s, nothing stored.
	for name, body := range map[string]map[string]any{
		"unknown platform":   {"platform": "sms", "token": "x"},
		"no token":           {"platform": "fcm"},
		"apns not hex":       {"platform": "apns", "token": strings.Repeat("zz", 32)},
		"http endpoint":      {"platform": "webpush", "subscription": webPushSubscription(t, "http://push.example.net/x")},
		"token with webpush": {"platform": "webpush", "token": "x", "subscription": webPushSubscription(t, "https://push.example.net/x")},
		"short key": {"platform": "webpush", "subscription": map[string]any{"endpoint": "https://push.example.net/x",
			"keys": map[string]any{"p256dh": "AAAA", "auth": base64.RawURLEncoding.EncodeToString(make([]byte, 16))}}},
	} {
		t.Run(name, func(t *testing.T) {
			put(ann, "bad", body).problem(t, http.StatusBadRequest, domain.Invalid)
		})
	}
	put(ann, "bad%20id", map[string]any{"platform": "fcm", "token": fcmToken}).problem(t, http.StatusBadRequest, domain.Invalid)

	var list struct{ Items []map[string]any }
	en.do(req{method: "GET", path: "/v1/devices", token: ann.token}).want(t, http.StatusOK).json(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("ann's devices %+v", list.Items)
	}

	// The token moves with whoever registers it last: never two people.
	put(bob, "his-phone", map[string]any{"platform": "fcm", "token": fcmToken}).want(t, http.StatusCreated)
	en.do(req{method: "GET", path: "/v1/devices", token: ann.token}).want(t, http.StatusOK).json(t, &list)
	if len(list.Items) != 1 || list.Items[0]["id"] != "browser" {
		t.Fatalf("after bob took the token, ann has %+v", list.Items)
	}
	// Bob cannot delete Ann's device.
	en.do(req{method: "DELETE", path: "/v1/devices/browser", token: bob.token}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "DELETE", path: "/v1/devices/browser", token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "DELETE", path: "/v1/devices/browser", token: ann.token}).problem(t, http.StatusNotFound, domain.NotFound)

	var cfg struct {
		Platforms        []string
		WebPushPublicKey *string
	}
	en.do(req{method: "GET", path: "/v1/push/config"}).want(t, http.StatusOK).json(t, &cfg)
	if len(cfg.Platforms) != 3 {
		t.Errorf("push config %+v", cfg)
	}

	// Sign-out can name the device to remove.
	en.do(req{method: "POST", path: "/v1/auth/signout", token: bob.token, body: map[string]any{"deviceId": "his-phone"}}).want(t, http.StatusNoContent)
	en.signIn(bob)
	en.do(req{method: "GET", path: "/v1/devices", token: bob.token}).want(t, http.StatusOK).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("after sign-out with deviceId, bob has %+v", list.Items)
	}
}

func TestNotificationSettingsAndMutes(t *testing.T) {
	en := newEnv(t)
	ann := en.signUp("ann")
	var st struct {
		Push       map[string]bool
		QuietHours *struct{ Start, End, TimeZone string }
		MutedPosts []string
	}
	en.do(req{method: "GET", path: "/v1/me/notification-settings", token: ann.token}).want(t, http.StatusOK).json(t, &st)
	if !st.Push["comment"] || st.QuietHours != nil || len(st.MutedPosts) != 0 {
		t.Fatalf("defaults %+v", st)
	}
	en.do(req{method: "PATCH", path: "/v1/me/notification-settings", token: ann.token, body: map[string]any{
		"push": map[string]any{"comment": false}, "quietHours": map[string]any{"start": "22:30", "end": "07:00", "timeZone": "Europe/Lisbon"},
	}}).want(t, http.StatusOK).json(t, &st)
	if st.Push["comment"] || st.QuietHours == nil || st.QuietHours.Start != "22:30" || st.QuietHours.End != "07:00" || st.QuietHours.TimeZone != "Europe/Lisbon" {
		t.Fatalf("patched %+v", st)
	}
	// Absent fields stay; null clears the quiet hours.
	en.do(req{method: "PATCH", path: "/v1/me/notification-settings", token: ann.token, body: map[string]any{"quietHours": nil}}).want(t, http.StatusOK).json(t, &st)
	if st.Push["comment"] || st.QuietHours != nil {
		t.Fatalf("after clearing %+v", st)
	}
	for name, body := range map[string]map[string]any{
		"unknown type": {"push": map[string]any{"likes": true}},
		"bad zone":     {"quietHours": map[string]any{"start": "22:00", "end": "07:00", "timeZone": "Mars/Olympus"}},
		"bad time":     {"quietHours": map[string]any{"start": "25:00", "end": "07:00", "timeZone": "UTC"}},
		"signed time":  {"quietHours": map[string]any{"start": "+1:00", "end": "07:00", "timeZone": "UTC"}},
		"same times":   {"quietHours": map[string]any{"start": "07:00", "end": "07:00", "timeZone": "UTC"}},
	} {
		t.Run(name, func(t *testing.T) {
			en.do(req{method: "PATCH", path: "/v1/me/notification-settings", token: ann.token, body: body}).problem(t, http.StatusBadRequest, domain.Invalid)
		})
	}

	var post struct{ ID string }
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hello"}}).want(t, http.StatusCreated).json(t, &post)
	en.do(req{method: "PUT", path: "/v1/posts/" + post.ID + "/mute", token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "PUT", path: "/v1/posts/" + post.ID + "/mute", token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/me/notification-settings", token: ann.token}).want(t, http.StatusOK).json(t, &st)
	if len(st.MutedPosts) != 1 || st.MutedPosts[0] != post.ID {
		t.Fatalf("muted %+v", st.MutedPosts)
	}
	en.do(req{method: "PUT", path: "/v1/posts/0190a0a0-0000-7000-8000-000000000000/mute", token: ann.token}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "DELETE", path: "/v1/posts/" + post.ID + "/mute", token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "DELETE", path: "/v1/posts/" + post.ID + "/mute", token: ann.token}).want(t, http.StatusNoContent)
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, name, data string }

// openStream opens GET /v1/notifications/stream with the given query and
// headers and returns a channel of its events; the stream closes with
// the test.
func (en *env) openStream(t *testing.T, query string, header map[string]string) (int, <-chan sseEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	hr, err := http.NewRequestWithContext(ctx, "GET", en.srv.URL+"/v1/notifications/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	res, err := en.srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return res.StatusCode, nil
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer res.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return res.StatusCode, events
}

// next returns the next event named name, skipping others, within wait.
func next(t *testing.T, events <-chan sseEvent, name string, wait time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended while waiting for %q", name)
			}
			if ev.name == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q event within %s", name, wait)
		}
	}
}

func TestStreamDeliversLiveAndResumes(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	var post struct{ ID string }
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hello"}}).want(t, http.StatusCreated).json(t, &post)
	comment := func(body string) {
		en.do(req{method: "POST", path: "/v1/posts/" + post.ID + "/comments", token: bob.token, body: map[string]any{"body": body}}).want(t, http.StatusCreated)
	}

	if status, _ := en.openStream(t, "", nil); status != http.StatusUnauthorized {
		t.Fatalf("a stream without credentials: %d", status)
	}
	_, events := en.openStream(t, "", map[string]string{"Authorization": "Bearer " + ann.token})
	if ev := next(t, events, "unread", 5*time.Second); ev.data != `{"unreadCount":0}` {
		t.Fatalf("first unread %q", ev.data)
	}
	comment("one")
	ev := next(t, events, "notification", time.Second)
	var n struct{ ID, Type, ActorID, PostID string }
	if err := json.Unmarshal([]byte(ev.data), &n); err != nil || ev.id != n.ID || n.ActorID != bob.id || n.PostID != post.ID {
		t.Fatalf("event %+v (%v)", ev, err)
	}
	if ev := next(t, events, "unread", time.Second); ev.data != `{"unreadCount":1}` {
		t.Fatalf("unread after a comment %q", ev.data)
	}
	// Marking read on any device updates the count on the stream.
	en.do(req{method: "POST", path: "/v1/notifications/read", token: ann.token, body: map[string]any{"all": true}}).want(t, http.StatusNoContent)
	if ev := next(t, events, "unread", 2*time.Second); ev.data != `{"unreadCount":0}` {
		t.Fatalf("unread after marking read %q", ev.data)
	}

	// Away for three comments, back with Last-Event-ID: all three.
	last := n.ID
	comment("two")
	comment("three")
	comment("four")
	_, resumed := en.openStream(t, "", map[string]string{"Authorization": "Bearer " + ann.token, "Last-Event-ID": last})
	for _, want := range []string{"two", "three", "four"} {
		ev := next(t, resumed, "notification", 2*time.Second)
		if ev.id <= last {
			t.Fatalf("replayed %s after %s", ev.id, last)
		}
		last = ev.id
		_ = want
	}
	var inbox struct {
		Items       []map[string]any
		UnreadCount int
	}
	en.do(req{method: "GET", path: "/v1/notifications", token: ann.token}).want(t, http.StatusOK).json(t, &inbox)
	if inbox.UnreadCount != 3 || len(inbox.Items) != 4 {
		t.Fatalf("inbox %d items, unread %d", len(inbox.Items), inbox.UnreadCount)
	}
}

func TestStreamTicketsAreSingleUse(t *testing.T) {
	en := newEnv(t)
	ann := en.signUp("ann")
	var tk struct{ Ticket, ExpiresAt string }
	en.do(req{method: "POST", path: "/v1/notifications/stream-ticket", token: ann.token}).want(t, http.StatusCreated).json(t, &tk)
	if !strings.HasPrefix(tk.Ticket, "st_") {
		t.Fatalf("ticket %+v", tk)
	}
	status, events := en.openStream(t, "?ticket="+tk.Ticket, nil)
	if status != http.StatusOK {
		t.Fatalf("first use: %d", status)
	}
	next(t, events, "unread", 5*time.Second)
	if status, _ := en.openStream(t, "?ticket="+tk.Ticket, nil); status != http.StatusUnauthorized {
		t.Errorf("second use: %d, want 401", status)
	}
	if status, _ := en.openStream(t, "?ticket=st_forged", nil); status != http.StatusUnauthorized {
		t.Errorf("forged ticket: %d, want 401", status)
	}
	// Expired.
	en.do(req{method: "POST", path: "/v1/notifications/stream-ticket", token: ann.token}).want(t, http.StatusCreated).json(t, &tk)
	en.clock.Advance(time.Minute)
	if status, _ := en.openStream(t, "?ticket="+tk.Ticket, nil); status != http.StatusUnauthorized {
		t.Errorf("expired ticket: %d, want 401", status)
	}
}

func TestPushReachesTheDevice(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	en.do(req{method: "PUT", path: "/v1/devices/phone", token: ann.token, body: map[string]any{"platform": "fcm", "token": fcmToken}}).want(t, http.StatusCreated)
	var post struct{ ID string }
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hello"}}).want(t, http.StatusCreated).json(t, &post)
	en.do(req{method: "POST", path: "/v1/posts/" + post.ID + "/comments", token: bob.token, body: map[string]any{"body": "Nice!"}}).want(t, http.StatusCreated)
	// The relay is the app's (apps/fxmodules); here the device's existence
	// is what the API promises: the push itself is tested in core/delivery
	// and apps/server.
	devices, err := en.store.ListDevices(context.Background(), ann.id)
	if err != nil || len(devices) != 1 || devices[0].Platform != domain.PlatformFCM {
		t.Fatalf("devices %+v (%v)", devices, err)
	}
}

func TestStreamEndsWhenTheSessionEnds(t *testing.T) {
	en := newEnv(t, func(d *httpapi.Deps) { d.Config.Stream.RevocationCheck = 20 * time.Millisecond })
	ann := en.signUp("ann")
	_, events := en.openStream(t, "", map[string]string{"Authorization": "Bearer " + ann.token})
	next(t, events, "unread", 5*time.Second)
	en.do(req{method: "POST", path: "/v1/auth/signout", token: ann.token}).want(t, http.StatusNoContent)
	next(t, events, "end", 5*time.Second)
	select {
	case _, open := <-events:
		if open {
			t.Fatal("the stream went on after its end event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open after the session ended")
	}
	if status, _ := en.openStream(t, "", map[string]string{"Authorization": "Bearer " + ann.token}); status != http.StatusUnauthorized {
		t.Errorf("a stream with the signed-out token: %d, want 401", status)
	}
}

func TestStreamRefusesABadLastEventID(t *testing.T) {
	en := newEnv(t)
	ann := en.signUp("ann")
	if status, _ := en.openStream(t, "", map[string]string{"Authorization": "Bearer " + ann.token, "Last-Event-ID": "' OR 1=1 --"}); status != http.StatusBadRequest {
		t.Errorf("a Last-Event-ID that is not an id: %d, want 400", status)
	}
}
