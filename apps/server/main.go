// Command cloudpost runs the cloudpost Echo server.
//
//	cloudpost serve     start the HTTP API (default)
//
// Configuration comes from CLOUDPOST_* environment variables (README.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/wire"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cloudpost:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	cfg, err := config.Load(os.Environ())
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch cmd {
	case "serve":
		return serve(cfg)
	default:
		return fmt.Errorf("unknown command %q (commands: serve)", cmd)
	}
}

// serve starts the app and stops it gracefully on SIGINT/SIGTERM, letting
// requests in flight finish within CLOUDPOST_SHUTDOWN_TIMEOUT.
func serve(cfg config.Config) error {
	app := fx.New(wire.Server(cfg), fx.StopTimeout(cfg.ShutdownTimeout))
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancelStop()
	return app.Stop(stopCtx)
}
