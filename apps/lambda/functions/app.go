// Package functions composes the cloudpost Lambda app: one bootstrap binary
// whose handler is chosen by the function's Handler setting (_HANDLER):
//
//	api      API Gateway HTTP API events (payload format 2.0), served by the
//	         same Echo app as the local server (apps/httpapi via apps/fxmodules)
//	media    S3 ObjectCreated events under uploads/: the image pipeline
//	cognito  the user pool's post-confirmation trigger: creates the profile
//	push     SQS events of the push queue (a notification was committed):
//	         runs the delivery relay, reports the messages whose
//	         notification is still due as batch item failures
//	janitor  a schedule: the media sweep, the delivery relay (what the
//	         queue missed), and prunes old sync feed entries, ended
//	         rate-limit windows, stale devices and expired one-time tokens
//	migrate  runs the MySQL migrations from inside the VPC
//
// The app is built once per cold start with fx (fx.New and Start, never
// Run); only what the chosen handler needs is constructed, and nothing is
// fetched from the network until an invocation needs it (JWKS, database
// connections and AWS clients are lazy in their adapters).
package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/apps/lambda/apigateway"
)

// Handler names (the functions' Handler setting in deploy/template.yaml).
const (
	HandlerAPI     = "api"
	HandlerMedia   = "media"
	HandlerCognito = "cognito"
	HandlerPush    = "push"
	HandlerJanitor = "janitor"
	HandlerMigrate = "migrate"
)

// HandlerNames lists every handler the bootstrap can run.
var HandlerNames = []string{HandlerAPI, HandlerMedia, HandlerCognito, HandlerPush, HandlerJanitor, HandlerMigrate}

// Config is the Lambda app's own settings, beside config.Config.
type Config struct {
	// Handler picks the handler: Lambda sets _HANDLER from the function's
	// Handler property.
	Handler string `env:"_HANDLER"`
	// BasePath is removed from API request paths: the API mapping key when
	// a custom domain serves the API under a path, e.g. /api.
	BasePath string `env:"CLOUDPOST_API_BASE_PATH"`
}

// LoadConfig parses environ (os.Environ() form) into a Config with
// config.Parse and validates it; errors name the variable.
func LoadConfig(environ []string) (Config, error) {
	var c Config
	if err := config.Parse(environ, &c); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the settings; each message names the variable.
func (c Config) Validate() error {
	var errs []error
	if !slices.Contains(HandlerNames, c.Handler) {
		errs = append(errs, fmt.Errorf("_HANDLER: must be one of %s (the function's Handler setting), not %q",
			strings.Join(HandlerNames, ", "), c.Handler))
	}
	if c.BasePath != "" && (!strings.HasPrefix(c.BasePath, "/") || strings.ContainsAny(c.BasePath, "?# ")) {
		errs = append(errs, fmt.Errorf("CLOUDPOST_API_BASE_PATH: must be a path like /api, not %q", c.BasePath))
	}
	return errors.Join(errs...)
}

// Options returns the fx options of the Lambda app: the adapters cfg
// chooses (fxmodules.LambdaAdapters: fxmodules.Adapters' choices, with no network
// call at start), the core (fxmodules.Core), the API's Echo app
// (fxmodules.LambdaAPI) and every handler. Nothing listens and nothing runs in
// the background: uploads are processed by the media handler on S3 events
// (so fxmodules.MediaTrigger is nil), notifications are pushed by the push
// handler on SQS events and the janitor's sweep, and the feed is pruned
// by the janitor.
func Options(cfg config.Config, lc Config) fx.Option {
	return fx.Options(
		fx.Supply(cfg, lc),
		fx.Provide(
			func(cfg config.Config) *slog.Logger { return NewLogger(cfg, os.Stdout) },
			fxmodules.NewEndpoint,
			func() fxmodules.MediaTrigger { return nil },
			newAPIHandler,
			NewMediaHandler,
			NewCognitoHandler,
			NewPushHandler,
			NewJanitorHandler,
			NewMigrateHandler,
		),
		fxmodules.LambdaAdapters(cfg),
		fxmodules.Core,
		fxmodules.LambdaAPI,
		fx.WithLogger(fxLogger),
	)
}

func newAPIHandler(e *echo.Echo, lc Config, log *slog.Logger) *apigateway.Handler {
	return apigateway.New(e, apigateway.Options{BasePath: lc.BasePath, Log: log})
}

// App is a started Lambda app.
type App struct {
	fx *fx.App
	// Handler serves the invocations of the handler the app was built for.
	Handler lambda.Handler
	// Log is the app's logger.
	Log *slog.Logger
}

// shutdownBudget bounds Stop on SIGTERM: Lambda's shutdown phase lasts at
// most 2 s in all.
const shutdownBudget = 1500 * time.Millisecond

// Start builds the app for lc.Handler and starts it (fx.New and Start, not
// Run): only the chosen handler's dependencies are constructed. extra
// options are appended (tests decorate ports with them). Returns fx's
// error for a broken graph or a failed start hook.
func Start(ctx context.Context, cfg config.Config, lc Config, extra ...fx.Option) (*App, error) {
	var (
		h   lambda.Handler
		log *slog.Logger
	)
	var populate fx.Option
	switch lc.Handler {
	case HandlerAPI:
		populate = populateAs[*apigateway.Handler](&h)
	case HandlerMedia:
		populate = populateAs[*MediaHandler](&h)
	case HandlerCognito:
		populate = populateAs[*CognitoHandler](&h)
	case HandlerPush:
		populate = populateAs[*PushHandler](&h)
	case HandlerJanitor:
		populate = populateAs[*JanitorHandler](&h)
	case HandlerMigrate:
		populate = populateAs[*MigrateHandler](&h)
	default:
		return nil, fmt.Errorf("_HANDLER: unknown handler %q (want one of %s)", lc.Handler, strings.Join(HandlerNames, ", "))
	}
	app := fx.New(Options(cfg, lc), fx.Options(extra...), populate, fx.Populate(&log))
	if err := app.Err(); err != nil {
		return nil, err
	}
	if err := app.Start(ctx); err != nil {
		return nil, err
	}
	return &App{fx: app, Handler: h, Log: log}, nil
}

// populateAs fills *dst with the graph's T.
func populateAs[T lambda.Handler](dst *lambda.Handler) fx.Option {
	return fx.Invoke(func(v T) { *dst = v })
}

// Stop stops the app: its OnStop hooks close pools and clients.
func (a *App) Stop(ctx context.Context) error { return a.fx.Stop(ctx) }

// Shutdown stops the app within Lambda's shutdown budget; the SIGTERM
// callback of lambda.WithEnableSIGTERM.
func (a *App) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		a.Log.Error("shutdown", "err", err)
		return
	}
	a.Log.Info("shutdown complete")
}
