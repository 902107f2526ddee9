package porttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// pushWait bounds how long a case waits for a push to show up at the
// service (a harness whose service records asynchronously); one that
// records at once costs nothing.
const pushWait = 5 * time.Second

// runPushCases is the contract of ports.Push: what every adapter (SNS, Web
// Push, the recorder) does, seen through its harness. Each case is a
// parallel subtest with a harness of its own.
//
// PushHarness.ReviveOnRegister tells the two kinds of service apart: where
// registering makes the device reachable (SNS creates or re-enables an
// endpoint; the recorder), Unregister releases that and a Send after it is
// NotFound; where the client owns the registration (a Web Push
// subscription), registering revives nothing and Unregister has nothing
// to release, so a Send after it may still be delivered.
func runPushCases(t *testing.T, newHarness func(t *testing.T) PushHarness) {
	parallelCases(t, "Push", []namedCase[*pushFix]{
		{"SendReceived", pushSendReceived},
		{"ResendSameCollapseID", pushResend},
		{"RegisterTwice", pushRegisterTwice},
		{"KilledIsNotFound", pushKilled},
		{"UnregisterIdempotent", pushUnregisterIdempotent},
		{"SendAfterUnregister", pushSendAfterUnregister},
		{"Unicode", pushUnicode},
	}, func(t *testing.T) *pushFix {
		h := newHarness(t)
		switch {
		case h.Push == nil:
			t.Fatal("PushHarness.Push is nil")
		case h.NewDevice == nil || h.Received == nil || h.Kill == nil:
			t.Fatal("PushHarness needs NewDevice, Received and Kill")
		}
		return &pushFix{t: t, ctx: t.Context(), h: h, p: h.Push}
	})
}

// pushFix is the harness of one subtest with helpers that fail the test
// on an unexpected error.
type pushFix struct {
	t   *testing.T
	ctx context.Context
	h   PushHarness
	p   ports.Push
}

// register registers d and checks that the identity of the device comes
// back unchanged.
func (f *pushFix) register(d domain.Device) domain.Device {
	f.t.Helper()
	got, err := f.p.Register(f.ctx, d)
	if err != nil {
		f.t.Fatalf("Register(%s): %v", d.ID, err)
	}
	if got.ID != d.ID || got.UserID != d.UserID || got.Platform != d.Platform || got.Token != d.Token {
		f.t.Fatalf("Register changed the device: got id %q user %q platform %q, want %q %q %q (token kept: %v)",
			got.ID, got.UserID, got.Platform, d.ID, d.UserID, d.Platform, got.Token == d.Token)
	}
	if (got.Subscription == nil) != (d.Subscription == nil) || got.Subscription != nil && *got.Subscription != *d.Subscription {
		f.t.Fatalf("Register changed the device's Web Push subscription")
	}
	return got
}

// newRegistered returns a fresh device, registered.
func (f *pushFix) newRegistered() domain.Device {
	f.t.Helper()
	return f.register(f.h.NewDevice(f.t))
}

// send sends m to d and fails the test on an error.
func (f *pushFix) send(d domain.Device, m domain.PushMessage, what string) {
	f.t.Helper()
	if err := f.p.Send(f.ctx, d, m); err != nil {
		f.t.Fatalf("%s: Send: %v", what, err)
	}
}

// expectCode checks that err carries code.
func (f *pushFix) expectCode(err error, code domain.Code, what string) {
	f.t.Helper()
	if !domain.IsCode(err, code) {
		f.t.Fatalf("%s: got error %v (code %q), want a domain %s error", what, err, domain.ErrorCode(err), code)
	}
}

// received waits until the service has n pushes for d (or pushWait
// passes) and returns them; the count must then be exactly n.
func (f *pushFix) received(d domain.Device, n int, what string) []ReceivedPush {
	f.t.Helper()
	deadline := time.Now().Add(pushWait)
	for {
		got := f.h.Received(f.t, d)
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				f.t.Fatalf("%s: the service received %d pushes for the device, want %d", what, len(got), n)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectPush compares a received push with the message sent.
func (f *pushFix) expectPush(got ReceivedPush, m domain.PushMessage, what string) {
	f.t.Helper()
	if got.CollapseID != m.CollapseID {
		f.t.Errorf("%s: CollapseID = %q, want %q", what, got.CollapseID, m.CollapseID)
	}
	if got.Title != m.Title {
		f.t.Errorf("%s: Title = %q, want %q", what, got.Title, m.Title)
	}
	if got.Body != m.Body {
		f.t.Errorf("%s: Body = %q, want %q", what, got.Body, m.Body)
	}
	if got.Unread != m.Unread {
		f.t.Errorf("%s: Unread = %d, want %d", what, got.Unread, m.Unread)
	}
	if !slices.Equal(got.NotificationIDs, m.NotificationIDs) {
		f.t.Errorf("%s: NotificationIDs = %q, want %q", what, got.NotificationIDs, m.NotificationIDs)
	}
	if got.PostID != m.PostID {
		f.t.Errorf("%s: PostID = %q, want %q", what, got.PostID, m.PostID)
	}
	if got.Type != string(m.Type) {
		f.t.Errorf("%s: Type = %q, want %q", what, got.Type, m.Type)
	}
}

// pushMessage returns a message as the relay builds it: two coalesced
// notifications, the newest one the collapse id.
func pushMessage() domain.PushMessage {
	older, newest := NewID(), NewID()
	return domain.PushMessage{
		CollapseID:      newest,
		NotificationIDs: []string{older, newest},
		Type:            domain.NotificationComment,
		PostID:          NewID(),
		Title:           "Ana and Ben commented on your post",
		Body:            "Nice photo!",
		Unread:          3,
		TTL:             time.Hour,
	}
}

func pushSendReceived(t *testing.T, f *pushFix) {
	d := f.newRegistered()
	m := pushMessage()
	f.send(d, m, "first push")
	got := f.received(d, 1, "after one Send")
	f.expectPush(got[0], m, "received push")

	// Another device of the same user receives nothing of it.
	other := f.newRegistered()
	f.received(other, 0, "another device")
}

func pushResend(t *testing.T, f *pushFix) {
	d := f.newRegistered()
	m := pushMessage()
	f.send(d, m, "first attempt")
	// A retry carries the same message: the service gets it again, with
	// the same collapse id, so the device shows it once.
	f.send(d, m, "retry")
	got := f.received(d, 2, "after a retry")
	for i, p := range got {
		f.expectPush(p, m, []string{"first attempt", "retry"}[i])
	}
}

func pushRegisterTwice(t *testing.T, f *pushFix) {
	d := f.h.NewDevice(t)
	first := f.register(d)
	// The core registers a known device again with the handle it stored.
	again := f.register(first)
	if again.ChannelRef != first.ChannelRef {
		t.Errorf("registering again changed ChannelRef from %q to %q", first.ChannelRef, again.ChannelRef)
	}
	// Registering the client's device (no handle) once more is safe too.
	f.register(d)

	m := pushMessage()
	f.send(again, m, "after registering three times")
	got := f.received(again, 1, "one Send after three registrations")
	f.expectPush(got[0], m, "received push")
}

func pushKilled(t *testing.T, f *pushFix) {
	d := f.newRegistered()
	f.send(d, pushMessage(), "before the kill")
	f.received(d, 1, "before the kill")

	f.h.Kill(t, d)
	f.expectCode(f.p.Send(f.ctx, d, pushMessage()), domain.NotFound, "Send to a killed device")
	f.expectCode(f.p.Send(f.ctx, d, pushMessage()), domain.NotFound, "Send to a killed device again")

	// Registering it again revives it (SNS re-enables its endpoint), or
	// it stays dead (a Web Push subscription: the browser makes a new
	// one).
	again, err := f.p.Register(f.ctx, d)
	if f.h.ReviveOnRegister {
		if err != nil {
			t.Fatalf("Register of a killed device: %v", err)
		}
		before := len(f.h.Received(t, again))
		m := pushMessage()
		f.send(again, m, "after registering the killed device again")
		got := f.received(again, before+1, "after the revival")
		f.expectPush(got[before], m, "push after the revival")
		return
	}
	if err == nil {
		d = again
	}
	f.expectCode(f.p.Send(f.ctx, d, pushMessage()), domain.NotFound, "Send to a killed device registered again (the service does not revive it)")
	f.received(d, 1, "after the kill")
}

func pushUnregisterIdempotent(t *testing.T, f *pushFix) {
	d := f.newRegistered()
	if err := f.p.Unregister(f.ctx, d); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if err := f.p.Unregister(f.ctx, d); err != nil {
		t.Fatalf("Unregister of a released device: %v", err)
	}
	never := f.h.NewDevice(t)
	if err := f.p.Unregister(f.ctx, never); err != nil {
		t.Fatalf("Unregister of a device never registered: %v", err)
	}
	if err := f.p.Unregister(f.ctx, never); err != nil {
		t.Fatalf("Unregister of a device never registered, twice: %v", err)
	}
}

func pushSendAfterUnregister(t *testing.T, f *pushFix) {
	d := f.newRegistered()
	if err := f.p.Unregister(f.ctx, d); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	err := f.p.Send(f.ctx, d, pushMessage())
	if f.h.ReviveOnRegister {
		// A service where registering makes the device reachable (SNS:
		// the endpoint) forgets it on Unregister.
		f.expectCode(err, domain.NotFound, "Send after Unregister")
		f.received(d, 0, "after Unregister")
	} else if err != nil {
		// Where Register makes nothing (Web Push: the browser owns the
		// subscription), Unregister has nothing to release: the push may
		// still go through, or the service says the device is gone.
		f.expectCode(err, domain.NotFound, "Send after Unregister")
	}

	// Registering it again makes it receive again.
	again := f.register(d)
	before := len(f.h.Received(t, again))
	m := pushMessage()
	f.send(again, m, "after registering an unregistered device again")
	got := f.received(again, before+1, "after registering again")
	f.expectPush(got[before], m, "push after registering again")
}

func pushUnicode(t *testing.T, f *pushFix) {
	d := f.newRegistered()
	m := pushMessage()
	m.Title = "Zoë, Şükrü & 李小龍 commented 💬 on «your post»"
	m.Body = "¡Qué bonito! 👩‍👩‍👧‍👦🇵🇹 — \"quoted\" \\ back\\slash\nnew line, tab\t, مرحبا, עברית, e\u0301 (combining), \u2028 <b>not html</b> &amp;"
	f.send(d, m, "unicode push")
	got := f.received(d, 1, "after the unicode push")
	f.expectPush(got[0], m, "unicode push")
}
