package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/adapters/snspush/mototest"
	"github.com/cloudpost/cloudpost/adapters/sqsnotify"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/internal/testlog"
	"github.com/cloudpost/cloudpost/ports"
)

func (c *frozenClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// queueNotifier stands in for the API's sqsnotify.Notifier: it keeps the
// bodies it would have sent, so tests hand them to the push handler as
// the queue would.
type queueNotifier struct {
	mu      sync.Mutex
	bodies  []string
	delayed []delayedBody
}

type delayedBody struct {
	body  string
	delay time.Duration
}

// DispatchAfter keeps the body and its delay, as the queue would hold it.
func (q *queueNotifier) DispatchAfter(_ context.Context, n domain.Notification, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.delayed = append(q.delayed, delayedBody{sqsnotify.Encode(n), delay})
	return nil
}

func (q *queueNotifier) Dispatch(_ context.Context, n domain.Notification) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bodies = append(q.bodies, sqsnotify.Encode(n))
	return nil
}

func (q *queueNotifier) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.bodies
	q.bodies = nil
	return out
}

// slowChannels makes every push take a minute of the test clock, as a slow
// push service would take time: a retry the relay schedules after a
// failure (5 s or so) comes due before the run ends.
type slowChannel struct {
	ports.Push
	clock *frozenClock
}

func (s slowChannel) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	s.clock.advance(time.Minute)
	return s.Push.Send(ctx, d, m)
}

// pushFixture is the push handler's app (memory adapters) with what a
// test needs to make notifications: users ann and bob with profiles, a
// phone each (recorded by mempush), a post each.
type pushFixture struct {
	app      *functions.App
	store    ports.Storage
	push     *mempush.Push
	posts    *posts.Service
	comments *comments.Service
	devices  *devices.Service
	clock    *frozenClock
	queue    *queueNotifier
	logs     *testlog.Buffer
	phones   map[string]domain.Device
	postOf   map[string]domain.Post
}

func newPushFixture(t *testing.T, handler string, extra ...fx.Option) *pushFixture {
	t.Helper()
	return newPushFixtureAt(t, newFrozenClock(), handler, extra...)
}

// newPushFixtureAt is newPushFixture on clock (for decorators that need
// it while the app is built).
func newPushFixtureAt(t *testing.T, clock *frozenClock, handler string, extra ...fx.Option) *pushFixture {
	t.Helper()
	f := &pushFixture{clock: clock, queue: &queueNotifier{}, logs: &testlog.Buffer{}, phones: map[string]domain.Device{}, postOf: map[string]domain.Post{}}
	cfg := testConfig(t)
	ids := &seqIDs{}
	opts := append([]fx.Option{
		withLogs(cfg, f.logs),
		fx.Decorate(func(ports.IDs) ports.IDs { return ids }),
		fx.Decorate(func(ports.Clock) ports.Clock { return f.clock }),
		fx.Decorate(func(ports.Notifier) ports.Notifier { return f.queue }),
		fx.Populate(&f.store, &f.push, &f.posts, &f.comments, &f.devices),
	}, extra...)
	f.app = startApp(t, cfg, handler, opts...)
	ctx := context.Background()
	for _, u := range []string{"ann", "bob"} {
		now := f.clock.Now()
		if _, err := f.store.CreateProfile(ctx, domain.Profile{ID: u, Email: u + "@example.com", DisplayName: strings.ToUpper(u[:1]) + u[1:], CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		d, _, err := f.devices.Register(ctx, domain.Principal{UserID: u}, domain.Device{ID: "phone", Platform: domain.PlatformFCM, Token: "fcm-token-" + u})
		if err != nil {
			t.Fatal(err)
		}
		f.phones[u] = d
		p, err := f.posts.Create(ctx, domain.Principal{UserID: u}, "a post by "+u, nil)
		if err != nil {
			t.Fatal(err)
		}
		f.postOf[u] = p
	}
	return f
}

// comment has actor comment on owner's post and returns the queue message
// body the API would have sent.
func (f *pushFixture) comment(t *testing.T, actor, owner, body string) string {
	t.Helper()
	if _, err := f.comments.Create(context.Background(), domain.Principal{UserID: actor}, f.postOf[owner].ID, body); err != nil {
		t.Fatal(err)
	}
	bodies := f.queue.take()
	if len(bodies) != 1 {
		t.Fatalf("%d notifications announced, want 1", len(bodies))
	}
	return bodies[0]
}

// sqsRecord is one message as Lambda's SQS poller delivers it.
func sqsRecord(id, body string) events.SQSMessage {
	return events.SQSMessage{
		MessageId: id, ReceiptHandle: "rh-" + id, Body: body, EventSource: "aws:sqs", AWSRegion: "eu-west-1",
		EventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:cloudpost-push",
		Attributes:     map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1767322800000"},
	}
}

// invokePush sends an SQS event of records to the handler and returns the
// ids it reports as failures.
func invokePush(t *testing.T, app *functions.App, requestID string, records ...events.SQSMessage) []string {
	t.Helper()
	payload, err := json.Marshal(events.SQSEvent{Records: records})
	if err != nil {
		t.Fatal(err)
	}
	return invokePushRaw(t, app, requestID, payload)
}

func invokePushRaw(t *testing.T, app *functions.App, requestID string, payload []byte) []string {
	t.Helper()
	out, err := app.Handler.Invoke(lambdaCtx(requestID), payload)
	if err != nil {
		t.Fatalf("the push handler must answer with batch item failures, not an error: %v", err)
	}
	// The response shape Lambda reads with ReportBatchItemFailures.
	var resp struct {
		BatchItemFailures []map[string]any `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.BatchItemFailures == nil {
		t.Fatalf("response %s (%v), want {\"batchItemFailures\": [...]}", out, err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		if len(f) != 1 || f["itemIdentifier"] == nil {
			t.Errorf("batch item failure %v, want only itemIdentifier", f)
		}
		ids = append(ids, fmt.Sprint(f["itemIdentifier"]))
	}
	slices.Sort(ids)
	return ids
}

func (f *pushFixture) state(t *testing.T, body string) (domain.DeliveryState, time.Time) {
	t.Helper()
	m, err := sqsnotify.ParseMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	s, _, next, err := f.store.DeliveryState(context.Background(), m.UserID, m.NotificationID)
	if err != nil {
		t.Fatal(err)
	}
	return s, next
}

func TestPushHandlerDeliversACommentsNotification(t *testing.T) {
	t.Parallel()
	f := newPushFixture(t, functions.HandlerPush)
	body := f.comment(t, "bob", "ann", "Lovely photo!")
	msg, _ := sqsnotify.ParseMessage(body)
	if failed := invokePush(t, f.app, "aws-push-1", sqsRecord("m1", body)); len(failed) != 0 {
		t.Fatalf("failures %q", failed)
	}
	got := f.push.Sent(f.phones["ann"])
	if len(got) != 1 || got[0].CollapseID != msg.NotificationID || got[0].Title != "Bob commented on your post" || got[0].Body != "Lovely photo!" {
		t.Fatalf("pushes to ann's phone: %+v", got)
	}
	if s, _ := f.state(t, body); s != domain.DeliverySent {
		t.Errorf("state %s, want sent", s)
	}
	// SQS delivers at least once: the duplicate settles without a push.
	if failed := invokePush(t, f.app, "aws-push-2", sqsRecord("m1", body)); len(failed) != 0 {
		t.Fatalf("duplicate: failures %q", failed)
	}
	if n := len(f.push.Sent(f.phones["ann"])); n != 1 {
		t.Errorf("%d pushes after the duplicate, want 1", n)
	}
	if len(f.push.Sent(f.phones["bob"])) != 0 {
		t.Error("the commenter was pushed")
	}
	var relayLine map[string]any
	for _, l := range f.logs.Lines(t) {
		if l["message"] == "push relay" && l["awsRequestId"] == "aws-push-1" {
			relayLine = l
		}
	}
	if relayLine == nil || fmt.Sprint(relayLine["sent"]) != "1" || fmt.Sprint(relayLine["messages"]) != "1" {
		t.Errorf("push relay log line %v", relayLine)
	}
}

// TestPushHandlerPartialBatchFailure: of one batch, the message whose push
// failed and whose retry came due while the run lasted is reported (SQS
// delivers it again); the delivered one, one for a notification that is
// gone, one whose retry is later and a malformed one are not.
func TestPushHandlerPartialBatchFailure(t *testing.T) {
	t.Parallel()
	clock := newFrozenClock()
	f := newPushFixtureAt(t, clock, functions.HandlerPush, fx.Decorate(func(ch fxmodules.PushChannels) fxmodules.PushChannels {
		out := fxmodules.PushChannels{}
		once := &sync.Once{}
		for p, c := range ch {
			out[p] = slowChannel{Push: &failFirstTo{Push: c, user: "ann", once: once}, clock: clock}
		}
		return out
	}), fx.Decorate(func(_ *delivery.Relay, store ports.Storage, ch fxmodules.PushChannels, clock ports.Clock) *delivery.Relay {
		// One push at a time, oldest first: ann's retry comes due while
		// bob's (slow) push goes out.
		return delivery.New(store, ch, clock, nil, delivery.Config{Concurrency: 1})
	}))
	toAnn := f.comment(t, "bob", "ann", "first")
	f.clock.advance(time.Second)
	toBob := f.comment(t, "ann", "bob", "second")
	gone := sqsnotify.Encode(domain.Notification{ID: "01900000-0000-7000-8000-00000000dead", UserID: "ann"})
	// The first push, ann's (claimed first, it is older), fails.
	failed := invokePush(t, f.app, "aws-push-batch",
		sqsRecord("m-ann", toAnn), sqsRecord("m-bob", toBob), sqsRecord("m-gone", gone), sqsRecord("m-bad", "Message Body"))
	if !slices.Equal(failed, []string{"m-ann"}) {
		t.Fatalf("batch item failures %q, want only m-ann", failed)
	}
	if s, _ := f.state(t, toBob); s != domain.DeliverySent || len(f.push.Sent(f.phones["bob"])) != 1 {
		t.Errorf("bob's notification: %s, %d pushes", s, len(f.push.Sent(f.phones["bob"])))
	}
	if s, next := f.state(t, toAnn); s != domain.DeliveryPending || next.After(f.clock.Now()) {
		t.Errorf("ann's notification: %s due %s (now %s), want pending and due", s, next, f.clock.Now())
	}
	// SQS delivers m-ann again after its visibility timeout: delivered.
	f.clock.advance(3 * time.Minute)
	if failed := invokePush(t, f.app, "aws-push-again", sqsRecord("m-ann", toAnn)); len(failed) != 0 {
		t.Fatalf("redelivery: failures %q", failed)
	}
	if s, _ := f.state(t, toAnn); s != domain.DeliverySent || len(f.push.Sent(f.phones["ann"])) != 1 {
		t.Errorf("ann's notification after the redelivery: %s", s)
	}
	var dropped, gonelog bool
	for _, l := range f.logs.Lines(t) {
		dropped = dropped || l["message"] == "push message dropped: not a push queue message" && l["messageId"] == "m-bad" && l["level"] == "WARN"
		gonelog = gonelog || l["message"] == "push message settled: the notification is gone" && l["messageId"] == "m-gone"
	}
	if !dropped || !gonelog {
		t.Errorf("log lines for the malformed (%v) and gone (%v) messages missing", dropped, gonelog)
	}
}

// TestPushHandlerLeavesScheduledRetriesToTheRelay: a push that failed is
// retried on the relay's schedule (5 s on), not by SQS: the message
// succeeds and the sweep (or a later message) delivers it.
func TestPushHandlerLeavesScheduledRetriesToTheRelay(t *testing.T) {
	t.Parallel()
	f := newPushFixture(t, functions.HandlerPush)
	body := f.comment(t, "bob", "ann", "hello")
	f.push.FailNext(1)
	if failed := invokePush(t, f.app, "r1", sqsRecord("m1", body)); len(failed) != 0 {
		t.Fatalf("failures %q, want none: the relay owns the retry", failed)
	}
	s, next := f.state(t, body)
	if s != domain.DeliveryPending || !next.After(f.clock.Now()) {
		t.Fatalf("state %s next %s, want pending later", s, next)
	}
	// The retry is announced again for when it is due.
	f.queue.mu.Lock()
	delayed := f.queue.delayed
	f.queue.mu.Unlock()
	if len(delayed) != 1 || delayed[0].body != body || delayed[0].delay != next.Sub(f.clock.Now()) {
		t.Fatalf("delayed messages %+v, want %q after %s", delayed, body, next.Sub(f.clock.Now()))
	}
	f.clock.advance(time.Minute)
	// The next run (here, the next message's) delivers it.
	if failed := invokePush(t, f.app, "r2", sqsRecord("m2", f.comment(t, "ann", "bob", "hi"))); len(failed) != 0 {
		t.Fatalf("failures %q", failed)
	}
	if s, _ := f.state(t, body); s != domain.DeliverySent {
		t.Errorf("state %s after the retry, want sent", s)
	}
}

// failFirstTo fails the first push to user's devices.
type failFirstTo struct {
	ports.Push
	user string
	once *sync.Once
}

func (f *failFirstTo) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	failed := false
	if d.UserID == f.user {
		f.once.Do(func() { failed = true })
	}
	if failed {
		return domain.Errorf(domain.Unavailable, "push service down")
	}
	return f.Push.Send(ctx, d, m)
}

// failingClaims makes the store's ClaimDeliveries fail.
type failingClaims struct {
	ports.Storage
	err error
}

func (s failingClaims) ClaimDeliveries(context.Context, time.Time, time.Duration, int) ([]domain.Delivery, error) {
	return nil, s.err
}

func TestPushHandlerFailsEveryMessageWhenStorageFails(t *testing.T) {
	t.Parallel()
	down := domain.Errorf(domain.Unavailable, "database unavailable")
	f := newPushFixture(t, functions.HandlerPush, fx.Decorate(func(s ports.Storage) ports.Storage { return failingClaims{s, down} }))
	a := f.comment(t, "bob", "ann", "one")
	b := f.comment(t, "ann", "bob", "two")
	failed := invokePush(t, f.app, "r", sqsRecord("m1", a), sqsRecord("m2", b), sqsRecord("m3", "{}"))
	if !slices.Equal(failed, []string{"m1", "m2"}) {
		t.Errorf("failures %q, want every well-formed message (m1, m2); a malformed one cannot be fixed by a retry", failed)
	}
	if f.push.Total() != 0 {
		t.Error("pushed although the claim failed")
	}
}

// blockingClaims makes ClaimDeliveries wait for its context's end, as a
// relay run that lasts too long would.
type blockingClaims struct{ ports.Storage }

func (s blockingClaims) ClaimDeliveries(ctx context.Context, _ time.Time, _ time.Duration, _ int) ([]domain.Delivery, error) {
	<-ctx.Done()
	return nil, domain.Wrap(ctx.Err(), domain.Unavailable, "storage timed out")
}

// TestPushHandlerStopsTheRunBeforeTheDeadline: a run that lasts until the
// invocation's deadline nears is cut short, and the messages are still
// settled one by one: the due notification's fails, the gone one's not.
func TestPushHandlerStopsTheRunBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	f := newPushFixture(t, functions.HandlerPush, fx.Decorate(func(s ports.Storage) ports.Storage { return blockingClaims{s} }))
	due := f.comment(t, "bob", "ann", "slow")
	gone := sqsnotify.Encode(domain.Notification{ID: "01900000-0000-7000-8000-00000000dead", UserID: "ann"})
	payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{sqsRecord("m-due", due), sqsRecord("m-gone", gone)}})
	ctx, cancel := context.WithTimeout(lambdaCtx("deadline"), 3500*time.Millisecond) // the reserve is 3 s
	defer cancel()
	out, err := f.app.Handler.Invoke(ctx, payload)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("invoke: %v (context: %v)", err, ctx.Err())
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m-due" {
		t.Errorf("response %s, want only m-due failed", out)
	}
}

// TestPushHandlerAWSSampleEvent feeds AWS's sample SQS event
// (testdata/sqs-event.json): its body is no push queue message, so it is
// dropped with a warning; with a push queue body put in, it is delivered.
func TestPushHandlerAWSSampleEvent(t *testing.T) {
	t.Parallel()
	f := newPushFixture(t, functions.HandlerPush)
	sample := readTestdata(t, "sqs-event.json")
	body := f.comment(t, "bob", "ann", "from the sample")
	quoted, _ := json.Marshal(body)
	withBody := strings.Replace(string(sample), `"body" : "Message Body"`, `"body" : `+string(quoted), 1)
	if withBody == string(sample) {
		t.Fatal("the sample's body was not found")
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		pushes  int
	}{
		{"sample as sent", sample, 0},
		{"with a push queue body", []byte(withBody), 1},
		{"not an SQS event", []byte(`{"Records": "nope"}`), 1},
		{"no records", []byte(`{}`), 1},
	} {
		if failed := invokePushRaw(t, f.app, tc.name, tc.payload); len(failed) != 0 {
			t.Errorf("%s: failures %q", tc.name, failed)
		}
		if n := len(f.push.Sent(f.phones["ann"])); n != tc.pushes {
			t.Errorf("%s: %d pushes, want %d", tc.name, n, tc.pushes)
		}
	}
	var warned bool
	for _, l := range f.logs.Lines(t) {
		warned = warned || l["awsRequestId"] == "sample as sent" && l["messageId"] == "MessageID_1" && l["message"] == "push message dropped: not a push queue message"
	}
	if !warned {
		t.Error("the sample's body was not logged as dropped")
	}
}

// TestJanitorDeliversAndPrunesPushState: the janitor's run delivers what
// no queue message announced, prunes devices not seen for
// domain.DeviceRetention (released at their push service) and one-time
// tokens expired more than an hour ago.
func TestJanitorDeliversAndPrunesPushState(t *testing.T) {
	t.Parallel()
	f := newPushFixture(t, functions.HandlerJanitor)
	ctx := context.Background()
	f.comment(t, "bob", "ann", "swept")
	if out, err := f.app.Handler.Invoke(lambdaCtx("j1"), []byte(`{"source":"aws.events"}`)); err != nil || string(out) != "null" {
		t.Fatalf("janitor: %s %v", out, err)
	}
	if got := f.push.Sent(f.phones["ann"]); len(got) != 1 || got[0].Body != "swept" {
		t.Fatalf("pushes after the sweep: %+v", got)
	}

	// Bob's phone registers again later; ann's is never seen again.
	f.clock.advance(domain.DeviceRetention - time.Hour)
	if _, _, err := f.devices.Register(ctx, domain.Principal{UserID: "bob"}, domain.Device{ID: "phone", Platform: domain.PlatformFCM, Token: "fcm-token-bob"}); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(2 * time.Hour)
	now := f.clock.Now()
	tokens := map[string]time.Time{"old": now.Add(-2 * time.Hour), "recent": now.Add(-30 * time.Minute), "live": now.Add(time.Minute)}
	for hash, exp := range tokens {
		if err := f.store.PutOneTimeToken(ctx, domain.OneTimeToken{Hash: hash, Purpose: "stream", UserID: "ann", AuthTime: now.Add(-3 * time.Hour), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := f.app.Handler.Invoke(lambdaCtx("j2"), nil); err != nil || string(out) != "null" {
		t.Fatalf("janitor: %s %v", out, err)
	}
	for user, want := range map[string]int{"ann": 0, "bob": 1} {
		if d, err := f.store.ListDevices(ctx, user); err != nil || len(d) != want {
			t.Errorf("%s's devices after the prune: %v %v, want %d", user, d, err, want)
		}
	}
	for hash, exp := range tokens {
		// Taken at a time it is valid: found unless pruned.
		_, err := f.store.TakeOneTimeToken(ctx, hash, "stream", exp.Add(-time.Second))
		if pruned := domain.IsCode(err, domain.NotFound); pruned != (hash == "old") {
			t.Errorf("token %s (expired %s before the run): pruned %v (%v)", hash, now.Sub(exp), pruned, err)
		}
	}
	var lines []string
	for _, l := range f.logs.Lines(t) {
		if l["awsRequestId"] == "j2" && (l["message"] == "devices pruned" || l["message"] == "one-time tokens pruned") {
			lines = append(lines, fmt.Sprintf("%v %v", l["message"], l["deleted"]))
		}
	}
	slices.Sort(lines)
	if want := []string{"devices pruned 1", "one-time tokens pruned 1"}; !slices.Equal(lines, want) {
		t.Errorf("janitor log lines %q, want %q", lines, want)
	}
}

// failingTokens makes the store's PruneOneTimeTokens fail.
type failingTokens struct {
	ports.Storage
	err error
}

func (s failingTokens) PruneOneTimeTokens(context.Context, time.Time) (int, error) { return 0, s.err }

func TestJanitorFailsWhenThePushStateCannotBePruned(t *testing.T) {
	t.Parallel()
	down := domain.Errorf(domain.Unavailable, "database unavailable")
	for name, wrap := range map[string]func(ports.Storage) ports.Storage{
		"claims": func(s ports.Storage) ports.Storage { return failingClaims{s, down} },
		"tokens": func(s ports.Storage) ports.Storage { return failingTokens{s, down} },
	} {
		cfg, logs := testConfig(t), &testlog.Buffer{}
		app := startApp(t, cfg, functions.HandlerJanitor, withLogs(cfg, logs), fx.Decorate(wrap))
		if _, err := app.Handler.Invoke(lambdaCtx("j"), nil); domain.ErrorCode(err) != domain.Unavailable {
			t.Errorf("%s: a failed step must fail the invocation (so it is retried): %v", name, err)
		}
		// The other steps ran all the same.
		var ran int
		for _, l := range logs.Lines(t) {
			if l["message"] == "sync feed pruned" || l["message"] == "rate limit counters pruned" || l["message"] == "devices pruned" {
				ran++
			}
		}
		if ran != 3 {
			t.Errorf("%s: %d of the other prunes logged success, want 3", name, ran)
		}
	}
}

// TestQueueToPushEndToEnd runs the AWS mode with moto playing SQS: with
// CLOUDPOST_PUSH_QUEUE_URL set, a comment is announced on the queue
// (adapters/sqsnotify through fxmodules), and the message, as Lambda's
// poller would hand it over, makes the push handler deliver it.
func TestQueueToPushEndToEnd(t *testing.T) {
	srv := mototest.ForTest(t)
	client := sqs.NewFromConfig(mototest.AWSConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.Endpoint) })
	q, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("cloudpost-push")})
	if err != nil {
		t.Fatal(err)
	}
	// The function's credentials come from its environment (the default
	// chain), as on Lambda.
	mototest.SetEnv(t, mototest.Region)
	cfg := testConfig(t, "CLOUDPOST_PUSH_QUEUE_URL="+*q.QueueUrl)
	var (
		store      ports.Storage
		push       *mempush.Push
		postSvc    *posts.Service
		commentSvc *comments.Service
		devSvc     *devices.Service
		notifier   ports.Notifier
	)
	app := startApp(t, cfg, functions.HandlerPush, fx.Populate(&store, &push, &postSvc, &commentSvc, &devSvc, &notifier))
	if _, ok := notifier.(*sqsnotify.Notifier); !ok {
		t.Fatalf("notifier %T, want *sqsnotify.Notifier", notifier)
	}
	ctx := context.Background()
	for _, u := range []string{"ann", "bob"} {
		if _, err := store.CreateProfile(ctx, domain.Profile{ID: u, Email: u + "@example.com", DisplayName: u, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	phone, _, err := devSvc.Register(ctx, domain.Principal{UserID: "ann"}, domain.Device{ID: "phone", Platform: domain.PlatformFCM, Token: "fcm-token-ann"})
	if err != nil {
		t.Fatal(err)
	}
	post, err := postSvc.Create(ctx, domain.Principal{UserID: "ann"}, "hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := commentSvc.Create(ctx, domain.Principal{UserID: "bob"}, post.ID, "over the queue")
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("messages on the queue: %d %v, want 1", len(out.Messages), err)
	}
	m := out.Messages[0]
	msg, err := sqsnotify.ParseMessage(*m.Body)
	if err != nil || msg.UserID != "ann" {
		t.Fatalf("message %q: %+v %v", *m.Body, msg, err)
	}
	rec := sqsRecord(*m.MessageId, *m.Body)
	rec.ReceiptHandle = *m.ReceiptHandle
	if failed := invokePush(t, app, "e2e", rec); len(failed) != 0 {
		t.Fatalf("failures %q", failed)
	}
	got := push.Sent(phone)
	if len(got) != 1 || got[0].CollapseID != msg.NotificationID || got[0].Body != c.Body {
		t.Errorf("pushes to ann's phone: %+v", got)
	}
}
