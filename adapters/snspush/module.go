package snspush

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Module provides the SNS mobile push adapter as *Pusher from a Config and
// a *slog.Logger in the graph (the app picks it as the ports.Push of the
// platforms in Pusher.Platforms). Credentials come from the AWS default
// chain. Constructing it sends nothing; on start it checks the platform
// applications once (Ping): a missing or disabled application or refused
// credentials stop the start with an error naming the variable, while an
// unreachable SNS is only logged, since it may come back.
var Module = fx.Module("snspush",
	fx.Provide(newFromGraph),
	fx.Invoke(registerStartCheck),
)

func newFromGraph(cfg Config, log *slog.Logger) (*Pusher, error) {
	return New(context.Background(), cfg, log)
}

func registerStartCheck(lc fx.Lifecycle, p *Pusher) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := p.Ping(ctx)
		if domain.IsCode(err, domain.Unavailable) {
			p.log.WarnContext(ctx, "snspush: SNS not reachable at start; continuing", "err", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("snspush: at start: %w", err)
		}
		return nil
	}))
}
