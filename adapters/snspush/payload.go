package snspush

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Push payload limits.
const (
	// MaxPayload is the largest platform payload in bytes: APNs refuses
	// larger ones, and FCM limits a message's notification and data to as
	// much. Longer texts are cut (ending in "…") to fit.
	MaxPayload = 4096
	// MaxTTL is the longest time to live sent: Amazon SNS documents TTLs
	// of up to two weeks for mobile push. A longer PushMessage.TTL is cut.
	MaxTTL = 14 * 24 * time.Hour
	// maxCollapseID is the longest apns-collapse-id APNs takes (bytes).
	maxCollapseID = 64
)

// Data keys of every push, beside the displayed notification: the FCM data
// map (all values strings, as FCM requires) and the custom keys of an APNs
// payload carry the same strings, so the app reads one format on both.
const (
	// DataNotificationIDs holds the notification ids, oldest first,
	// separated by commas.
	DataNotificationIDs = "notificationIds"
	// DataType is the notification type (domain.NotificationType).
	DataType = "type"
	// DataPostID is the post the notifications are about.
	DataPostID = "postId"
	// DataUnread is the recipient's unread count in decimal.
	DataUnread = "unread"
	// DataCollapseID is the collapse id (the newest notification's id).
	DataCollapseID = "collapseId"
)

// Message attribute names of SNS mobile push.
const (
	attrAPNsCollapseID = "AWS.SNS.MOBILE.APNS.COLLAPSE_ID"
	attrAPNsPushType   = "AWS.SNS.MOBILE.APNS.PUSH_TYPE"
	attrFCMTTL         = "AWS.SNS.MOBILE.FCM.TTL"
)

// apnsTTLAttr returns the TTL attribute of an APNs message key (APNS or
// APNS_SANDBOX: each has its own).
func apnsTTLAttr(key string) string { return "AWS.SNS.MOBILE." + key + ".TTL" }

// content is what a push shows and carries; fit shrinks it.
type content struct {
	title, body string
	ids         []string
}

// publication is one Publish: the JSON message (MessageStructure "json")
// and its message attributes.
type publication struct {
	message    string
	attributes map[string]types.MessageAttributeValue
}

// fcmMessage is the FCM HTTP v1 message SNS sends under the GCM key
// ({"fcmV1Message": {"message": ...}}: SNS adds the token).
type fcmMessage struct {
	Notification titleBody         `json:"notification"`
	Data         map[string]string `json:"data"`
	Android      fcmAndroid        `json:"android"`
	APNs         *fcmAPNs          `json:"apns,omitempty"`
}

// titleBody is FCM's notification and APNs's aps.alert.
type titleBody struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type fcmAndroid struct {
	// CollapseKey collapses pushes the device has not received yet.
	CollapseKey string `json:"collapse_key,omitempty"`
	// TTL is a protobuf Duration in JSON ("3600s").
	TTL          string                  `json:"ttl,omitempty"`
	Notification *fcmAndroidNotification `json:"notification,omitempty"`
}

type fcmAndroidNotification struct {
	// Tag replaces a shown notification of the same tag: a repeat that
	// arrives after the first was shown still shows once.
	Tag string `json:"tag,omitempty"`
}

// fcmAPNs is the APNs part of an FCM message, for iOS apps that receive
// through Firebase.
type fcmAPNs struct {
	Headers map[string]string `json:"headers,omitempty"`
	Payload map[string]any    `json:"payload"`
}

// fcmPublication builds the Publish of m to an FCM endpoint.
func fcmPublication(m domain.PushMessage, now time.Time) (publication, error) {
	ttl := ttlSeconds(m.TTL)
	payload, c, err := fit(contentOf(m), func(c content) ([]byte, error) {
		aps := map[string]any{"badge": max(m.Unread, 0), "sound": "default"}
		if m.PostID != "" {
			aps["thread-id"] = m.PostID
		}
		msg := fcmMessage{
			Notification: titleBody{Title: c.title, Body: c.body},
			Data:         data(m, c),
			Android:      fcmAndroid{CollapseKey: m.CollapseID},
			APNs:         &fcmAPNs{Headers: map[string]string{}, Payload: map[string]any{"aps": aps}},
		}
		if m.CollapseID != "" {
			msg.Android.Notification = &fcmAndroidNotification{Tag: m.CollapseID}
			if len(m.CollapseID) <= maxCollapseID {
				msg.APNs.Headers["apns-collapse-id"] = m.CollapseID
			}
		}
		if ttl > 0 {
			msg.Android.TTL = strconv.Itoa(ttl) + "s"
			msg.APNs.Headers["apns-expiration"] = strconv.FormatInt(now.Unix()+int64(ttl), 10)
		}
		return marshal(map[string]any{"fcmV1Message": map[string]any{"message": msg}})
	})
	if err != nil {
		return publication{}, err
	}
	attrs := map[string]types.MessageAttributeValue{}
	if ttl > 0 {
		attrs[attrFCMTTL] = stringAttr(strconv.Itoa(ttl))
	}
	return envelope(platformGCM, payload, c, attrs)
}

// apnsPublication builds the Publish of m to an APNs endpoint; key is APNS
// or APNS_SANDBOX.
func apnsPublication(key string, m domain.PushMessage) (publication, error) {
	payload, c, err := fit(contentOf(m), func(c content) ([]byte, error) {
		aps := map[string]any{
			"alert": titleBody{Title: c.title, Body: c.body},
			"badge": max(m.Unread, 0),
			"sound": "default",
		}
		if m.PostID != "" {
			aps["thread-id"] = m.PostID
		}
		p := map[string]any{"aps": aps}
		for k, v := range data(m, c) {
			p[k] = v
		}
		return marshal(p)
	})
	if err != nil {
		return publication{}, err
	}
	attrs := map[string]types.MessageAttributeValue{attrAPNsPushType: stringAttr("alert")}
	if m.CollapseID != "" && len(m.CollapseID) <= maxCollapseID {
		attrs[attrAPNsCollapseID] = stringAttr(m.CollapseID)
	}
	if ttl := ttlSeconds(m.TTL); ttl > 0 {
		attrs[apnsTTLAttr(key)] = stringAttr(strconv.Itoa(ttl))
	}
	return envelope(key, payload, c, attrs)
}

// envelope wraps a platform payload into the JSON message of a Publish
// with MessageStructure "json": the payload as a string under the
// platform's key, and the "default" text SNS requires.
func envelope(key string, payload []byte, c content, attrs map[string]types.MessageAttributeValue) (publication, error) {
	def := c.body
	if def == "" {
		def = c.title
	}
	if def == "" {
		def = "notification"
	}
	msg, err := marshal(map[string]string{"default": def, key: string(payload)})
	if err != nil {
		return publication{}, err
	}
	return publication{message: string(msg), attributes: attrs}, nil
}

func contentOf(m domain.PushMessage) content {
	return content{title: m.Title, body: m.Body, ids: m.NotificationIDs}
}

// data returns the data strings of a push.
func data(m domain.PushMessage, c content) map[string]string {
	return map[string]string{
		DataNotificationIDs: strings.Join(c.ids, ","),
		DataType:            string(m.Type),
		DataPostID:          m.PostID,
		DataUnread:          strconv.Itoa(max(m.Unread, 0)),
		DataCollapseID:      m.CollapseID,
	}
}

// fit builds the payload of c and, when it is larger than MaxPayload,
// shrinks c as little as it can: it cuts the body (not below 256 bytes),
// then the title (not below 128); if that is not enough, it drops the
// oldest notification ids (the app finds them in its inbox), half at a
// time, cutting the texts again for each try; with one id left, the texts
// may go down to nothing. Texts are cut on a character boundary and end
// in "…". Returns Invalid when nothing is left to cut.
func fit(c content, build func(content) ([]byte, error)) ([]byte, content, error) {
	b, err := build(c)
	if err != nil || len(b) <= MaxPayload {
		return b, c, err
	}
	fits := func(c content) bool {
		b, err := build(c)
		return err == nil && len(b) <= MaxPayload
	}
	orig := c
	texts := func(c content, bodyFloor, titleFloor int) (content, bool) {
		c.body, c.title = orig.body, orig.title
		ok := fits(c) || shrink(&c, &c.body, bodyFloor, fits) || shrink(&c, &c.title, titleFloor, fits)
		return c, ok
	}
	done := func(c content) ([]byte, content, error) {
		b, err := build(c)
		return b, c, err
	}
	if c, ok := texts(c, 256, 128); ok {
		return done(c)
	}
	for len(c.ids) > 1 {
		c.ids = c.ids[len(c.ids)/2:]
		if c, ok := texts(c, 256, 128); ok {
			return done(c)
		}
	}
	if c, ok := texts(c, 0, 0); ok {
		return done(c)
	}
	return nil, c, domain.Errorf(domain.Invalid, "the push message does not fit in %d bytes", MaxPayload)
}

// shrink cuts *text (a field of c) to the longest prefix, of at least
// floor bytes, with which c fits, and reports whether one does; when none
// does it leaves *text cut to floor.
func shrink(c *content, text *string, floor int, fits func(content) bool) bool {
	s := *text
	if len(s) <= floor {
		return false
	}
	// starts[i] is the byte offset of the i-th character: a prefix of
	// i characters is s[:starts[i]].
	var starts []int
	for i := range s {
		starts = append(starts, i)
	}
	prefix := func(n int) string {
		if n == 0 {
			return ""
		}
		return s[:starts[n]] + "…"
	}
	lo := 0 // characters within floor bytes
	for lo+1 < len(starts) && starts[lo+1]+len("…") <= floor {
		lo++
	}
	if floor == 0 {
		lo = 0
	}
	// The longest n in [lo, len(starts)) with which c fits.
	*text = prefix(lo)
	if !fits(*c) {
		return false
	}
	hi := len(starts) - 1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		*text = prefix(mid)
		if fits(*c) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	*text = prefix(lo)
	return true
}

// ttlSeconds returns ttl in whole seconds (rounded up, at most MaxTTL),
// or 0 when ttl is not positive (the service's default then applies).
func ttlSeconds(ttl time.Duration) int {
	if ttl <= 0 {
		return 0
	}
	ttl = min(ttl, MaxTTL)
	return int((ttl + time.Second - 1) / time.Second)
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// marshal encodes v without HTML escaping (<, > and & stay as they are:
// every byte counts against the payload limit).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
