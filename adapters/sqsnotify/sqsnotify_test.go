package sqsnotify_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cloudpost/cloudpost/adapters/snspush/mototest"
	"github.com/cloudpost/cloudpost/adapters/sqsnotify"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/testlog"
)

// The moto server the package's tests share (moto_server plays Amazon
// SQS): one process per test run on a free port.
var moto struct {
	srv    *mototest.Server
	client *sqs.Client // a plain client, for what tests do behind the adapter's back
	skip   string      // why integration tests skip, when they do
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	return mototest.RunMain(m, "sqsnotify", func(srv *mototest.Server) error {
		moto.srv = srv
		moto.client = sqs.NewFromConfig(mototest.AWSConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.Endpoint) })
		return nil
	}, func(reason string) { moto.skip = reason })
}

func requireMoto(t testing.TB) {
	t.Helper()
	if moto.skip != "" {
		t.Skip(moto.skip)
	}
}

// newQueue creates a queue of its own for the test (a FIFO one when name
// ends in .fifo) and returns its URL, as moto gives it (on moto's host).
func newQueue(t *testing.T, name string) string {
	t.Helper()
	requireMoto(t)
	in := &sqs.CreateQueueInput{QueueName: aws.String(strings.ReplaceAll(t.Name(), "/", "-") + "-" + name)}
	if strings.HasSuffix(name, ".fifo") {
		in.Attributes = map[string]string{"FifoQueue": "true"}
	}
	out, err := moto.client.CreateQueue(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.QueueUrl
}

// receive reads want messages from the queue (or fails after a while).
func receive(t *testing.T, queueURL string, want int) []types.Message {
	t.Helper()
	var got []types.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := moto.client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	if len(got) != want {
		t.Fatalf("%d messages on the queue, want %d", len(got), want)
	}
	return got
}

// countingTransport counts the requests an SQS client makes.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func note(id, user string) domain.Notification {
	return domain.Notification{ID: id, UserID: user, Type: domain.NotificationComment, ActorID: "bob", PostID: "p1", CommentID: "c1", CreatedAt: time.Now()}
}

func TestDispatchSendsOneMessagePerNotification(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "push")
	tr := &countingTransport{}
	// Only the queue URL: the endpoint is moto's host in it.
	n, err := sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: q}, mototest.AWSConfig(), nil, func(o *sqs.Options) {
		o.HTTPClient = &http.Client{Transport: tr}
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr.n.Load() != 0 {
		t.Fatal("the constructor sent a request")
	}
	for _, id := range []string{"n1", "n2"} {
		if err := n.Dispatch(t.Context(), note(id, "ann")); err != nil {
			t.Fatalf("Dispatch %s: %v", id, err)
		}
	}
	if tr.n.Load() != 2 {
		t.Errorf("%d requests through the client's HTTP client, want 2 (one SendMessage each)", tr.n.Load())
	}
	got := map[string]bool{}
	for _, m := range receive(t, q, 2) {
		var body map[string]any
		if err := json.Unmarshal([]byte(*m.Body), &body); err != nil {
			t.Fatalf("body %q: %v", *m.Body, err)
		}
		if len(body) != 2 || body["userId"] != "ann" {
			t.Errorf("body %q, want exactly notificationId and userId", *m.Body)
		}
		parsed, err := sqsnotify.ParseMessage(*m.Body)
		if err != nil {
			t.Fatal(err)
		}
		got[parsed.NotificationID] = true
	}
	if !got["n1"] || !got["n2"] {
		t.Errorf("notifications announced: %v", got)
	}
}

func TestDispatchOutlivesTheCallersCancellation(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "push")
	n, err := sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: q}, mototest.AWSConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the API client hung up after the comment was committed
	if err := n.Dispatch(ctx, note("n1", "ann")); err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	receive(t, q, 1)
}

func TestDispatchToAFIFOQueue(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "push.fifo")
	n, err := sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: q}, mototest.AWSConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The notification id deduplicates: the same hint twice is one message.
	for _, id := range []string{"n1", "n1", "n2"} {
		if err := n.Dispatch(t.Context(), note(id, "ann")); err != nil {
			t.Fatalf("Dispatch %s: %v", id, err)
		}
	}
	msgs := receive(t, q, 2)
	for _, m := range msgs {
		if g := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]; g != "ann" {
			t.Errorf("message group %q, want the user id", g)
		}
	}
}

func TestDispatchErrorsAreUnavailable(t *testing.T) {
	t.Parallel()
	requireMoto(t)
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	// A queue that does not exist: the deployment's fault, logged as such.
	n, err := sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: moto.srv.Endpoint + "/" + mototest.Account + "/no-such-queue"}, mototest.AWSConfig(), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Dispatch(t.Context(), note("n1", "ann")); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("unknown queue: %v, want Unavailable", err)
	}
	if !strings.Contains(logs.String(), "SQS refused the deployment's request") {
		t.Errorf("no error log line for a refused request: %s", logs)
	}
	// Nothing listens: Unavailable within the timeout.
	n, err = sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: "http://127.0.0.1:1/123456789012/push", Timeout: 300 * time.Millisecond}, mototest.AWSConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.Dispatch(t.Context(), note("n1", "ann")); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("unreachable queue: %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Dispatch took %s with a 300ms timeout", d)
	}
}

// isolateAWSEnv gives the test an AWS environment of its own: moto's
// credentials in the environment, no shared files, no region.
func isolateAWSEnv(t *testing.T) { mototest.SetEnv(t, "") }

// TestNewLoadsTheAWSConfigurationOnFirstUse: New reads nothing (an
// unreadable AWS_CA_BUNDLE does not stop it); the first Dispatch loads
// the default chain, and with a good environment sends through it.
func TestNewLoadsTheAWSConfigurationOnFirstUse(t *testing.T) {
	requireMoto(t)
	q := newQueue(t, "push")
	isolateAWSEnv(t)
	t.Setenv("AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem"))
	n, err := sqsnotify.New(sqsnotify.Config{QueueURL: q}, nil)
	if err != nil {
		t.Fatalf("New must not load the AWS configuration: %v", err)
	}
	if err := n.Dispatch(t.Context(), note("n1", "ann")); domain.ErrorCode(err) != domain.Unavailable || !strings.Contains(err.Error(), "AWS configuration") {
		t.Errorf("Dispatch with an unreadable AWS_CA_BUNDLE: %v, want Unavailable naming the AWS configuration", err)
	}

	t.Setenv("AWS_CA_BUNDLE", "")
	n, err = sqsnotify.New(sqsnotify.Config{QueueURL: q}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Dispatch(t.Context(), note("n2", "ann")); err != nil {
		t.Fatalf("Dispatch through the default chain: %v", err)
	}
	if m := receive(t, q, 1); !strings.Contains(*m[0].Body, `"n2"`) {
		t.Errorf("message %q", *m[0].Body)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []sqsnotify.Config{
		{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/cloudpost-push"},
		{QueueURL: "http://127.0.0.1:5000/123456789012/push", Endpoint: "http://127.0.0.1:5000/"},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, tc := range []struct {
		cfg  sqsnotify.Config
		want string
	}{
		{sqsnotify.Config{}, "CLOUDPOST_PUSH_QUEUE_URL"},
		{sqsnotify.Config{QueueURL: "cloudpost-push"}, "CLOUDPOST_PUSH_QUEUE_URL"},
		{sqsnotify.Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/"}, "CLOUDPOST_PUSH_QUEUE_URL"},
		{sqsnotify.Config{QueueURL: "ftp://host/1/q"}, "CLOUDPOST_PUSH_QUEUE_URL"},
		{sqsnotify.Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", Endpoint: "localhost:5000"}, "endpoint"},
		{sqsnotify.Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", Timeout: -time.Second}, "timeout"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
		if _, err := sqsnotify.New(tc.cfg, nil); err == nil {
			t.Errorf("New accepted %+v", tc.cfg)
		}
	}
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	body := sqsnotify.Encode(note("01900000-0000-7000-8000-000000000001", "user-1"))
	if body != `{"notificationId":"01900000-0000-7000-8000-000000000001","userId":"user-1"}` {
		t.Errorf("Encode: %s", body)
	}
	m, err := sqsnotify.ParseMessage(body)
	if err != nil || m.NotificationID != "01900000-0000-7000-8000-000000000001" || m.UserID != "user-1" {
		t.Errorf("round trip: %+v %v", m, err)
	}
	if m, err := sqsnotify.ParseMessage(`{"notificationId":"n","userId":"u","v":2}`); err != nil || m.UserID != "u" {
		t.Errorf("unknown fields must be ignored: %+v %v", m, err)
	}
	for _, bad := range []string{"", "Message Body", `[]`, `{}`, `{"notificationId":"n"}`, `{"userId":"u"}`, `{"notificationId":1,"userId":"u"}`,
		`{"notificationId":"` + strings.Repeat("x", 200) + `","userId":"u"}`} {
		if _, err := sqsnotify.ParseMessage(bad); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%q: %v, want Invalid", bad, err)
		}
	}
}

func TestDispatchAfterDelaysTheMessage(t *testing.T) {
	t.Parallel()
	q := newQueue(t, "push")
	n, err := sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: q}, mototest.AWSConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if err := n.DispatchAfter(t.Context(), note("n1", "ann"), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// SQS delays whole seconds, rounded up: 2 s, never earlier than asked.
	msgs := receive(t, q, 1)
	if waited := time.Since(sent); waited < 1500*time.Millisecond {
		t.Errorf("the message came after %s, before its delay", waited)
	}
	if m, err := sqsnotify.ParseMessage(*msgs[0].Body); err != nil || m.NotificationID != "n1" {
		t.Errorf("message %q: %v", *msgs[0].Body, err)
	}
	for _, d := range []time.Duration{-time.Second, sqsnotify.MaxDelay + time.Second} {
		if err := n.DispatchAfter(t.Context(), note("n2", "ann"), d); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("delay %s: %v, want Invalid", d, err)
		}
	}
	fifo := newQueue(t, "push.fifo")
	nf, err := sqsnotify.NewWithAWS(sqsnotify.Config{QueueURL: fifo}, mototest.AWSConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := nf.DispatchAfter(t.Context(), note("n3", "ann"), time.Second); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("a delay on a FIFO queue: %v, want Invalid", err)
	}
}
