package porttest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var storageDeviceCases = []storageCase{
	{name: "CreateReplace", run: storageDeviceCreateReplace},
	{name: "AddressMovesBetweenUsers", run: storageDeviceAddressMovesUsers},
	{name: "AddressMovesBetweenOwnDevices", run: storageDeviceAddressMovesOwn},
	{name: "WebPushRoundTrip", run: storageDeviceWebPush},
	{name: "MaxDevicesPerUser", run: storageDeviceMax},
	{name: "Delete", run: storageDeviceDelete},
	{name: "DeleteDead", run: storageDeviceDeleteDead},
	{name: "Prune", run: storageDevicePrune},
	{name: "DeleteUser", run: storageDeviceDeleteUser},
}

// storageHexToken returns a fresh 64-digit hex token (an APNs device token
// shape, also a valid FCM token).
func storageHexToken() string { return strings.ReplaceAll(NewID()+NewID(), "-", "") }

func storageRandB64(n int, first byte) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	b[0] = first
	return base64.RawURLEncoding.EncodeToString(b)
}

// storageNewDevice returns an FCM device of user, registered (created and
// seen) at at.
func storageNewDevice(user, id string, at time.Time) domain.Device {
	return domain.Device{
		ID: id, UserID: user, Platform: domain.PlatformFCM, Token: "fcm:" + NewID(),
		Locale: "en-US", CreatedAt: at, SeenAt: at,
	}
}

// storageNewWebPush returns a Web Push device of user with a fresh
// subscription, registered at at.
func storageNewWebPush(user, id string, at time.Time) domain.Device {
	return domain.Device{
		ID: id, UserID: user, Platform: domain.PlatformWebPush,
		Subscription: &domain.WebPushSubscription{
			Endpoint: "https://push.example.net/wp/" + NewID(),
			P256dh:   storageRandB64(65, 4),
			Auth:     storageRandB64(16, 1),
		},
		Locale: "pt-PT", ChannelRef: "webpush:" + NewID(), CreatedAt: at, SeenAt: at,
	}
}

func storageDeviceID(d domain.Device) string { return d.ID }

// putDevice calls PutDevice, fails on an error, and checks created.
func (f *storageFix) putDevice(d domain.Device, wantCreated bool) domain.Device {
	f.t.Helper()
	got, created, err := f.s.PutDevice(f.ctx, d)
	if err != nil {
		f.t.Fatalf("PutDevice(%s/%s): %v", d.UserID, d.ID, err)
	}
	if created != wantCreated {
		f.t.Errorf("PutDevice(%s/%s): created = %v, want %v", d.UserID, d.ID, created, wantCreated)
	}
	return got
}

// wantDevices checks the user's devices: ListDevices ordered by id and
// equal to want (in any order).
func (f *storageFix) wantDevices(what, user string, want ...domain.Device) {
	f.t.Helper()
	got, err := f.s.ListDevices(f.ctx, user)
	if err != nil {
		f.t.Fatalf("%s: ListDevices: %v", what, err)
	}
	ids := storageIDs(got, storageDeviceID)
	if !slices.IsSorted(ids) {
		f.t.Errorf("%s: ListDevices ids %v are not ordered by id", what, ids)
	}
	storageSame(f.t, what+": ListDevices", got, want)
}

func storageDeviceCreateReplace(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	d := storageNewDevice(a.ID, "phone-1", t0)
	got := f.putDevice(d, true)
	storageSame(t, "PutDevice(new)", got, d)
	f.wantDevices("created", a.ID, d)

	r := d
	r.Token, r.Locale, r.ChannelRef = "fcm:"+NewID(), "de-DE", "arn:aws:sns:eu-west-1:000000000000:endpoint/GCM/app/"+NewID()
	r.SeenAt, r.CreatedAt = t0.Add(time.Hour), t0.Add(time.Hour)
	want := r
	want.CreatedAt = t0
	got = f.putDevice(r, false)
	storageSame(t, "PutDevice(replace)", got, want)
	f.wantDevices("replaced", a.ID, want)

	// Registering again with the same address keeps the device.
	again := want
	again.SeenAt = t0.Add(2 * time.Hour)
	got = f.putDevice(again, false)
	storageSame(t, "PutDevice(same address)", got, again)
	f.wantDevices("registered again", a.ID, again)

	// The replaced token is free: taking it moves nothing of a's. Device
	// ids are unique per user only.
	bd := storageNewDevice(b.ID, d.ID, t0)
	bd.Token = d.Token
	f.putDevice(bd, true)
	f.wantDevices("a after b took the old token", a.ID, again)
	f.wantDevices("b", b.ID, bd)

	// Ordered by id, whatever the order of registration.
	var more []domain.Device
	for _, id := range []string{"tablet", "laptop:2", "aa.watch", "phone-0"} {
		dev := storageNewDevice(a.ID, id, t0)
		f.putDevice(dev, true)
		more = append(more, dev)
	}
	f.wantDevices("several", a.ID, append(more, again)...)

	noUser := storageNewDevice("", "phone-9", t0)
	_, _, err := f.s.PutDevice(f.ctx, noUser)
	storageWantCode(t, err, domain.Invalid, "PutDevice(empty user id)")
	noID := storageNewDevice(a.ID, "", t0)
	_, _, err = f.s.PutDevice(f.ctx, noID)
	storageWantCode(t, err, domain.Invalid, "PutDevice(empty device id)")
	f.wantDevices("after refused registrations", a.ID, append(more, again)...)
}

func storageDeviceAddressMovesUsers(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	token := storageHexToken()
	fcm := storageNewDevice(a.ID, "phone", t0)
	fcm.Token = token
	apns := storageNewDevice(a.ID, "iphone", t0)
	apns.Platform, apns.Token = domain.PlatformAPNs, token
	web := storageNewWebPush(a.ID, "browser", t0)
	f.putDevice(fcm, true)
	f.putDevice(apns, true)
	f.putDevice(web, true)
	f.wantDevices("one token on two platforms", a.ID, fcm, apns, web)

	// b signs in on a's phone: the FCM token moves to b.
	bPhone := storageNewDevice(b.ID, "b-phone", t0.Add(time.Minute))
	bPhone.Token = token
	f.putDevice(bPhone, true)
	f.wantDevices("a after b took the fcm token", a.ID, apns, web)
	f.wantDevices("b", b.ID, bPhone)

	// The same push endpoint with new keys is the same address.
	bWeb := storageNewWebPush(b.ID, "b-browser", t0.Add(time.Minute))
	bWeb.Subscription.Endpoint = web.Subscription.Endpoint
	f.putDevice(bWeb, true)
	f.wantDevices("a after b took the endpoint", a.ID, apns)
	f.wantDevices("b", b.ID, bPhone, bWeb)

	// And back: a registers the phone again.
	f.putDevice(fcm, true)
	f.wantDevices("a took the fcm token back", a.ID, fcm, apns)
	f.wantDevices("b after a took it back", b.ID, bWeb)
}

func storageDeviceAddressMovesOwn(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	d1, d2 := storageNewDevice(a.ID, "d1", t0), storageNewDevice(a.ID, "d2", t0)
	f.putDevice(d1, true)
	f.putDevice(d2, true)

	// A reinstalled app gets a new device id, keeping its token.
	d3 := storageNewDevice(a.ID, "d3", t0.Add(time.Minute))
	d3.Token = d1.Token
	f.putDevice(d3, true)
	f.wantDevices("d3 took d1's token", a.ID, d2, d3)

	// Replacing d2 with d3's token removes d3.
	r2 := d2
	r2.Token, r2.SeenAt = d3.Token, t0.Add(2*time.Minute)
	f.putDevice(r2, false)
	f.wantDevices("d2 took d3's token", a.ID, r2)
}

func storageDeviceWebPush(t *testing.T, f *storageFix) {
	a := f.profile()
	t0 := storageNow()
	w := storageNewWebPush(a.ID, "browser-1", t0)
	got := f.putDevice(w, true)
	storageSame(t, "PutDevice(webpush)", got, w)
	if got.Subscription == nil || *got.Subscription != *w.Subscription || got.Token != "" {
		t.Errorf("PutDevice(webpush) returned subscription %+v token %q, want %+v", got.Subscription, got.Token, *w.Subscription)
	}
	f.wantDevices("webpush", a.ID, w)

	// The browser renews its keys on the same endpoint.
	r := w
	sub := *w.Subscription
	sub.P256dh, sub.Auth = storageRandB64(65, 4), storageRandB64(16, 2)
	r.Subscription, r.SeenAt = &sub, t0.Add(time.Hour)
	f.putDevice(r, false)
	f.wantDevices("renewed keys", a.ID, r)

	// A device that moves from FCM to Web Push loses its token.
	m := storageNewDevice(a.ID, "moving", t0)
	f.putDevice(m, true)
	mw := storageNewWebPush(a.ID, "moving", t0.Add(time.Hour))
	want := mw
	want.CreatedAt = t0
	got = f.putDevice(mw, false)
	storageSame(t, "PutDevice(fcm -> webpush)", got, want)
	f.wantDevices("fcm -> webpush", a.ID, r, want)
}

func storageDeviceMax(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	var mine []domain.Device
	for i := range domain.MaxDevicesPerUser {
		d := storageNewDevice(a.ID, fmt.Sprintf("dev-%02d", i), t0)
		f.putDevice(d, true)
		mine = append(mine, d)
	}
	bd := storageNewDevice(b.ID, "b-phone", t0)
	f.putDevice(bd, true)

	extra := storageNewDevice(a.ID, "dev-extra", t0)
	extra.Token = bd.Token
	_, _, err := f.s.PutDevice(f.ctx, extra)
	storageWantCode(t, err, domain.Conflict, fmt.Sprintf("PutDevice(device %d)", domain.MaxDevicesPerUser+1))
	f.wantDevices("after the refused device", a.ID, mine...)
	f.wantDevices("b keeps the token the refused device had", b.ID, bd)

	r := mine[5]
	r.Token, r.SeenAt = "fcm:"+NewID(), t0.Add(time.Minute)
	f.putDevice(r, false)
	mine[5] = r
	f.wantDevices("replaced at the limit", a.ID, mine...)

	// Others are not limited by a's devices.
	f.putDevice(storageNewDevice(b.ID, "b-tablet", t0), true)

	if _, err := f.s.DeleteDevice(f.ctx, a.ID, mine[0].ID); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	f.putDevice(extra, true)
	f.wantDevices("after one was deleted", a.ID, append(mine[1:], extra)...)
}

func storageDeviceDelete(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	d, other := storageNewDevice(a.ID, "phone", t0), storageNewWebPush(a.ID, "browser", t0)
	f.putDevice(d, true)
	f.putDevice(other, true)

	_, err := f.s.DeleteDevice(f.ctx, b.ID, d.ID)
	storageWantCode(t, err, domain.NotFound, "DeleteDevice(another user's device)")
	_, err = f.s.DeleteDevice(f.ctx, a.ID, "no-such-device")
	storageWantCode(t, err, domain.NotFound, "DeleteDevice(unknown id)")
	f.wantDevices("after refused deletes", a.ID, d, other)

	got, err := f.s.DeleteDevice(f.ctx, a.ID, d.ID)
	if err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	storageSame(t, "deleted device", got, d)
	f.wantDevices("after delete", a.ID, other)
	_, err = f.s.DeleteDevice(f.ctx, a.ID, d.ID)
	storageWantCode(t, err, domain.NotFound, "DeleteDevice twice")

	got, err = f.s.DeleteDevice(f.ctx, a.ID, other.ID)
	if err != nil {
		t.Fatalf("DeleteDevice(webpush): %v", err)
	}
	storageSame(t, "deleted webpush device", got, other)
	f.wantDevices("all deleted", a.ID)
}

func storageDeviceDeleteDead(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	d := storageNewDevice(a.ID, "phone", t0)
	f.putDevice(d, true)
	dead := func(d domain.Device, want bool, what string) {
		t.Helper()
		removed, err := f.s.DeleteDeadDevice(f.ctx, d)
		if err != nil {
			t.Fatalf("%s: DeleteDeadDevice: %v", what, err)
		}
		if removed != want {
			t.Errorf("%s: DeleteDeadDevice = %v, want %v", what, removed, want)
		}
	}

	// The app registered a new token while a relay was sending to the old.
	r := d
	r.Token, r.SeenAt = "fcm:"+NewID(), t0.Add(time.Minute)
	f.putDevice(r, false)
	dead(d, false, "old address")
	f.wantDevices("re-registered device kept", a.ID, r)
	dead(r, true, "current address")
	f.wantDevices("dead device removed", a.ID)
	dead(r, false, "again")

	// The address moved to b: a's old device is gone, b's is not dead.
	w := storageNewWebPush(a.ID, "browser", t0)
	f.putDevice(w, true)
	bw := storageNewWebPush(b.ID, "browser", t0.Add(time.Minute))
	bw.Subscription.Endpoint = w.Subscription.Endpoint
	f.putDevice(bw, true)
	dead(w, false, "a's device after the address moved")
	f.wantDevices("b keeps the address", b.ID, bw)
	dead(bw, true, "b's device")
	f.wantDevices("b's dead device removed", b.ID)
}

func storageDevicePrune(t *testing.T, f *storageFix) {
	a, b := f.profile(), f.profile()
	t0 := storageNow()
	day := 24 * time.Hour
	before := t0.Add(-7 * day)
	old1 := storageNewDevice(a.ID, "old1", t0.Add(-10*day))
	old2 := storageNewWebPush(a.ID, "old2", t0.Add(-9*day))
	fresh := storageNewDevice(a.ID, "fresh", t0.Add(-20*day))
	fresh.SeenAt = t0 // created long ago, seen now
	old3 := storageNewDevice(b.ID, "old3", t0.Add(-8*day))
	edge := storageNewDevice(b.ID, "edge", before)
	for _, d := range []domain.Device{old1, old2, fresh, old3, edge} {
		f.putDevice(d, true)
	}
	prune := func(limit int) []domain.Device {
		t.Helper()
		got, err := f.s.PruneDevices(f.ctx, before, limit)
		if err != nil {
			t.Fatalf("PruneDevices(limit %d): %v", limit, err)
		}
		if len(got) > limit {
			t.Fatalf("PruneDevices returned %d for limit %d", len(got), limit)
		}
		return got
	}
	first := prune(2)
	if len(first) != 2 {
		t.Fatalf("PruneDevices(limit 2) removed %d, want 2", len(first))
	}
	rest := prune(10)
	storageSame(t, "pruned devices", append(first, rest...), []domain.Device{old1, old2, old3})
	if got := prune(10); len(got) != 0 {
		t.Errorf("PruneDevices again = %v, want none", got)
	}
	f.wantDevices("a after prune", a.ID, fresh)
	f.wantDevices("b after prune (seen exactly at before)", b.ID, edge)
}

func storageDeviceDeleteUser(t *testing.T, f *storageFix) {
	a, b, c := f.profile(), f.profile(), f.profile()
	pa, pb := f.post(a.ID), f.post(b.ID)
	t0 := storageNow()
	ad1, ad2 := storageNewDevice(a.ID, "phone", t0), storageNewWebPush(a.ID, "browser", t0)
	bd := storageNewDevice(b.ID, "phone", t0)
	for _, d := range []domain.Device{ad1, ad2, bd} {
		f.putDevice(d, true)
	}
	if _, err := f.s.UpdateNotificationSettings(f.ctx, a.ID, func(s *domain.NotificationSettings) error {
		s.PushOff = []domain.NotificationType{domain.NotificationComment}
		return nil
	}); err != nil {
		t.Fatalf("UpdateNotificationSettings: %v", err)
	}
	for _, m := range [][2]string{{a.ID, pa.ID}, {a.ID, pb.ID}, {c.ID, pa.ID}, {c.ID, pb.ID}} {
		if err := f.s.MutePost(f.ctx, m[0], m[1], t0); err != nil {
			t.Fatalf("MutePost: %v", err)
		}
	}

	if _, err := f.s.DeleteUser(f.ctx, a.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	f.wantDevices("deleted user", a.ID)
	f.wantDevices("other user", b.ID, bd)
	st, err := f.s.GetNotificationSettings(f.ctx, a.ID)
	if err != nil {
		t.Fatalf("GetNotificationSettings: %v", err)
	}
	storageSame(t, "settings of the deleted user", st, domain.NotificationSettings{})
	f.wantMuted("the deleted user's mutes", a.ID)
	f.wantMuted("mutes of the deleted user's post", c.ID, pb.ID)
	for _, m := range [][2]string{{a.ID, pa.ID}, {a.ID, pb.ID}, {c.ID, pa.ID}} {
		if muted, err := f.s.IsPostMuted(f.ctx, m[0], m[1]); err != nil || muted {
			t.Errorf("IsPostMuted(%s, %s) after DeleteUser = %v, %v; want false", m[0], m[1], muted, err)
		}
	}
	// The freed addresses register anew for someone else.
	moved := storageNewDevice(c.ID, "phone", t0)
	moved.Token = ad1.Token
	f.putDevice(moved, true)
	f.wantDevices("deleted user's token reused", b.ID, bd)
	gone, err := f.s.PruneDevices(f.ctx, t0.Add(time.Hour), 100)
	if err != nil {
		t.Fatalf("PruneDevices: %v", err)
	}
	storageSame(t, "devices left after DeleteUser", gone, []domain.Device{bd, moved})
}
