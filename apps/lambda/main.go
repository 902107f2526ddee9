// Command bootstrap is the cloudpost Lambda app: one binary for every
// function of deploy/template.yaml, which picks its handler from the
// function's Handler setting (_HANDLER: api, media, cognito, push,
// janitor, migrate; see apps/lambda/functions). Build it with `make lambda`:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc \
//	    -trimpath -ldflags="-s -w" -o dist/bootstrap ./apps/lambda
//
// Configuration comes from CLOUDPOST_* environment variables (README.md).
package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

func main() {
	// SIGTERM (sent before the environment is shut down, once an extension
	// is registered, which WithEnableSIGTERM does) stops the app so pools
	// and clients close, then exits rather than wait to be killed.
	// Registering is a round trip to the Extensions API that must finish
	// before the runtime asks for its first event: it runs while the app
	// is built, off the cold start's critical path.
	var app atomic.Pointer[functions.App]
	api := &handler{}
	registered := make(chan lambda.Handler, 1)
	go func() {
		registered <- lambda.NewHandlerWithOptions(api, lambda.WithEnableSIGTERM(func() {
			if a := app.Load(); a != nil {
				a.Shutdown()
			}
			os.Exit(0)
		}))
	}()
	a, err := start()
	if err != nil {
		// Lambda reports the init failure and logs this line.
		fmt.Fprintln(os.Stderr, "cloudpost lambda:", err)
		os.Exit(1)
	}
	app.Store(a)
	api.h = a.Handler
	lambda.Start(<-registered)
}

// handler serves invocations with h, which is set before the runtime loop
// starts (so before the first invocation).
type handler struct{ h lambda.Handler }

func (h *handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.h.Invoke(ctx, payload)
}

func start() (*functions.App, error) {
	environ := os.Environ()
	cfg, err := config.Load(environ)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	lc, err := functions.LoadConfig(environ)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return functions.Start(context.Background(), cfg, lc)
}
