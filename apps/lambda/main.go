// Command bootstrap is the cloudpost Lambda app: one binary for every
// function of deploy/template.yaml, which picks its handler from the
// function's Handler setting (_HANDLER: api, media, cognito, janitor,
// migrate; see apps/lambda/lambdaapp). Build it with `make lambda`:
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

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/lambda/lambdaapp"
)

func main() {
	app, err := start()
	if err != nil {
		// Lambda reports the init failure and logs this line.
		fmt.Fprintln(os.Stderr, "cloudpost lambda:", err)
		os.Exit(1)
	}
	// SIGTERM (sent before the environment is shut down, once an extension
	// is registered, which WithEnableSIGTERM does) stops the app so pools
	// and clients close, then exits rather than wait to be killed.
	lambda.StartWithOptions(app.Handler, lambda.WithEnableSIGTERM(func() {
		app.Shutdown()
		os.Exit(0)
	}))
}

func start() (*lambdaapp.App, error) {
	environ := os.Environ()
	cfg, err := config.Load(environ)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	lc, err := lambdaapp.LoadConfig(environ)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return lambdaapp.Start(context.Background(), cfg, lc)
}
