package functions

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.uber.org/fx/fxevent"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/lambda/apigateway"
)

// NewLogger returns the Lambda app's logger: JSON lines on w in the field
// names of Lambda's JSON log format (timestamp, level, message) at
// CLOUDPOST_LOG_LEVEL. Every record logged with a context carries the
// Lambda request id (awsRequestId) and, while serving an API Gateway
// event, the API Gateway request id (apiRequestId); the app's own
// X-Request-Id appears as requestId in access logs.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(contextHandler{h})
}

// contextHandler adds the invocation's ids from the context to records.
type contextHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("awsRequestId", lc.AwsRequestID))
	}
	if id := apigateway.APIRequestID(ctx); id != "" {
		r.AddAttrs(slog.String("apiRequestId", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// fxLogger sends fx's own events to the app logger at debug level.
func fxLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log}
	l.UseLogLevel(slog.LevelDebug)
	return l
}
