package mysqlstore

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

func moduleOptions(c Config, out *ports.Storage) fx.Option {
	return fx.Options(
		Module,
		fx.Supply(c),
		fx.Provide(
			func() ports.Clock { return system.Clock{} },
			func() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) },
		),
		fx.Populate(out),
		fx.NopLogger,
	)
}

// TestModule: the fx module wires the store from a Config, applies the
// migrations at start with CLOUDPOST_MIGRATE=auto (and not otherwise), and
// closes the pools at stop.
func TestModule(t *testing.T) {
	var storage ports.Storage
	c := DefaultConfig()
	c.DSN = "app:pw@tcp(127.0.0.1:3306)/cloudpost"
	if err := fx.ValidateApp(moduleOptions(c, &storage)); err != nil {
		t.Fatalf("fx graph: %v", err)
	}

	c.DSN = testDatabase(t, true) // empty: nothing migrated yet
	c.Migrate = MigrateAuto
	app := fx.New(moduleOptions(c, &storage))
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	id := porttest.NewID()
	if _, err := storage.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"}); err != nil {
		t.Errorf("the store does not work after an automatic migration: %v", err)
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := storage.Ping(ctx); err == nil {
		t.Error("the pools are still open after stop")
	}

	// Migrate off: an empty database stays empty (the first write fails).
	c.DSN = testDatabase(t, true)
	c.Migrate = MigrateOff
	app = fx.New(moduleOptions(c, &storage))
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	defer app.Stop(ctx)
	if _, err := storage.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"}); err == nil {
		t.Error("CLOUDPOST_MIGRATE=off migrated anyway")
	}
	// An invalid configuration stops the app with the variable's name.
	c.TLS = "maybe"
	if err := fx.New(moduleOptions(c, &storage)).Err(); err == nil {
		t.Error("an invalid configuration was accepted")
	}
}
