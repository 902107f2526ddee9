package fxmodules

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/sqsnotify"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// NewEndpoint returns the Endpoint of an app that does not listen (the
// Lambda app): its BaseURL is CLOUDPOST_PUBLIC_URL, else
// http://<CLOUDPOST_HTTP_ADDR>.
func NewEndpoint(cfg config.Config) *Endpoint { return &Endpoint{cfg: cfg} }

// LambdaAPI provides the API's *echo.Echo for the Lambda app: the server's
// routes, middleware and error mapping, without the local blob route (on
// AWS clients upload straight to S3, and API Gateway is no blob store).
var LambdaAPI = fx.Provide(
	newLambdaNotifier,
	newLambdaEcho,
)

// newLambdaNotifier is the Lambda app's ports.Notifier: with
// CLOUDPOST_PUSH_QUEUE_URL, one SQS message per notification, which the
// push function consumes at once; without it, none (the janitor's sweep
// delivers what the relay finds due). Building it costs no I/O: the AWS
// configuration is loaded by the first notification.
func newLambdaNotifier(cfg config.Config, log *slog.Logger) (ports.Notifier, error) {
	if cfg.Push.QueueURL == "" {
		return noNotifier{}, nil
	}
	return sqsnotify.New(sqsnotify.Config{QueueURL: cfg.Push.QueueURL}, log)
}

// noNotifier drops the hint; the outbox row is delivered by the next
// relay run anyway.
type noNotifier struct{}

// Dispatch does nothing.
func (noNotifier) Dispatch(context.Context, domain.Notification) error { return nil }

func newLambdaEcho(in echoIn) *echo.Echo {
	in.BlobRoute = BlobRoute{}
	// The client address is API Gateway's sourceIp (the connection's peer
	// as the lambda adapter builds the request), never a forwarded header.
	in.Cfg.TrustedProxies = nil
	return newEcho(in)
}

// LambdaAdapters picks the same adapters as Adapters, except that S3 costs
// nothing at a cold start: s3blob.Module loads the AWS configuration in its
// constructor (file reading, client set-up, and parsing every certificate
// of AWS_CA_BUNDLE when that is set, milliseconds of CPU) and pings the
// bucket in OnStart (a network round trip, with SDK retries when S3 is
// unreachable). Here the store is built by its first use (the first
// request that presigns, reads or writes media), and the bucket is only
// checked by the readiness probe and real requests. Building it in the
// background at start instead was measured to slow the first invocation,
// which it competes with for the function's CPU.
func LambdaAdapters(cfg config.Config) fx.Option { return adapters(cfg, lambdaS3Blobs) }

// lambdaS3Blobs is S3Blobs built concurrently, without the start-up check.
var lambdaS3Blobs = fx.Module("s3",
	fx.Provide(
		newLazyS3,
		func(s *lazyS3) ports.Blobs { return s },
		func() BlobRoute { return BlobRoute{} },
		fx.Annotate(func(s *lazyS3) httpapi.ReadyCheck {
			return httpapi.ReadyCheck{Name: "blobs", Check: s.Ping}
		}, fx.ResultTags(`group:"ready"`)),
	),
)

// lazyS3 is an s3blob.Store made on first need. The configuration is
// checked at construction (no I/O), so a bad value still stops the start.
// A failed build is not retried: it can only fail on an unreadable AWS
// configuration, which a new execution environment must fix.
type lazyS3 struct {
	once  sync.Once
	make  func() (*s3blob.Store, error)
	store *s3blob.Store
	err   error
}

func newLazyS3(cfg config.Config, log *slog.Logger) (*lazyS3, error) {
	if err := cfg.S3.Validate(); err != nil {
		return nil, err
	}
	return &lazyS3{make: func() (*s3blob.Store, error) { return s3blob.New(context.Background(), cfg.S3, log) }}, nil
}

// get returns the store, building it (or waiting for the build under way).
// A failed build (an unreadable AWS configuration) is Unavailable.
func (l *lazyS3) get() (*s3blob.Store, error) {
	l.once.Do(func() {
		l.store, l.err = l.make()
		if l.err != nil {
			l.err = domain.Wrap(l.err, domain.Unavailable, "the media store is not available")
		}
	})
	return l.store, l.err
}

var _ ports.Blobs = (*lazyS3)(nil)

// PresignUpload implements ports.Blobs.
func (l *lazyS3) PresignUpload(ctx context.Context, p ports.UploadPolicy) (domain.UploadTarget, error) {
	s, err := l.get()
	if err != nil {
		return domain.UploadTarget{}, err
	}
	return s.PresignUpload(ctx, p)
}

// PresignDownload implements ports.Blobs.
func (l *lazyS3) PresignDownload(ctx context.Context, p ports.DownloadPolicy) (string, error) {
	s, err := l.get()
	if err != nil {
		return "", err
	}
	return s.PresignDownload(ctx, p)
}

// Stat implements ports.Blobs.
func (l *lazyS3) Stat(ctx context.Context, key string) (domain.ObjectInfo, error) {
	s, err := l.get()
	if err != nil {
		return domain.ObjectInfo{}, err
	}
	return s.Stat(ctx, key)
}

// Open implements ports.Blobs.
func (l *lazyS3) Open(ctx context.Context, key string) (io.ReadCloser, domain.ObjectInfo, error) {
	s, err := l.get()
	if err != nil {
		return nil, domain.ObjectInfo{}, err
	}
	return s.Open(ctx, key)
}

// ReadHead implements ports.Blobs.
func (l *lazyS3) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.ReadHead(ctx, key, n)
}

// Put implements ports.Blobs.
func (l *lazyS3) Put(ctx context.Context, o ports.Object, body io.Reader) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	return s.Put(ctx, o, body)
}

// Delete implements ports.Blobs.
func (l *lazyS3) Delete(ctx context.Context, keys ...string) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	return s.Delete(ctx, keys...)
}

// Ping checks the bucket (readiness). Returns s3blob.Store.Ping's errors.
func (l *lazyS3) Ping(ctx context.Context) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}
