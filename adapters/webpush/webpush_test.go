package webpush_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/webpush"
	"github.com/cloudpost/cloudpost/adapters/webpush/webpushtest"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

const subject = "mailto:ops@cloudpost.example"

// fixture is a Pusher and the push service it sends to.
type fixture struct {
	keys webpush.VAPIDKeys
	srv  *webpushtest.Server
	p    *webpush.Pusher
}

func newKeys(t *testing.T) webpush.VAPIDKeys {
	t.Helper()
	k, err := webpush.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixture starts a push service and a Pusher allowed to reach it.
func newFixture(t *testing.T, edit ...func(*webpush.Config)) *fixture {
	t.Helper()
	keys := newKeys(t)
	srv := webpushtest.New(t, keys.PublicKey)
	cfg := webpush.Config{
		VAPIDPublicKey:  keys.PublicKey,
		VAPIDPrivateKey: keys.PrivateKey,
		Subject:         subject,
		HTTPClient:      srv.Client(),
		AllowedHosts:    []string{srv.Host()},
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := webpush.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{keys: keys, srv: srv, p: p}
}

// device returns a fresh Web Push device subscribed at the service.
func (f *fixture) device() domain.Device {
	sub := f.srv.NewSubscription()
	return domain.Device{ID: "browser-" + porttest.NewID(), UserID: porttest.NewID(), Platform: domain.PlatformWebPush, Subscription: &sub}
}

// message returns a push as the relay makes it.
func message() domain.PushMessage {
	id := porttest.NewID()
	return domain.PushMessage{
		CollapseID: id, NotificationIDs: []string{id}, Type: domain.NotificationComment,
		PostID: porttest.NewID(), Title: "Ana commented on your post", Body: "secret body text", Unread: 1,
	}
}

// wire is the payload as the service worker reads it.
type wire struct {
	Title           string   `json:"title"`
	Body            string   `json:"body"`
	Type            string   `json:"type"`
	PostID          string   `json:"postId"`
	NotificationIDs []string `json:"notificationIds"`
	Unread          int      `json:"unread"`
	CollapseID      string   `json:"collapseId"`
}

func decode(t *testing.T, p webpushtest.Push) wire {
	t.Helper()
	var w wire
	dec := json.NewDecoder(strings.NewReader(string(p.Payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("payload %q: %v", p.Payload, err)
	}
	return w
}

// fromTopic gives a UUID its hyphens back: the Topic is the collapse id
// without them.
func fromTopic(topic string) string {
	if len(topic) != 32 {
		return topic
	}
	return topic[:8] + "-" + topic[8:12] + "-" + topic[12:16] + "-" + topic[16:20] + "-" + topic[20:]
}

func TestContract(t *testing.T) {
	porttest.RunPush(t, func(t *testing.T) porttest.PushHarness {
		f := newFixture(t)
		return porttest.PushHarness{
			Push:      f.p,
			NewDevice: func(*testing.T) domain.Device { return f.device() },
			Received: func(t *testing.T, d domain.Device) []porttest.ReceivedPush {
				var out []porttest.ReceivedPush
				for _, p := range f.srv.Received(d.Subscription.Endpoint) {
					w := decode(t, p)
					// The service collapses on the Topic; the payload
					// carries the collapse id whole.
					if got := fromTopic(p.Topic); got != w.CollapseID {
						t.Errorf("Topic %q does not match the payload's collapseId %q", p.Topic, w.CollapseID)
					}
					out = append(out, porttest.ReceivedPush{
						CollapseID: fromTopic(p.Topic), Title: w.Title, Body: w.Body, Unread: w.Unread,
						NotificationIDs: w.NotificationIDs, PostID: w.PostID, Type: w.Type,
					})
				}
				return out
			},
			Kill: func(_ *testing.T, d domain.Device) {
				f.srv.SetStatus(d.Subscription.Endpoint, http.StatusGone, "")
			},
			ReviveOnRegister: false,
		}
	})
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *webpush.Config) { c.TTL = 90 * time.Minute })
	d := f.device()
	m := message()
	m.CollapseID = "0190a5c8-1b2c-7d3e-8f40-123456789abc"
	m.TTL = 1500 * time.Millisecond
	if err := f.p.Send(t.Context(), d, m); err != nil {
		t.Fatal(err)
	}
	m2 := message()
	m2.CollapseID = ""
	if err := f.p.Send(t.Context(), d, m2); err != nil {
		t.Fatal(err)
	}
	got := f.srv.Received(d.Subscription.Endpoint)
	if len(got) != 2 {
		t.Fatalf("received %d pushes, want 2", len(got))
	}
	first, second := got[0], got[1]
	if first.Topic != "0190a5c81b2c7d3e8f40123456789abc" {
		t.Errorf("Topic = %q, want the UUID without hyphens", first.Topic)
	}
	if first.TTL != 2 {
		t.Errorf("TTL = %d, want the message's 1.5s rounded up to 2", first.TTL)
	}
	if first.Urgency != "normal" {
		t.Errorf("Urgency = %q, want normal", first.Urgency)
	}
	if first.Subject != subject {
		t.Errorf("VAPID sub = %q, want %q (not doubled mailto:)", first.Subject, subject)
	}
	if len(first.Body) != webpushtest.MaxBody {
		t.Errorf("body is %d bytes, want one padded %d-byte record (hides the length)", len(first.Body), webpushtest.MaxBody)
	}
	if second.Topic != "" {
		t.Errorf("Topic = %q for a message without collapse id, want none", second.Topic)
	}
	if second.TTL != 90*60 {
		t.Errorf("TTL = %d, want Config.TTL (5400) for a message without TTL", second.TTL)
	}
	if w := decode(t, second); w.NotificationIDs == nil || w.CollapseID != "" {
		t.Errorf("payload %+v: notificationIds must be a list, collapseId empty", w)
	}

	// An https: subject goes through as it is; the default TTL is a day.
	f = newFixture(t, func(c *webpush.Config) { c.Subject = "https://cloudpost.example/contact" })
	d = f.device()
	if err := f.p.Send(t.Context(), d, message()); err != nil {
		t.Fatal(err)
	}
	p := f.srv.Received(d.Subscription.Endpoint)[0]
	if p.Subject != "https://cloudpost.example/contact" || p.TTL != int(webpush.DefaultTTL/time.Second) {
		t.Errorf("sub %q TTL %d, want the https subject and %d", p.Subject, p.TTL, int(webpush.DefaultTTL/time.Second))
	}
}

func TestStatusMapping(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	httpDate := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name       string
		status     int
		retryAfter string
		code       domain.Code
		wantRetry  time.Duration
	}{
		{"201", http.StatusCreated, "", "", 0},
		{"202", http.StatusAccepted, "", "", 0},
		{"404", http.StatusNotFound, "", domain.NotFound, 0},
		{"410", http.StatusGone, "", domain.NotFound, 0},
		{"429_seconds", http.StatusTooManyRequests, "7", domain.TooManyRequests, 7 * time.Second},
		{"429_date", http.StatusTooManyRequests, httpDate, domain.TooManyRequests, 90 * time.Second},
		{"429_no_hint", http.StatusTooManyRequests, "", domain.TooManyRequests, 0},
		{"429_bad_hint", http.StatusTooManyRequests, "soon", domain.TooManyRequests, 0},
		{"413", http.StatusRequestEntityTooLarge, "", domain.Invalid, 0},
		{"400", http.StatusBadRequest, "", domain.Invalid, 0},
		{"401", http.StatusUnauthorized, "", domain.Internal, 0},
		{"403", http.StatusForbidden, "", domain.Internal, 0},
		{"500", http.StatusInternalServerError, "", domain.Unavailable, 0},
		{"502", http.StatusBadGateway, "", domain.Unavailable, 0},
		{"503_seconds", http.StatusServiceUnavailable, "30", domain.Unavailable, 30 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := f.device()
			f.srv.SetStatus(d.Subscription.Endpoint, c.status, c.retryAfter)
			err := f.p.Send(t.Context(), d, message())
			if got := domain.ErrorCode(err); got != c.code {
				t.Fatalf("status %d: got %v (code %q), want code %q", c.status, err, got, c.code)
			}
			// An HTTP date counts from now: allow the seconds the test took.
			if got := domain.RetryAfter(err); got > c.wantRetry || got < c.wantRetry-3*time.Second || c.retryAfter != httpDate && got != c.wantRetry {
				t.Errorf("status %d Retry-After %q: RetryAfter = %s, want %s", c.status, c.retryAfter, got, c.wantRetry)
			}
			if err != nil && strings.Contains(err.Error(), "secret body text") {
				t.Errorf("the error quotes the payload: %v", err)
			}
		})
	}

	t.Run("NetworkDown", func(t *testing.T) {
		g := newFixture(t)
		d := g.device()
		g.srv.Close()
		err := g.p.Send(t.Context(), d, message())
		if !domain.IsCode(err, domain.Unavailable) {
			t.Fatalf("got %v, want Unavailable", err)
		}
		path := strings.TrimPrefix(d.Subscription.Endpoint, "https://"+g.srv.Host())
		if strings.Contains(err.Error(), path) {
			t.Errorf("the error quotes the endpoint's path (a capability): %v", err)
		}
	})
}

// TestVAPIDMismatch: a Pusher whose keys are not those the browser
// subscribed with is refused with 403; that is a configuration error, not
// a dead device.
func TestVAPIDMismatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := newKeys(t)
	p, err := webpush.New(webpush.Config{
		VAPIDPublicKey: other.PublicKey, VAPIDPrivateKey: other.PrivateKey, Subject: subject,
		HTTPClient: f.srv.Client(), AllowedHosts: []string{f.srv.Host()},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Send(t.Context(), f.device(), message())
	if !domain.IsCode(err, domain.Internal) {
		t.Fatalf("got %v, want Internal (not NotFound: the device is fine)", err)
	}
	if !strings.Contains(err.Error(), "VAPID") {
		t.Errorf("the error should say what to check: %v", err)
	}
	if probs := f.srv.TakeProblems(); len(probs) != 1 || !strings.HasPrefix(probs[0], "403") {
		t.Errorf("service problems %q, want one 403", probs)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	// Any request reaching the network fails the test.
	trap := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached %s", r.Host)
	}))
	defer trap.Close()
	p, err := webpush.New(webpush.Config{VAPIDPublicKey: keys.PublicKey, VAPIDPrivateKey: keys.PrivateKey, Subject: subject, HTTPClient: trap.Client()})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	good := f.device()
	for _, c := range []struct{ endpoint, want string }{
		{"http://fcm.googleapis.com/fcm/send/abc", "https"},
		{"https://169.254.169.254/latest/meta-data/", "not allowed"},
		{"https://metadata.google.internal/computeMetadata/v1/", "not allowed"},
		{"https://127.0.0.1:8080/admin", "not allowed"},
		{"https://[::1]/", "not allowed"},
		{"https://localhost/", "not allowed"},
		{"https://fcm.googleapis.com.evil.example/fcm/send/abc", "not allowed"},
		{"https://evilfcm.googleapis.com/fcm/send/abc", "not allowed"},
		{trap.URL + "/push", "not allowed"},
	} {
		d := good
		sub := *good.Subscription
		sub.Endpoint = c.endpoint
		d.Subscription = &sub
		_, err := p.Register(t.Context(), d)
		if !domain.IsCode(err, domain.Invalid) || !strings.Contains(domain.ErrorMessage(err), c.want) {
			t.Errorf("Register(%s): got %v, want Invalid saying %q", c.endpoint, err, c.want)
		}
		if err := p.Send(t.Context(), d, message()); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Send(%s): got %v, want Invalid", c.endpoint, err)
		}
	}
	// The browsers' push services are allowed by default.
	for _, endpoint := range []string{
		"https://fcm.googleapis.com/fcm/send/abc:def",
		"https://fcm.googleapis.com/wp/abc",
		"https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
		"https://web.push.apple.com/QGx1",
		"https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
	} {
		d := good
		sub := *good.Subscription
		sub.Endpoint = endpoint
		d.Subscription = &sub
		got, err := p.Register(t.Context(), d)
		if err != nil {
			t.Errorf("Register(%s): %v", endpoint, err)
		} else if got.ChannelRef != "" || got.Subscription.Endpoint != endpoint {
			t.Errorf("Register(%s) changed the device: %+v", endpoint, got)
		}
	}
}

func TestRegisterRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	offCurve := f.device()
	sub := *offCurve.Subscription
	sub.P256dh = base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...))
	offCurve.Subscription = &sub
	noSub := f.device()
	noSub.Subscription = nil
	for _, c := range []struct {
		name string
		d    domain.Device
		want string
	}{
		{"fcm device", domain.Device{ID: "phone", UserID: "u1", Platform: domain.PlatformFCM, Token: "fcm-token"}, "webpush"},
		{"no subscription", noSub, "subscription is required"},
		{"key off the curve", offCurve, "p256dh"},
	} {
		if _, err := f.p.Register(t.Context(), c.d); !domain.IsCode(err, domain.Invalid) || !strings.Contains(domain.ErrorMessage(err), c.want) {
			t.Errorf("Register(%s): got %v, want Invalid saying %q", c.name, err, c.want)
		}
		if err := f.p.Send(t.Context(), c.d, message()); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Send(%s): got %v, want Invalid", c.name, err)
		}
		if err := f.p.Unregister(t.Context(), c.d); err != nil {
			t.Errorf("Unregister(%s): %v", c.name, err)
		}
	}
	if n := f.srv.Requests(); n != 0 {
		t.Errorf("%d requests reached the service, want none", n)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	var hits sync.Map
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		http.Redirect(w, r, "/internal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = nil // the Pusher must override even a client that follows redirects
	p, err := webpush.New(webpush.Config{
		VAPIDPublicKey: keys.PublicKey, VAPIDPrivateKey: keys.PrivateKey, Subject: subject,
		HTTPClient: client, AllowedHosts: []string{"127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	d := f.device()
	sub := *d.Subscription
	sub.Endpoint = srv.URL + "/push/x"
	d.Subscription = &sub
	if err := p.Send(t.Context(), d, message()); !domain.IsCode(err, domain.Unavailable) {
		t.Errorf("got %v, want Unavailable for a redirect", err)
	}
	if _, followed := hits.Load("/internal"); followed {
		t.Error("the redirect was followed")
	}
	if client.CheckRedirect != nil {
		t.Error("New changed the caller's client")
	}
}

// TestConcurrentSends runs under -race: one message value sent at once to
// many devices and many times to one device. webpush-go v1.4.0 pads the
// message slice in place, so a payload shared between sends would race.
func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := message()
	m.NotificationIDs = []string{porttest.NewID(), porttest.NewID(), m.CollapseID}
	devices := make([]domain.Device, 8)
	for i := range devices {
		devices[i] = f.device()
	}
	const perDevice = 6
	var wg sync.WaitGroup
	for _, d := range devices {
		for range perDevice {
			wg.Go(func() {
				if err := f.p.Send(t.Context(), d, m); err != nil {
					t.Errorf("Send: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for _, d := range devices {
		got := f.srv.Received(d.Subscription.Endpoint)
		if len(got) != perDevice {
			t.Fatalf("device received %d pushes, want %d", len(got), perDevice)
		}
		for _, p := range got {
			w := decode(t, p)
			if w.Title != m.Title || w.Body != m.Body || len(w.NotificationIDs) != 3 || w.CollapseID != m.CollapseID {
				t.Errorf("payload %+v does not match the message", w)
			}
		}
	}
}

// TestLargeMessage: a message over the 4 KiB record keeps its newest
// notification ids and a shortened body; only one that cannot fit even
// so is refused.
func TestLargeMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	d := f.device()
	m := message()
	m.NotificationIDs = nil
	for range 150 {
		m.NotificationIDs = append(m.NotificationIDs, porttest.NewID())
	}
	m.CollapseID = m.NotificationIDs[len(m.NotificationIDs)-1]
	if err := f.p.Send(t.Context(), d, m); err != nil {
		t.Fatal(err)
	}
	m2 := message()
	m2.Body = strings.Repeat("é\"", 3000)
	if err := f.p.Send(t.Context(), d, m2); err != nil {
		t.Fatal(err)
	}
	got := f.srv.Received(d.Subscription.Endpoint)
	ids := decode(t, got[0]).NotificationIDs
	if len(ids) == 0 || len(ids) == len(m.NotificationIDs) || ids[len(ids)-1] != m.CollapseID {
		t.Errorf("kept %d ids ending %q, want the newest ones up to %q", len(ids), ids[len(ids)-1:], m.CollapseID)
	}
	for i, p := range got {
		if len(p.Payload) > webpush.MaxPayload {
			t.Errorf("push %d: payload %d bytes, over %d", i, len(p.Payload), webpush.MaxPayload)
		}
	}
	body := decode(t, got[1]).Body
	if body == "" || !strings.HasPrefix(m2.Body, body) {
		t.Errorf("body %d bytes, want a non-empty prefix of the message's", len(body))
	}

	m3 := message()
	m3.Title = strings.Repeat("x", webpush.MaxPayload)
	if err := f.p.Send(t.Context(), d, m3); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("a title over the limit: got %v, want Invalid", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	other := newKeys(t)
	ok := webpush.Config{VAPIDPublicKey: keys.PublicKey, VAPIDPrivateKey: keys.PrivateKey, Subject: subject}
	for _, c := range []struct {
		name string
		edit func(*webpush.Config)
		want string // in the error; "" for none
	}{
		{"valid", func(*webpush.Config) {}, ""},
		{"padded keys", func(c *webpush.Config) { c.VAPIDPublicKey += "="; c.VAPIDPrivateKey += "=" }, ""},
		{"https subject", func(c *webpush.Config) { c.Subject = "https://cloudpost.example/" }, ""},
		{"host list", func(c *webpush.Config) { c.AllowedHosts = []string{"*.push.example", "Push.Example."} }, ""},
		{"no keys", func(c *webpush.Config) { c.VAPIDPublicKey, c.VAPIDPrivateKey = "", "" }, "VAPIDPublicKey and VAPIDPrivateKey are required"},
		{"bad private", func(c *webpush.Config) { c.VAPIDPrivateKey = "not+base64url" }, "VAPIDPrivateKey must be"},
		{"short private", func(c *webpush.Config) { c.VAPIDPrivateKey = keys.PrivateKey[:20] }, "VAPIDPrivateKey must be"},
		{"bad public", func(c *webpush.Config) { c.VAPIDPublicKey = keys.PublicKey[:40] }, "VAPIDPublicKey must be"},
		{"swapped", func(c *webpush.Config) { c.VAPIDPublicKey, c.VAPIDPrivateKey = keys.PrivateKey, keys.PublicKey }, "VAPIDPrivateKey must be"},
		{"mismatched pair", func(c *webpush.Config) { c.VAPIDPublicKey = other.PublicKey }, "VAPIDPublicKey is not the public key of VAPIDPrivateKey"},
		{"no subject", func(c *webpush.Config) { c.Subject = "" }, "Subject is required"},
		{"bare address", func(c *webpush.Config) { c.Subject = "ops@cloudpost.example" }, "must be a mailto: address or an https URL"},
		{"double mailto", func(c *webpush.Config) { c.Subject = "mailto:mailto:ops@cloudpost.example" }, "not a mailto: URI"},
		{"http subject", func(c *webpush.Config) { c.Subject = "http://cloudpost.example" }, "must be a mailto: address or an https URL"},
		{"negative TTL", func(c *webpush.Config) { c.TTL = -time.Second }, "TTL must not be negative"},
		{"host with scheme", func(c *webpush.Config) { c.AllowedHosts = []string{"https://fcm.googleapis.com"} }, "AllowedHosts"},
		{"empty host", func(c *webpush.Config) { c.AllowedHosts = []string{" "} }, "AllowedHosts"},
	} {
		cfg := ok
		c.edit(&cfg)
		p, err := webpush.New(cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && p == nil:
			t.Errorf("%s: nil Pusher", c.name)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		case err != nil && (strings.Contains(err.Error(), keys.PrivateKey) || strings.Contains(err.Error(), keys.PrivateKey[:20])):
			t.Errorf("%s: the error quotes the private key", c.name)
		}
	}
}

func TestGenerateKeys(t *testing.T) {
	t.Parallel()
	a, b := newKeys(t), newKeys(t)
	if a == b {
		t.Fatal("two key pairs are equal")
	}
	if len(a.PublicKey) != 87 || len(a.PrivateKey) != 43 || strings.ContainsAny(a.PublicKey+a.PrivateKey, "+/=") {
		t.Errorf("keys %d and %d characters, want unpadded base64url of 65 and 32 bytes", len(a.PublicKey), len(a.PrivateKey))
	}
}
