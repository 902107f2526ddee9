package snspush

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudpost/cloudpost/core/domain"
)

func longMessage(title, body string, ids int) domain.PushMessage {
	m := domain.PushMessage{CollapseID: "c1", Type: domain.NotificationComment, PostID: "p1", Title: title, Body: body, Unread: 1, TTL: time.Hour}
	for i := range ids {
		m.NotificationIDs = append(m.NotificationIDs, strings.Repeat("0", 30)+time.Duration(i).String())
	}
	return m
}

// payloadOf returns the platform payload of a publication.
func payloadOf(t *testing.T, pub publication, key string) []byte {
	t.Helper()
	var env map[string]string
	if err := json.Unmarshal([]byte(pub.message), &env); err != nil {
		t.Fatal(err)
	}
	if env["default"] == "" {
		t.Error("no default text")
	}
	return []byte(env[key])
}

// TestPayloadFits: texts too long for the 4096-byte payload are cut on a
// character boundary with an ellipsis, escapes counted; a long id list
// loses its oldest ids.
func TestPayloadFits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		m           domain.PushMessage
		cutBody     bool
		cutTitle    bool
		fewerIDs    bool
		unchangedOK bool
	}{
		{"short", longMessage("Hi", "there", 2), false, false, false, true},
		{"long body", longMessage("Hi", strings.Repeat("é", 5000), 2), true, false, false, false},
		{"long body of escapes", longMessage("Hi", strings.Repeat("\"\n\u2028", 2000), 2), true, false, false, false},
		{"long title", longMessage(strings.Repeat("👩‍👩‍👧", 400), "body", 2), true, true, false, false},
		{"many ids", longMessage("Hi", "there", 200), false, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, build := range []struct {
				key string
				f   func(domain.PushMessage) (publication, error)
			}{
				{"GCM", func(m domain.PushMessage) (publication, error) { return fcmPublication(m, time.Now()) }},
				{"APNS", func(m domain.PushMessage) (publication, error) { return apnsPublication("APNS", m) }},
			} {
				pub, err := build.f(tc.m)
				if err != nil {
					t.Fatalf("%s: %v", build.key, err)
				}
				p := payloadOf(t, pub, build.key)
				if len(p) > MaxPayload {
					t.Errorf("%s payload is %d bytes, over %d", build.key, len(p), MaxPayload)
				}
				var v map[string]any
				if err := json.Unmarshal(p, &v); err != nil {
					t.Fatalf("%s payload: %v", build.key, err)
				}
				if tc.unchangedOK {
					continue
				}
				text := string(p)
				if !utf8.ValidString(text) || !strings.Contains(text, "…") {
					t.Errorf("%s payload: not cut with an ellipsis", build.key)
				}
			}
		})
	}
}

// TestFitCutsOnlyWhatIsNeeded: the body is cut to the longest prefix that
// fits, on a character boundary, and the ids stay while text can go.
func TestFitCutsOnlyWhatIsNeeded(t *testing.T) {
	limit := func(c content) ([]byte, error) {
		// A payload that is the texts and ids plus 3000 bytes.
		return []byte(strings.Repeat("x", 3000) + c.title + c.body + strings.Join(c.ids, ",")), nil
	}
	_, got, err := fit(content{title: "T", body: strings.Repeat("日", 700), ids: []string{"a", "b"}}, limit)
	if err != nil {
		t.Fatal(err)
	}
	// 4096 - 3000 - 1 (title) - 3 (ids) = 1092 bytes: 363 characters and "…".
	if want := strings.Repeat("日", 363) + "…"; got.body != want || got.title != "T" || len(got.ids) != 2 {
		t.Errorf("fit = %+v, want body %q, title and ids kept", got, want)
	}

	// Ids go before the body is cut below its floor, and the body is cut
	// only as far as the remaining ids need.
	ids := strings.Split(strings.TrimSuffix(strings.Repeat("0123456789,", 100), ","), ",")
	_, got, err = fit(content{title: "T", body: strings.Repeat("b", 600), ids: ids}, limit)
	if err != nil {
		t.Fatal(err)
	}
	// 50 ids: 549 bytes; 4096 - 3000 - 1 - 549 = 546 bytes of body.
	if len(got.ids) != 50 || got.body != strings.Repeat("b", 543)+"…" {
		t.Errorf("fit kept %d ids and a body of %d bytes; want 50 ids and 546 bytes", len(got.ids), len(got.body))
	}

	_, _, err = fit(content{title: "T", body: "b"}, func(content) ([]byte, error) { return make([]byte, MaxPayload+1), nil })
	if !domain.IsCode(err, domain.Invalid) {
		t.Errorf("a payload that cannot fit: %v, want Invalid", err)
	}
}

func TestTTLSeconds(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want int
	}{{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {90 * time.Minute, 5400}, {30 * 24 * time.Hour, 1209600}} {
		if got := ttlSeconds(tc.ttl); got != tc.want {
			t.Errorf("ttlSeconds(%v) = %d, want %d", tc.ttl, got, tc.want)
		}
	}
}

func TestParseARN(t *testing.T) {
	app, ok := parseARN("arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/ios")
	if !ok || app.kind != "app" || app.platform != "APNS_SANDBOX" || app.app != "ios" || app.region != "eu-west-1" {
		t.Fatalf("app: %+v %v", app, ok)
	}
	ep, ok := parseARN("arn:aws:sns:eu-west-1:123456789012:endpoint/APNS_SANDBOX/ios/8e4b")
	if !ok || !ep.belongsTo(app) {
		t.Errorf("endpoint %+v of %+v: ok %v", ep, app, ok)
	}
	other, _ := parseARN("arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/ios/8e4b")
	if other.belongsTo(app) {
		t.Error("an APNS endpoint belongs to the APNS_SANDBOX application")
	}
	for _, bad := range []string{"", "arn:aws:sns:eu-west-1:1:app/GCM", "arn:aws:sqs:eu-west-1:1:app/GCM/x", "arn:aws:sns:eu-west-1:1:endpoint/GCM/x/", "arn:aws:sns::1:app/GCM/x"} {
		if _, ok := parseARN(bad); ok {
			t.Errorf("parseARN(%q) accepted it", bad)
		}
	}
}
