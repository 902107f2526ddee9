// Package sqsnotify is the ports.Notifier of the Lambda app: it announces
// each committed notification as one Amazon SQS message on the push queue,
// whose consumer (the `push` Lambda handler) runs the delivery relay at
// once instead of waiting for the janitor's sweep.
//
// The message body is the JSON object {"notificationId": ..., "userId":
// ...} (Message). It is a hint, never the truth: the notification row is
// the outbox, so a message that is lost, duplicated or late only changes
// when the relay runs, not what it delivers. On a FIFO queue (a URL ending
// in .fifo) the user id is the message group and the notification id the
// deduplication id.
//
// Building a Notifier with New costs no I/O and no AWS configuration load:
// the configuration (credentials chain, AWS_CA_BUNDLE) is loaded on the
// first Dispatch, so a Lambda cold start stays cheap. Errors are domain
// Unavailable; callers log them and go on.
//
// IAM: sqs:SendMessage on the queue (and kms:GenerateDataKey and
// kms:Decrypt on its key when it is encrypted with a customer managed KMS
// key).
package sqsnotify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Message is the body of a push queue message.
type Message struct {
	NotificationID string `json:"notificationId"`
	UserID         string `json:"userId"`
}

// maxID bounds the ids a message may carry (ids are UUIDs; Cognito subs
// are UUIDs too).
const maxID = 128

// ParseMessage reads a push queue message body. Unknown fields are
// ignored. Returns Invalid for a body that is not such an object or lacks
// either id.
func ParseMessage(body string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Message{}, domain.Wrap(err, domain.Invalid, "the message is not a push queue message")
	}
	if m.NotificationID == "" || m.UserID == "" || len(m.NotificationID) > maxID || len(m.UserID) > maxID {
		return Message{}, domain.Errorf(domain.Invalid, "a push queue message needs notificationId and userId (1 to %d characters)", maxID)
	}
	return m, nil
}

// Encode returns the message body announcing n.
func Encode(n domain.Notification) string {
	b, _ := json.Marshal(Message{NotificationID: n.ID, UserID: n.UserID})
	return string(b)
}

// Notifier sends one SQS message per notification. It is safe for
// concurrent use.
type Notifier struct {
	queueURL string
	fifo     bool
	timeout  time.Duration
	log      *slog.Logger

	once   sync.Once
	build  func() (*sqs.Client, error)
	client *sqs.Client
	err    error
}

var _ ports.Notifier = (*Notifier)(nil)

// New returns a Notifier for cfg with credentials from the AWS default
// chain. It validates cfg and nothing else: the AWS configuration is
// loaded, and the client built, by the first Dispatch. log may be nil
// (slog.Default). Returns an error naming the variable when cfg is
// invalid.
func New(cfg Config, log *slog.Logger) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := newNotifier(cfg, log)
	n.build = func() (*sqs.Client, error) {
		var opts []func(*awsconfig.LoadOptions) error
		if _, region := cfg.endpoint(); cfg.Region != "" || region != "" {
			opts = append(opts, awsconfig.WithRegion(cmp.Or(cfg.Region, region)))
		}
		awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
		if err != nil {
			return nil, fmt.Errorf("sqsnotify: loading the AWS configuration: %w", err)
		}
		return newClient(cfg, awsCfg), nil
	}
	return n, nil
}

// NewWithAWS returns a Notifier for cfg that uses awsCfg (credentials,
// retryer, HTTP client); optFns adjust the SQS client's options after
// cfg's region and endpoint are applied (set an HTTP client there, as
// o.HTTPClient: config.WithHTTPClient does not combine with
// AWS_CA_BUNDLE). It builds the client at once and does no I/O. log may
// be nil (slog.Default). Returns an error naming the variable when cfg is
// invalid.
func NewWithAWS(cfg Config, awsCfg aws.Config, log *slog.Logger, optFns ...func(*sqs.Options)) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := newNotifier(cfg, log)
	client := newClient(cfg, awsCfg, optFns...)
	n.build = func() (*sqs.Client, error) { return client, nil }
	return n, nil
}

func newNotifier(cfg Config, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{
		queueURL: cfg.QueueURL,
		fifo:     strings.HasSuffix(strings.TrimSuffix(cfg.QueueURL, "/"), ".fifo"),
		timeout:  cfg.timeout(),
		log:      log,
	}
}

// newClient builds the SQS client: the region is cfg's, else the queue
// URL's, else awsCfg's, else us-east-1 (an emulator's queue URL names
// none, and requests must be signed for some region); the endpoint is
// cfg's, else an emulator's queue URL's, else Amazon SQS's.
func newClient(cfg Config, awsCfg aws.Config, optFns ...func(*sqs.Options)) *sqs.Client {
	base, urlRegion := cfg.endpoint()
	return sqs.NewFromConfig(awsCfg, append([]func(*sqs.Options){func(o *sqs.Options) {
		o.Region = cmp.Or(cfg.Region, urlRegion, o.Region, "us-east-1")
		if base != "" {
			o.BaseEndpoint = aws.String(base)
		}
	}}, optFns...)...)
}

// get returns the client, building it on first use. A failed build (an
// unreadable AWS configuration) is not retried: a new execution
// environment must fix it.
func (n *Notifier) get() (*sqs.Client, error) {
	n.once.Do(func() { n.client, n.err = n.build() })
	return n.client, n.err
}

// Dispatch sends the message announcing note. The send outlives the
// caller's cancellation (the notification is committed: a client that
// hangs up must not lose the hint) but not the Notifier's timeout.
// Returns Unavailable when the queue could not take it.
func (n *Notifier) Dispatch(ctx context.Context, note domain.Notification) error {
	return n.send(ctx, note, 0)
}

// MaxDelay is the longest delay SQS gives one message.
const MaxDelay = 15 * time.Minute

// DispatchAfter announces note again, to be received after delay (at most
// MaxDelay): how the push function has a retry or a coalesced push run
// when it is due instead of at the janitor's next sweep. Returns Invalid
// for a delay outside 0..MaxDelay or on a FIFO queue (which has no
// per-message delay), Unavailable as Dispatch.
func (n *Notifier) DispatchAfter(ctx context.Context, note domain.Notification, delay time.Duration) error {
	if delay < 0 || delay > MaxDelay {
		return domain.Errorf(domain.Invalid, "an SQS delay is 0 to %s, not %s", MaxDelay, delay)
	}
	if n.fifo && delay > 0 {
		return domain.Errorf(domain.Invalid, "a FIFO queue has no per-message delay")
	}
	return n.send(ctx, note, delay)
}

func (n *Notifier) send(ctx context.Context, note domain.Notification, delay time.Duration) error {
	client, err := n.get()
	if err != nil {
		n.log.ErrorContext(ctx, "sqsnotify: no SQS client", "err", err)
		return domain.Wrap(err, domain.Unavailable, "the push queue is not available")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.timeout)
	defer cancel()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL), MessageBody: aws.String(Encode(note))}
	if delay > 0 {
		in.DelaySeconds = int32((delay + time.Second - 1) / time.Second) // whole seconds, not early
	}
	if n.fifo {
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(note.UserID), aws.String(note.ID)
	}
	if _, err := client.SendMessage(sctx, in); err != nil {
		if operatorFault(err) {
			// Retrying cannot help: the deployment is wrong (queue,
			// policy, credentials). Say so loudly; the sweep still delivers.
			n.log.ErrorContext(ctx, "sqsnotify: SQS refused the deployment's request (queue URL, policy or credentials)", "queueUrl", n.queueURL, "notificationId", note.ID, "err", err)
		}
		return domain.Wrap(err, domain.Unavailable, "the push queue is not available")
	}
	return nil
}

// operatorFault reports whether SQS refused the request for a reason of
// the deployment's: a 4xx answer that is not throttling.
func operatorFault(err error) bool {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	status := re.HTTPStatusCode()
	if status < 400 || status >= 500 || status == http.StatusTooManyRequests {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.ErrorCode()), "throttl") {
		return false
	}
	return true
}
