package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/internal/testlog"
	"github.com/cloudpost/cloudpost/ports"
)

// recordingBlobs records the keys written and can make reads fail.
type recordingBlobs struct {
	ports.Blobs
	mu      sync.Mutex
	puts    []string
	statErr error
}

func (b *recordingBlobs) Put(ctx context.Context, o ports.Object, body io.Reader) error {
	b.mu.Lock()
	b.puts = append(b.puts, o.Key)
	b.mu.Unlock()
	return b.Blobs.Put(ctx, o, body)
}

func (b *recordingBlobs) readErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statErr
}

func (b *recordingBlobs) Stat(ctx context.Context, key string) (domain.ObjectInfo, error) {
	if err := b.readErr(); err != nil {
		return domain.ObjectInfo{}, err
	}
	return b.Blobs.Stat(ctx, key)
}

func (b *recordingBlobs) Open(ctx context.Context, key string) (io.ReadCloser, domain.ObjectInfo, error) {
	if err := b.readErr(); err != nil {
		return nil, domain.ObjectInfo{}, err
	}
	return b.Blobs.Open(ctx, key)
}

func (b *recordingBlobs) putKeys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.puts...)
}

// withLogs sends the app's logs (at info) to a buffer.
func withLogs(cfg config.Config, logs *testlog.Buffer) fx.Option {
	cfg.LogLevel = slog.LevelInfo
	return fx.Decorate(func(*slog.Logger) *slog.Logger { return functions.NewLogger(cfg, logs) })
}

type mediaFixture struct {
	app   *functions.App
	blobs *recordingBlobs
	media *media.Service
	store ports.Storage
	logs  *testlog.Buffer
}

func newMediaFixture(t *testing.T) *mediaFixture {
	f := &mediaFixture{logs: &testlog.Buffer{}}
	cfg := testConfig(t)
	f.app = startApp(t, cfg, functions.HandlerMedia, withLogs(cfg, f.logs),
		fx.Decorate(func(b ports.Blobs) ports.Blobs { f.blobs = &recordingBlobs{Blobs: b}; return f.blobs }),
		fx.Populate(&f.media, &f.store))
	return f
}

// upload records a pending media item of owner and stores data as its
// upload; it returns the item's id and upload key.
func (f *mediaFixture) upload(t *testing.T, owner string, data []byte) (string, string) {
	t.Helper()
	ctx := context.Background()
	up, err := f.media.CreateUpload(ctx, domain.Principal{UserID: owner}, domain.PurposePost, "image/png", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	key := domain.UploadKey(owner, up.Media.ID)
	if err := f.blobs.Blobs.Put(ctx, ports.Object{Key: key, ContentType: "image/png", Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return up.Media.ID, key
}

// s3Event is what S3 sends for one object: the key URL-encoded the way S3
// encodes it (spaces as '+').
func s3Event(eventName, key string) []byte {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
		"eventTime": "2026-01-02T03:04:05.000Z", "eventName": eventName,
		"s3": map[string]any{
			"s3SchemaVersion": "1.0", "configurationId": "uploads",
			"bucket": map[string]any{"name": "cloudpost-media", "arn": "arn:aws:s3:::cloudpost-media"},
			"object": map[string]any{"key": url.QueryEscape(key), "size": 1, "sequencer": "0A1B2C"},
		},
	}}})
	return b
}

func (f *mediaFixture) status(t *testing.T, id string) domain.Media {
	t.Helper()
	m, err := f.store.GetMedia(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMediaHandlerProcessesUploads(t *testing.T) {
	t.Parallel()
	f := newMediaFixture(t)
	// An owner id with characters S3 escapes in event keys.
	id, key := f.upload(t, "user one+x", testPNG(40, 30))
	out, err := f.app.Handler.Invoke(lambdaCtx("aws-media-1"), s3Event("ObjectCreated:Put", key))
	if err != nil || string(out) != "null" {
		t.Fatalf("invoke: %s %v", out, err)
	}
	m := f.status(t, id)
	if m.Status != domain.MediaReady || len(m.Variants) != len(domain.VariantNames) {
		t.Fatalf("media after processing: %+v", m)
	}
	puts := f.putKeys(t)
	for _, k := range puts {
		// Only variants: the uploads/ trigger cannot fire again.
		if !strings.HasPrefix(k, "variants/"+id+"/") {
			t.Errorf("the pipeline wrote %q outside variants/", k)
		}
	}
	// S3 delivers at least once: a duplicate is a no-op.
	if _, err := f.app.Handler.Invoke(lambdaCtx("aws-media-2"), s3Event("ObjectCreated:Put", key)); err != nil {
		t.Fatal(err)
	}
	if got := f.putKeys(t); len(got) != len(puts) {
		t.Errorf("the duplicate event wrote again: %q", got[len(puts):])
	}
	if m2 := f.status(t, id); m2.Status != domain.MediaReady || !m2.UpdatedAt.Equal(m.UpdatedAt) {
		t.Errorf("the duplicate event changed the item: %+v", m2)
	}
	// Every log line of the invocation carries the Lambda request id.
	var handled []string
	for _, l := range f.logs.Lines(t) {
		if l["message"] == "media event handled" {
			handled = append(handled, fmt.Sprint(l["awsRequestId"]))
			if l["mediaId"] != id || l["level"] != "INFO" || l["timestamp"] == nil {
				t.Errorf("log line %v", l)
			}
		}
	}
	if strings.Join(handled, ",") != "aws-media-1,aws-media-2" {
		t.Errorf("'media event handled' lines for invocations %q", handled)
	}
}

func (f *mediaFixture) putKeys(t *testing.T) []string { t.Helper(); return f.blobs.putKeys() }

func TestMediaHandlerSwallowsPermanentFailures(t *testing.T) {
	t.Parallel()
	f := newMediaFixture(t)
	id, key := f.upload(t, "u1", []byte("this is not a png at all"))
	if _, err := f.app.Handler.Invoke(lambdaCtx("r"), s3Event("ObjectCreated:Post", key)); err != nil {
		t.Fatalf("a permanent failure must not be retried: %v", err)
	}
	if m := f.status(t, id); m.Status != domain.MediaFailed || m.FailureReason == "" {
		t.Errorf("media: %+v", m)
	}
	// Its bytes are dropped: an empty object keeps the key (the upload
	// URL writes once), no variant is written.
	if keys := f.putKeys(t); len(keys) != 1 || keys[0] != key {
		t.Errorf("writes for a failed upload: %v, want only the emptied upload", keys)
	}
	if info, err := f.blobs.Stat(context.Background(), key); err != nil || info.Size != 0 {
		t.Errorf("the failed upload's bytes: %+v %v", info, err)
	}
	// Emptying the upload fires the bucket's event again: it is a no-op.
	if _, err := f.app.Handler.Invoke(lambdaCtx("r2"), s3Event("ObjectCreated:Put", key)); err != nil {
		t.Fatal(err)
	}
	if m := f.status(t, id); m.Status != domain.MediaFailed {
		t.Errorf("media after the emptied upload's event: %+v", m)
	}
}

// TestMediaHandlerReplacedUploadFailsTheItem: an S3 event for an upload
// whose bytes changed after processing (a bucket that ignored the signed
// If-None-Match, or someone with bucket access) fails the item: other
// bytes are never served as the verified image.
func TestMediaHandlerReplacedUploadFailsTheItem(t *testing.T) {
	t.Parallel()
	f := newMediaFixture(t)
	img := testPNG(40, 30)
	id, key := f.upload(t, "u1", img)
	if _, err := f.app.Handler.Invoke(lambdaCtx("r1"), s3Event("ObjectCreated:Put", key)); err != nil {
		t.Fatal(err)
	}
	if m := f.status(t, id); m.Status != domain.MediaReady || m.Checksum == "" {
		t.Fatalf("media: %+v", m)
	}
	other := bytes.Clone(img)
	other[len(other)-20] ^= 0xFF
	if err := f.blobs.Blobs.Put(context.Background(), ports.Object{Key: key, ContentType: "image/png", Size: int64(len(other))}, bytes.NewReader(other)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Handler.Invoke(lambdaCtx("r2"), s3Event("ObjectCreated:Put", key)); err != nil {
		t.Fatal(err)
	}
	if m := f.status(t, id); m.Status != domain.MediaFailed || m.FailureReason != media.ReasonReplaced {
		t.Fatalf("media after its upload was replaced: %+v", m)
	}
	for _, v := range domain.VariantNames {
		if _, err := f.blobs.Stat(context.Background(), domain.VariantKey(id, v)); !domain.IsCode(err, domain.NotFound) {
			t.Errorf("variant %s of the failed item: %v", v, err)
		}
	}
}

// TestJanitorSweepsMedia: the scheduled janitor processes an upload whose
// S3 event never came and expires one whose bytes never arrived.
func TestJanitorSweepsMedia(t *testing.T) {
	t.Parallel()
	clock := newFrozenClock()
	var (
		svc   *media.Service
		store ports.Storage
		blobs ports.Blobs
	)
	app := startApp(t, testConfig(t), functions.HandlerJanitor,
		fx.Decorate(func(ports.Clock) ports.Clock { return clock }),
		fx.Populate(&svc, &store, &blobs))
	ctx := context.Background()
	img := testPNG(30, 20)
	lost, err := svc.CreateUpload(ctx, domain.Principal{UserID: "u1"}, domain.PurposePost, "image/png", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.Put(ctx, ports.Object{Key: domain.UploadKey("u1", lost.Media.ID), ContentType: "image/png", Size: int64(len(img))}, bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	never, err := svc.CreateUpload(ctx, domain.Principal{UserID: "u2"}, domain.PurposePost, "image/png", 10)
	if err != nil {
		t.Fatal(err)
	}
	clock.mu.Lock()
	clock.now = clock.now.Add(21 * time.Minute) // past the 15 min upload URL and 5 min grace
	clock.mu.Unlock()
	if out, err := app.Handler.Invoke(lambdaCtx("j"), []byte(`{"source":"aws.events"}`)); err != nil || string(out) != "null" {
		t.Fatalf("janitor: %s %v", out, err)
	}
	if m, _ := store.GetMedia(ctx, lost.Media.ID); m.Status != domain.MediaReady {
		t.Errorf("an upload whose event was lost: %s, want ready", m.Status)
	}
	if m, _ := store.GetMedia(ctx, never.Media.ID); m.Status != domain.MediaFailed || m.FailureReason != domain.ReasonExpired {
		t.Errorf("an upload that never arrived: %s %q, want failed/expired", m.Status, m.FailureReason)
	}
}

func TestMediaHandlerReturnsRetryableFailures(t *testing.T) {
	t.Parallel()
	f := newMediaFixture(t)
	id, key := f.upload(t, "u1", testPNG(10, 10))
	f.blobs.mu.Lock()
	f.blobs.statErr = domain.Errorf(domain.Unavailable, "s3 is down")
	f.blobs.mu.Unlock()
	_, err := f.app.Handler.Invoke(lambdaCtx("r"), s3Event("ObjectCreated:Put", key))
	if domain.ErrorCode(err) != domain.Unavailable || !strings.Contains(err.Error(), id) {
		t.Fatalf("a retryable failure must fail the invocation: %v", err)
	}
	if m := f.status(t, id); m.Status != domain.MediaPending {
		t.Errorf("the claim was not released for the retry: %+v", m)
	}
	// The retry, once S3 is back, completes it.
	f.blobs.mu.Lock()
	f.blobs.statErr = nil
	f.blobs.mu.Unlock()
	if _, err := f.app.Handler.Invoke(lambdaCtx("r2"), s3Event("ObjectCreated:Put", key)); err != nil {
		t.Fatal(err)
	}
	if m := f.status(t, id); m.Status != domain.MediaReady {
		t.Errorf("after the retry: %+v", m)
	}
}

func TestMediaHandlerIgnoresOtherEvents(t *testing.T) {
	t.Parallel()
	f := newMediaFixture(t)
	id, key := f.upload(t, "u1", testPNG(10, 10))
	for name, payload := range map[string][]byte{
		"variant key":       s3Event("ObjectCreated:Put", domain.VariantKey(id, "thumb")),
		"other prefix":      s3Event("ObjectCreated:Put", "avatars/"+id),
		"nested upload key": s3Event("ObjectCreated:Put", key+"/x"),
		"removal":           s3Event("ObjectRemoved:Delete", key),
		"not an S3 event":   []byte(`{"Records": "nope"}`),
		"no records":        []byte(`{}`),
	} {
		if out, err := f.app.Handler.Invoke(lambdaCtx("r"), payload); err != nil || string(out) != "null" {
			t.Errorf("%s: %s %v", name, out, err)
		}
	}
	if m := f.status(t, id); m.Status != domain.MediaPending {
		t.Errorf("an ignored event processed the upload: %+v", m)
	}
	// An upload key whose item does not exist (deleted meanwhile) is done.
	if _, err := f.app.Handler.Invoke(lambdaCtx("r"), s3Event("ObjectCreated:Put", domain.UploadKey("u1", "01900000-0000-7000-8000-00000000dead"))); err != nil {
		t.Errorf("unknown media: %v", err)
	}
	var skipped int
	for _, l := range f.logs.Lines(t) {
		if strings.HasPrefix(fmt.Sprint(l["message"]), "media event skipped") {
			skipped++
		}
	}
	if skipped < 4 {
		t.Errorf("%d skip log lines, want one per ignored record", skipped)
	}
}

// TestMediaHandlerAWSSampleEvent feeds AWS's sample S3 event
// (testdata/s3-event.json) as S3 sends it, and with its key and event
// name changed: the handler reads the bucket, the URL-encoded key and the
// event name from it.
func TestMediaHandlerAWSSampleEvent(t *testing.T) {
	t.Parallel()
	f := newMediaFixture(t)
	sample := readTestdata(t, "s3-event.json")
	id, key := f.upload(t, "user one", testPNG(12, 8))
	withKey := func(k, eventName string) []byte {
		b := bytes.Replace(sample, []byte(`"key": "Happy%20Face.jpg"`), []byte(`"key": "`+url.QueryEscape(k)+`"`), 1)
		return bytes.Replace(b, []byte(`"eventName": "ObjectCreated:Put"`), []byte(`"eventName": "`+eventName+`"`), 1)
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		status  domain.MediaStatus
		log     string
	}{
		{"sample as sent", sample, domain.MediaPending, "media event skipped: key is not an upload"},
		{"an upload removed", withKey(key, "ObjectRemoved:Delete"), domain.MediaPending, "media event skipped: not an object creation"},
		{"an upload created", withKey(key, "ObjectCreated:Put"), domain.MediaReady, "media event handled"},
	} {
		if out, err := f.app.Handler.Invoke(lambdaCtx(tc.name), tc.payload); err != nil || string(out) != "null" {
			t.Fatalf("%s: %s %v", tc.name, out, err)
		}
		if m := f.status(t, id); m.Status != tc.status {
			t.Errorf("%s: media %s, want %s", tc.name, m.Status, tc.status)
		}
		var line map[string]any
		for _, l := range f.logs.Lines(t) {
			if l["awsRequestId"] == tc.name && l["message"] == tc.log {
				line = l
			}
		}
		if line == nil || tc.name == "sample as sent" && (line["key"] != "Happy Face.jpg" || line["bucket"] != "sourcebucket") {
			t.Errorf("%s: no %q log line with the decoded key: %v", tc.name, tc.log, line)
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type cognitoFixture struct {
	app   *functions.App
	auth  *localauth.Provider
	store ports.Storage
	logs  *testlog.Buffer
}

func newCognitoFixture(t *testing.T) *cognitoFixture {
	f := &cognitoFixture{logs: &testlog.Buffer{}}
	cfg := testConfig(t)
	f.app = startApp(t, cfg, functions.HandlerCognito, withLogs(cfg, f.logs), fx.Populate(&f.auth, &f.store))
	return f
}

// confirmedUser creates a confirmed identity in the local pool, as Cognito
// has done when it runs the post-confirmation trigger.
func (f *cognitoFixture) confirmedUser(t *testing.T, email string) string {
	t.Helper()
	ctx := context.Background()
	res, err := f.auth.SignUp(ctx, email, "s3cret-pass", "Carol")
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.auth.Mail(email)
	if err := f.auth.ConfirmSignUp(ctx, email, msgs[len(msgs)-1].Code); err != nil {
		t.Fatal(err)
	}
	return res.UserID
}

func postConfirmation(trigger, sub, email string) []byte {
	return []byte(`{"version":"1","triggerSource":"` + trigger + `","region":"eu-west-1","userPoolId":"eu-west-1_AbCdEf123",` +
		`"userName":"` + sub + `","callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"app"},` +
		`"request":{"userAttributes":{"sub":"` + sub + `","email":"` + email + `","email_verified":"true","cognito:user_status":"CONFIRMED"}},` +
		`"response":{}}`)
}

func TestCognitoPostConfirmationCreatesTheProfile(t *testing.T) {
	t.Parallel()
	f := newCognitoFixture(t)
	carol := f.confirmedUser(t, "carol@example.com")
	ev := postConfirmation("PostConfirmation_ConfirmSignUp", carol, "carol@example.com")
	out, err := f.app.Handler.Invoke(lambdaCtx("c1"), ev)
	if err != nil || !bytes.Equal(out, ev) {
		t.Fatalf("the event must come back unchanged: %s %v", out, err)
	}
	p, err := f.store.GetProfile(context.Background(), carol)
	if err != nil || p.Email != "carol@example.com" || p.DisplayName != "Carol" || p.Version != 1 {
		t.Fatalf("profile: %+v %v", p, err)
	}
	// Idempotent: Cognito retries a trigger that timed out.
	out, err = f.app.Handler.Invoke(lambdaCtx("c2"), ev)
	if err != nil || !bytes.Equal(out, ev) {
		t.Fatalf("second delivery: %s %v", out, err)
	}
	if p2, _ := f.store.GetProfile(context.Background(), carol); p2.Version != 1 {
		t.Errorf("the second delivery changed the profile: %+v", p2)
	}
}

func TestCognitoTriggerNeverFailsTheConfirmation(t *testing.T) {
	t.Parallel()
	f := newCognitoFixture(t)
	dave := f.confirmedUser(t, "dave@example.com")
	for name, ev := range map[string][]byte{
		"unknown user":      postConfirmation("PostConfirmation_ConfirmSignUp", "no-such-user", "x@example.com"),
		"no sub":            postConfirmation("PostConfirmation_ConfirmSignUp", "", "x@example.com"),
		"pre sign-up":       postConfirmation("PreSignUp_SignUp", dave, "dave@example.com"),
		"unreadable":        []byte(`{"triggerSource": 7}`),
		"forgot password ✓": postConfirmation("PostConfirmation_ConfirmForgotPassword", dave, "dave@example.com"),
	} {
		out, err := f.app.Handler.Invoke(lambdaCtx("c"), ev)
		if err != nil || !bytes.Equal(out, ev) {
			t.Errorf("%s: %s %v", name, out, err)
		}
	}
	// The forgot-password confirmation also makes sure the profile exists.
	if _, err := f.store.GetProfile(context.Background(), dave); err != nil {
		t.Errorf("profile after forgot-password confirmation: %v", err)
	}
	var failures int
	for _, l := range f.logs.Lines(t) {
		if l["message"] == "cognito trigger: profile not created" {
			failures++
			if l["level"] != "ERROR" || l["awsRequestId"] != "c" {
				t.Errorf("log line %v", l)
			}
		}
	}
	if failures != 2 {
		t.Errorf("%d failure log lines, want 2 (unknown user, no sub)", failures)
	}
}

// TestCognitoAWSSampleEvent feeds AWS's sample post-confirmation trigger
// (testdata/cognito-event-userpools-postconfirmation.json): as is (its
// attributes name no user), with a confirmed user's sub and email, and as
// another trigger. The event always comes back unchanged.
func TestCognitoAWSSampleEvent(t *testing.T) {
	t.Parallel()
	f := newCognitoFixture(t)
	erin := f.confirmedUser(t, "erin@example.com")
	sample := readTestdata(t, "cognito-event-userpools-postconfirmation.json")
	user := bytes.Replace(sample, []byte(`"email": "<email>"`), []byte(`"sub": "`+erin+`", "email": "erin@example.com"`), 1)
	for _, tc := range []struct {
		name    string
		payload []byte
		profile bool
	}{
		{"pre sign-up trigger", bytes.Replace(user, []byte("PostConfirmation_ConfirmSignUp"), []byte("PreSignUp_SignUp"), 1), false},
		{"sample as sent", sample, false},
		{"confirmed user", user, true},
	} {
		out, err := f.app.Handler.Invoke(lambdaCtx(tc.name), tc.payload)
		if err != nil || !bytes.Equal(out, tc.payload) {
			t.Fatalf("%s: the event must come back unchanged: %s %v", tc.name, out, err)
		}
		if _, err := f.store.GetProfile(context.Background(), erin); (err == nil) != tc.profile {
			t.Errorf("%s: profile: %v, want one: %v", tc.name, err, tc.profile)
		}
	}
	var noUser bool
	for _, l := range f.logs.Lines(t) {
		noUser = noUser || l["awsRequestId"] == "sample as sent" && l["message"] == "cognito trigger: profile not created" && l["code"] == string(domain.Invalid)
	}
	if !noUser {
		t.Error("the sample without sub was not logged as naming no user")
	}
}

// failingPrune makes the store's PruneFeed fail.
type failingPrune struct {
	ports.Storage
	err error
}

func (s failingPrune) PruneFeed(context.Context, time.Time) error { return s.err }

func TestJanitorPrunesTheFeed(t *testing.T) {
	t.Parallel()
	app := startApp(t, testConfig(t), functions.HandlerJanitor)
	if out, err := app.Handler.Invoke(lambdaCtx("j"), []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`)); err != nil || string(out) != "null" {
		t.Fatalf("janitor: %s %v", out, err)
	}
	down := domain.Errorf(domain.Unavailable, "database unavailable")
	cfg, logs := testConfig(t), &testlog.Buffer{}
	app = startApp(t, cfg, functions.HandlerJanitor, withLogs(cfg, logs),
		fx.Decorate(func(s ports.Storage) ports.Storage { return failingPrune{s, down} }))
	if _, err := app.Handler.Invoke(lambdaCtx("j"), nil); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("a failed prune must fail the invocation (so it is retried): %v", err)
	}
}

func TestEveryHandlerStartsAndStops(t *testing.T) {
	t.Parallel()
	for _, name := range functions.HandlerNames {
		t.Run(name, func(t *testing.T) {
			app := startApp(t, testConfig(t), name)
			if app.Handler == nil || app.Log == nil {
				t.Fatal("no handler")
			}
		})
	}
	if _, err := functions.Start(context.Background(), testConfig(t), functions.Config{Handler: "nope"}); err == nil || !strings.Contains(err.Error(), "_HANDLER") {
		t.Errorf("unknown handler: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	c, err := functions.LoadConfig([]string{"_HANDLER=api", "CLOUDPOST_API_BASE_PATH=/api"})
	if err != nil || c.Handler != "api" || c.BasePath != "/api" {
		t.Errorf("%+v %v", c, err)
	}
	for env, want := range map[string]string{
		"":                   "_HANDLER",
		"_HANDLER=bootstrap": "_HANDLER",
		"_HANDLER=api CLOUDPOST_API_BASE_PATH=api": "CLOUDPOST_API_BASE_PATH",
	} {
		_, err := functions.LoadConfig(strings.Fields(env))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", env, err, want)
		}
	}
}

func TestAPILogsCarryBothRequestIDs(t *testing.T) {
	t.Parallel()
	cfg, logs := testConfig(t), &testlog.Buffer{}
	app := startApp(t, cfg, functions.HandlerAPI, withLogs(cfg, logs))
	invokeV2(t, app, jsonReq("GET", "/healthz", nil, "X-Request-Id", "client-rid-1"))
	invokeV2(t, app, jsonReq("GET", "/v1/nope", nil))
	var got []string
	for _, l := range logs.Lines(t) {
		if l["message"] == "request" {
			got = append(got, fmt.Sprintf("%v %v %v %v", l["path"], l["awsRequestId"], l["apiRequestId"], l["requestId"] != nil))
		}
	}
	want := []string{"/healthz aws-req-v2 JKJaXmPLvHcESHA= true", "/v1/nope aws-req-v2 JKJaXmPLvHcESHA= true"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("access log lines %q, want %q", got, want)
	}
}
