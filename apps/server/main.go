// Command cloudpost runs the cloudpost Echo server.
//
//	cloudpost serve                  start the HTTP API (default)
//	cloudpost migrate up|down|status apply, undo (one step) or list the MySQL migrations
//	cloudpost s3 setup               create and prepare the S3 media bucket (CLOUDPOST_BLOB=s3)
//	cloudpost vapid-keys             print a new Web Push (VAPID) key pair as CLOUDPOST_VAPID_* lines
//
// Configuration comes from CLOUDPOST_* environment variables (README.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/webpush"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
)

func main() {
	// A server's live heap is small (a few MB) and each request allocates
	// a few KB, so the default GOGC=100 collects ~40 times a second under
	// load; 200 halves that for a few MB more (measured: GET /v1/posts/{id}
	// vs a bare Echo handler 0.57 -> 0.63 with wrk). GOGC set in the
	// environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
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
	if cmd == "vapid-keys" {
		// Needs no configuration: it makes the configuration.
		return vapidKeys(os.Stdout)
	}
	cfg, err := config.Load(os.Environ())
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch cmd {
	case "serve":
		return serve(cfg)
	case "migrate":
		if len(args) != 2 {
			return fmt.Errorf("usage: cloudpost migrate up|down|status")
		}
		return migrate(cfg, args[1])
	case "s3":
		return s3Command(cfg, args[1:], os.Stdout)
	default:
		return fmt.Errorf("unknown command %q (commands: serve, migrate, s3 setup, vapid-keys)", cmd)
	}
}

// vapidKeys prints a new VAPID key pair for Web Push. The private key is a
// secret: keep it out of source control (Secrets Manager on AWS).
func vapidKeys(out io.Writer) error {
	k, err := webpush.GenerateKeys()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CLOUDPOST_VAPID_PUBLIC_KEY=%s\nCLOUDPOST_VAPID_PRIVATE_KEY=%s\n", k.PublicKey, k.PrivateKey)
	return nil
}

// s3Command runs "cloudpost s3 setup": s3blob's Store.Setup on
// CLOUDPOST_S3_BUCKET with CLOUDPOST_CORS_ORIGINS, one line per step on
// out. It needs CLOUDPOST_BLOB=s3, so it prepares the bucket the server
// would use; credentials come from the AWS default chain. The error names
// the step that failed (main then exits with status 1).
func s3Command(cfg config.Config, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "setup" {
		return fmt.Errorf("usage: cloudpost s3 setup")
	}
	if cfg.Blob != config.BlobS3 {
		return fmt.Errorf("configuration: CLOUDPOST_BLOB: s3 setup needs CLOUDPOST_BLOB=s3 with CLOUDPOST_S3_BUCKET and CLOUDPOST_S3_REGION (and CLOUDPOST_S3_ENDPOINT for an S3-compatible server), not %q", cfg.Blob)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := s3blob.New(ctx, cfg.S3, nil)
	if err != nil {
		return err
	}
	steps, err := store.Setup(ctx, s3blob.SetupOptions{Origins: cfg.CORSOrigins})
	// The steps done before a failure are printed too: they were applied.
	for _, st := range steps {
		fmt.Fprintf(out, "s3 setup: %s\n", st)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "s3 setup: bucket %s is ready\n", store.Bucket())
	return nil
}

// migrate runs the MySQL schema migrations against CLOUDPOST_MYSQL_DSN.
func migrate(cfg config.Config, direction string) error {
	switch direction {
	case mysqlstore.MigrateUp, mysqlstore.MigrateDown, mysqlstore.MigrateStatus:
	default:
		return fmt.Errorf("usage: cloudpost migrate up|down|status (not %q)", direction)
	}
	if err := cfg.MySQL.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	db, err := mysqlstore.OpenDB(cfg.MySQL, cfg.MySQL.DSN, true)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return mysqlstore.Migrate(ctx, db, direction, os.Stdout)
}

// serve starts the app and, on SIGINT or SIGTERM, drains it for
// CLOUDPOST_SHUTDOWN_DRAIN (fxmodules.Drain), then stops it, letting requests in
// flight finish: all within CLOUDPOST_SHUTDOWN_TIMEOUT. A second signal
// ends the drain early. opts are added to the app (tests).
func serve(cfg config.Config, opts ...fx.Option) error {
	// Subscribed before the start: a signal during start-up then stops the
	// app once started instead of killing the process.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var drain *fxmodules.Drain
	app := fx.New(fxmodules.Server(cfg), fx.StopTimeout(cfg.ShutdownTimeout), fx.Populate(&drain), fx.Options(opts...))
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	<-sig
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancelStop()
	drainCtx, endDrain := context.WithCancel(stopCtx)
	defer endDrain()
	go func() {
		select {
		case <-sig:
			endDrain()
		case <-drainCtx.Done():
		}
	}()
	drain.Drain(drainCtx)
	return app.Stop(stopCtx)
}
