package fxmodules

import (
	"context"
	"log/slog"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/jwtauth"
	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/httpapi/oauthroutes"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Adapters picks the adapter modules named by cfg (config.Load has already
// refused choices this build does not have).
func Adapters(cfg config.Config) fx.Option { return adapters(cfg, S3Blobs) }

// adapters picks the adapters cfg names, with s3 as the S3 blob module.
func adapters(cfg config.Config, s3 fx.Option) fx.Option {
	storage, blobs, auth := MemoryStorage, MemoryBlobs, LocalAuth
	if cfg.Storage == config.StorageMySQL {
		storage = MySQLStorage
	}
	if cfg.Blob == config.BlobS3 {
		blobs = s3
	}
	if cfg.Auth == config.AuthCognito {
		auth = CognitoAuth
	}
	return fx.Options(System, Imaging, Push, storage, blobs, auth)
}

// System provides the real clock and the UUIDv7 id generator.
var System = fx.Module("system",
	fx.Provide(
		func() ports.Clock { return system.Clock{} },
		func() ports.IDs { return system.IDs{} },
	),
)

// Imaging provides the pure Go image pipeline.
var Imaging = fx.Module("imaging",
	fx.Provide(func(cfg config.Config) ports.Images {
		return imaging.New(imaging.Config{MaxPixels: cfg.MaxImagePixels, MemoryBudget: cfg.MediaMemoryBudget})
	}),
)

// MemoryStorage provides the in-memory storage.
var MemoryStorage = fx.Module("memstore",
	fx.Provide(
		func(clock ports.Clock) *memstore.Store { return memstore.New(clock) },
		func(s *memstore.Store) ports.Storage { return s },
	),
)

// MySQLStorage provides the MySQL (RDS/Aurora) store, with an optional
// reader endpoint; CLOUDPOST_MIGRATE=auto migrates on start.
var MySQLStorage = fx.Module("mysql",
	fx.Provide(func(cfg config.Config) mysqlstore.Config { return cfg.MySQL }),
	mysqlstore.Module,
)

// MemoryBlobs provides the in-memory blob store, served by the app itself
// under /v1/blobs/, and hands every finished upload to the media queue.
var MemoryBlobs = fx.Module("memblob",
	fx.Provide(
		func(cfg config.Config, ep *Endpoint, clock ports.Clock) *memblob.Store {
			return memblob.New(memblob.Config{Secret: []byte(cfg.LocalBlobSecret), BaseURL: ep.BaseURL, Clock: clock, MaxBytes: cfg.MemoryBlobMaxBytes})
		},
		func(s *memblob.Store) ports.Blobs { return s },
		func(s *memblob.Store) BlobRoute { return BlobRoute{Handler: s.Handler()} },
	),
	fx.Invoke(func(s *memblob.Store, trigger MediaTrigger) {
		s.SetUploadHook(func(key string) {
			if owner, id, ok := domain.ParseUploadKey(key); ok && trigger != nil {
				trigger(owner, id)
			}
		})
	}),
)

// LocalAuth provides the local identity provider, and a verifier that checks
// its tokens through the same code that checks Cognito tokens (JWKS).
var LocalAuth = fx.Module("localauth",
	fx.Provide(
		func(cfg config.Config, clock ports.Clock, ids ports.IDs) *localauth.Provider {
			return localauth.New(localauth.Config{
				Issuer: cfg.LocalIssuer, ClientID: cfg.LocalClientID, AccessTTL: cfg.LocalTokenTTL, Clock: clock, IDs: ids,
				MaxConcurrentHashes: cfg.LocalMaxConcurrentHashes, BcryptCost: cfg.LocalBcryptCost,
				// Failures are counted per account and address by
				// core/limits; an account-wide lock would let anyone keep
				// the owner out.
				MaxFailures: -1,
			})
		},
		func(p *localauth.Provider) ports.Identity { return p },
		func(p *localauth.Provider, clock ports.Clock) (ports.TokenVerifier, error) {
			return jwtauth.NewVerifier(jwtauth.Config{Issuer: p.Issuer(), ClientIDs: []string{p.ClientID()}, JWKS: p.JWKS, Clock: clock})
		},
		localRoutes,
		func() []httpapi.RouteSet { return nil },
	),
)

// CognitoAuth provides the Cognito user pool as identity provider and its
// JWKS-backed verifier, plus the social sign-in routes when the hosted UI
// domain is configured.
var CognitoAuth = fx.Module("cognito",
	fx.Provide(
		func(cfg config.Config) cognitoauth.Config { return cfg.Cognito },
		func() LocalAuthRoutes { return LocalAuthRoutes{} },
		fx.Annotate(func(p *cognitoauth.Provider) httpapi.ReadyCheck {
			return httpapi.ReadyCheck{Name: "identity", Check: p.Ping}
		}, fx.ResultTags(`group:"ready"`)),
		socialRoutes,
	),
	cognitoauth.Module,
)

// socialRoutes mounts GET /v1/auth/oauth/{provider} and the callback when
// CLOUDPOST_COGNITO_DOMAIN is set.
func socialRoutes(cfg config.Config, verifier ports.TokenVerifier, clock ports.Clock) ([]httpapi.RouteSet, error) {
	c := cfg.Cognito
	if c.Domain == "" {
		return nil, nil
	}
	providers := make(map[string]string, len(c.OAuthProviders))
	for _, p := range c.OAuthProviders {
		providers[p] = cognitoauth.IdentityProviders[p]
	}
	h, err := oauthroutes.New(oauthroutes.Config{
		Domain: c.Domain, ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURLs: c.RedirectURLs,
		Providers: providers, StateSecret: c.StateSecret, StateTTL: c.StateTTL, Clock: clock,
	}, verifier)
	if err != nil {
		return nil, err
	}
	return []httpapi.RouteSet{h}, nil
}

// S3Blobs provides the S3 blob store; clients upload straight to the bucket,
// so the app has no blob route. Processing starts on the client's
// "complete" call (MediaTrigger), as S3 events only reach Lambda.
var S3Blobs = fx.Module("s3",
	fx.Provide(
		func(cfg config.Config) s3blob.Config { return cfg.S3 },
		func() BlobRoute { return BlobRoute{} },
		fx.Annotate(func(s *s3blob.Store) httpapi.ReadyCheck {
			return httpapi.ReadyCheck{Name: "blobs", Check: s.Ping}
		}, fx.ResultTags(`group:"ready"`)),
	),
	s3blob.Module,
)

// localRoutes contributes the dev mailbox and the JWKS route.
func localRoutes(p *localauth.Provider) LocalAuthRoutes {
	return LocalAuthRoutes{
		DevMail: httpapi.DevMailboxFunc(func(to string) []httpapi.DevMessage {
			msgs := p.Mail(to)
			out := make([]httpapi.DevMessage, len(msgs))
			for i, m := range msgs {
				out[i] = httpapi.DevMessage{To: m.To, Subject: m.Subject, Code: m.Code, SentAt: m.SentAt}
			}
			return out
		}),
		JWKS: func(ctx context.Context) ([]byte, error) { return p.JWKS(ctx) },
	}
}

// quietFxLogger sends fx's own events to the app logger at debug level.
func quietFxLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log}
	l.UseLogLevel(slog.LevelDebug)
	return l
}
