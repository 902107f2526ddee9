package domain

import (
	"strings"
	"testing"
	"time"
)

func TestQuietUntil(t *testing.T) {
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, lisbon) }
	night := &QuietHours{Start: 22 * 60, End: 7 * 60, TimeZone: "Europe/Lisbon"}
	lunch := &QuietHours{Start: 12 * 60, End: 13*60 + 30, TimeZone: "Europe/Lisbon"}
	for _, c := range []struct {
		name string
		q    *QuietHours
		now  time.Time
		want time.Time
	}{
		{"before a night span", night, at(2026, 6, 1, 21, 59), time.Time{}},
		{"at its start", night, at(2026, 6, 1, 22, 0), at(2026, 6, 2, 7, 0)},
		{"after midnight", night, at(2026, 6, 2, 3, 0), at(2026, 6, 2, 7, 0)},
		{"at its end", night, at(2026, 6, 2, 7, 0), time.Time{}},
		{"inside a day span", lunch, at(2026, 6, 1, 12, 30), at(2026, 6, 1, 13, 30)},
		{"outside it", lunch, at(2026, 6, 1, 14, 0), time.Time{}},
		// The night the clocks go forward (29 March 2026, 01:00 -> 02:00).
		{"across a DST change", night, at(2026, 3, 28, 23, 0), at(2026, 3, 29, 7, 0)},
		{"none", nil, at(2026, 6, 1, 23, 0), time.Time{}},
	} {
		if got := c.q.QuietUntil(c.now.UTC()); !got.Equal(c.want) {
			t.Errorf("%s: QuietUntil(%s) = %s, want %s", c.name, c.now, got, c.want)
		}
	}
}

func TestValidateDevice(t *testing.T) {
	key := "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
	auth := "tBHItJI5svbpez7KI4CCXg"
	ok := []Device{
		{ID: "phone-1", Platform: PlatformFCM, Token: "abc:DEF_123-x"},
		{ID: "3f2c", Platform: PlatformAPNs, Token: strings.Repeat("0a", 32), Locale: "pt-PT"},
		{ID: "b", Platform: PlatformWebPush, Subscription: &WebPushSubscription{Endpoint: "https://fcm.googleapis.com/fcm/send/x", P256dh: key, Auth: auth}},
	}
	for _, d := range ok {
		if err := ValidateDevice(d); err != nil {
			t.Errorf("%+v: %v", d, err)
		}
	}
	bad := map[string]Device{
		"empty id":          {Platform: PlatformFCM, Token: "x"},
		"id with a slash":   {ID: "a/b", Platform: PlatformFCM, Token: "x"},
		"token with spaces": {ID: "a", Platform: PlatformFCM, Token: "a b"},
		"apns odd":          {ID: "a", Platform: PlatformAPNs, Token: strings.Repeat("a", 65)},
		"http endpoint":     {ID: "a", Platform: PlatformWebPush, Subscription: &WebPushSubscription{Endpoint: "http://x.example/y", P256dh: key, Auth: auth}},
		"credentials":       {ID: "a", Platform: PlatformWebPush, Subscription: &WebPushSubscription{Endpoint: "https://u:p@x.example/y", P256dh: key, Auth: auth}},
		"short auth":        {ID: "a", Platform: PlatformWebPush, Subscription: &WebPushSubscription{Endpoint: "https://x.example/y", P256dh: key, Auth: "AAAA"}},
		"locale":            {ID: "a", Platform: PlatformFCM, Token: "x", Locale: "en US"},
		"platform":          {ID: "a", Platform: "sms", Token: "x"},
	}
	for name, d := range bad {
		if err := ValidateDevice(d); ErrorCode(err) != Invalid {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
}
