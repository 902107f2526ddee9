package s3blob

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Module provides the S3 blob store as ports.Blobs (and as *Store) from a
// Config and a *slog.Logger in the graph. Credentials come from the AWS
// default chain. Constructing it sends nothing; on start it checks the
// bucket once (Ping): a missing bucket or denied access stops the start
// with an error naming the bucket, while an unreachable S3 is only logged,
// since it may come back.
var Module = fx.Module("s3blob",
	fx.Provide(
		newFromGraph,
		func(s *Store) ports.Blobs { return s },
	),
	fx.Invoke(registerStartCheck),
)

func newFromGraph(cfg Config, log *slog.Logger) (*Store, error) {
	return New(context.Background(), cfg, log)
}

func registerStartCheck(lc fx.Lifecycle, s *Store) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := s.Ping(ctx)
		if domain.IsCode(err, domain.Unavailable) {
			s.log.WarnContext(ctx, "s3blob: S3 not reachable at start; continuing", "bucket", s.bucket, "err", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("s3blob: bucket %s (CLOUDPOST_S3_BUCKET) at start: %w", s.bucket, err)
		}
		return nil
	}))
}
