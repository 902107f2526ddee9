package cognitoauth

import (
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/ports"
)

// Module provides the Cognito identity provider as ports.Identity and its
// verifier as ports.TokenVerifier (and the *Provider itself, e.g. for a
// readiness check with Ping). It needs a Config and a ports.Clock in the
// graph. Nothing is fetched or dialled before the first request.
var Module = fx.Module("cognitoauth",
	fx.Provide(
		func(cfg Config, clock ports.Clock) (*Provider, error) {
			return New(cfg, Options{Clock: clock})
		},
		func(p *Provider) ports.Identity { return p },
		func(p *Provider) ports.TokenVerifier { return p.Verifier() },
	),
)
