package mysqlstore

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/ports"
)

// Module provides the MySQL store as *Store and as ports.Storage. It needs
// a Config (e.g. fx.Supply(cfg.MySQL) or a provider from the app config), a
// ports.Clock and a *slog.Logger. The constructor does no I/O; with
// Config.Migrate == "auto" pending migrations are applied in OnStart (never
// set that on Lambda), and OnStop closes the pools.
var Module = fx.Module("mysqlstore",
	fx.Provide(
		provide,
		func(s *Store) ports.Storage { return s },
	),
)

func provide(lc fx.Lifecycle, c Config, clock ports.Clock, log *slog.Logger) (*Store, error) {
	s, err := Open(c, clock)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if c.Migrate != MigrateAuto {
				return nil
			}
			n, err := MigrateUpIfPending(ctx, s.Writer())
			if err != nil {
				return err
			}
			log.Info("database migrations applied", "count", n)
			return nil
		},
		OnStop: func(context.Context) error { return s.Close() },
	})
	return s, nil
}
