package fxmodules

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/adapters/snspush"
	"github.com/cloudpost/cloudpost/adapters/webpush"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/devices"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/live"
	"github.com/cloudpost/cloudpost/core/notifications"
	"github.com/cloudpost/cloudpost/ports"
)

// PushChannels is the push channel of each platform the app pushes to.
type PushChannels map[domain.Platform]ports.Push

// Push provides the push channels cfg configures: Web Push with VAPID
// keys, SNS for the platforms whose application ARN is set, and, unless
// CLOUDPOST_PUSH_UNCONFIGURED=refuse, the memory recorder for the rest.
var Push = fx.Module("push",
	fx.Provide(
		func(log *slog.Logger) *mempush.Push { return mempush.New(log) },
		newPushChannels,
	),
)

func newPushChannels(cfg config.Config, rec *mempush.Push, log *slog.Logger) (PushChannels, error) {
	ch := PushChannels{}
	if cfg.Push.Unconfigured == config.PushRecord {
		for _, p := range domain.Platforms {
			ch[p] = rec
		}
	}
	if cfg.Push.WebPush() {
		wp, err := webpush.New(webpush.Config{
			VAPIDPublicKey: cfg.Push.VAPIDPublicKey, VAPIDPrivateKey: cfg.Push.VAPIDPrivateKey,
			Subject: cfg.Push.VAPIDSubject, AllowedHosts: cfg.Push.WebPushAllowedHosts,
		})
		if err != nil {
			return nil, err
		}
		ch[domain.PlatformWebPush] = wp
	}
	if cfg.Push.SNSOn() {
		// No network call here: SNS is first reached by a registration or
		// a push (a Lambda cold start stays cheap).
		sp, err := snspush.New(context.Background(), cfg.Push.SNS, log)
		if err != nil {
			return nil, err
		}
		for _, p := range sp.Platforms() {
			ch[p] = sp
		}
	}
	return ch, nil
}

func newDevices(store ports.Storage, ch PushChannels, clock ports.Clock, log *slog.Logger) *devices.Service {
	return devices.New(store, ch, clock, log)
}

func newRelay(store ports.Storage, ch PushChannels, clock ports.Clock, log *slog.Logger, cfg config.Config) *delivery.Relay {
	window := cfg.Push.CoalesceWindow
	if window == 0 {
		window = -1 // configured off
	}
	return delivery.New(store, ch, clock, log, delivery.Config{MaxAttempts: cfg.Push.MaxAttempts, CoalesceWindow: window})
}

// relayWake wakes the server's relay at once (a notification was just
// committed here).
type relayWake chan struct{}

// serverNotifier is the server's ports.Notifier: it wakes the relay and
// hands the notification to the live streams of this process.
type serverNotifier struct {
	wake relayWake
	hub  *live.Hub
}

// Dispatch never fails: both are in-process.
func (n serverNotifier) Dispatch(_ context.Context, note domain.Notification) error {
	select {
	case n.wake <- struct{}{}:
	default:
	}
	n.hub.Publish(note)
	return nil
}

// serverPush is the part of the server app that delivers notifications:
// the relay, woken by new notifications and polling for retries and other
// instances' writes, and the hub of the live streams.
var serverPush = fx.Options(
	fx.Provide(
		func() relayWake { return make(relayWake, 1) },
		func(store ports.Storage, clock ports.Clock, log *slog.Logger, cfg config.Config) *live.Hub {
			return live.New(store, clock, log, live.Config{PollInterval: cfg.Push.StreamPollInterval})
		},
		func(w relayWake, h *live.Hub) ports.Notifier { return serverNotifier{wake: w, hub: h} },
	),
	fx.Invoke(startRelay, startHub),
)

// startRelay runs the relay from the app's start to its stop: at once,
// then whenever a notification is committed here or RelayInterval passed.
func startRelay(lc fx.Lifecycle, r *delivery.Relay, wake relayWake, cfg config.Config, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				t := time.NewTicker(cfg.Push.RelayInterval)
				defer t.Stop()
				for {
					st, err := r.RunOnce(ctx)
					switch {
					case err != nil && ctx.Err() == nil:
						log.Warn("push relay failed; it tries again", "err", err)
					case st.Claimed > 0:
						log.Debug("push relay", "claimed", st.Claimed, "sent", st.Sent, "skipped", st.Skipped, "deferred", st.Deferred, "retried", st.Retried, "failed", st.Failed, "pushes", st.Pushes, "devicesGone", st.DevicesGone)
					}
					select {
					case <-ctx.Done():
						return
					case <-wake:
					case <-t.C:
					}
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error { cancel(); <-done; return nil },
	})
}

// startHub runs the live streams' poller, tells the hub when a user marks
// notifications read, and ends every stream when the server stops (see
// startHTTP, which closes the hub as its shutdown begins).
func startHub(lc fx.Lifecycle, h *live.Hub, n *notifications.Service) {
	n.OnRead(h.UnreadChanged)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() { defer close(done); h.Run(ctx) }()
			return nil
		},
		OnStop: func(context.Context) error { h.Close(); cancel(); <-done; return nil },
	})
}
