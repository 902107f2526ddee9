// Package config reads cloudpost's configuration from environment variables
// into one struct, validated at start-up. A bad value stops the program with
// a message that names the variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/snspush"
	"github.com/cloudpost/cloudpost/core/limits"
)

// Adapter choices.
const (
	StorageMemory = "memory"
	StorageMySQL  = "mysql"
	BlobMemory    = "memory"
	BlobS3        = "s3"
	AuthLocal     = "local"
	AuthCognito   = "cognito"
)

// Config is every setting of the apps. See README.md for the table.
type Config struct {
	// HTTPAddr is where the Echo server listens.
	HTTPAddr string `env:"CLOUDPOST_HTTP_ADDR" envDefault:"127.0.0.1:8000"`
	// PublicURL is the base URL clients use to reach this server (used in
	// presigned URLs of the memory blob store); default http://<HTTPAddr>.
	PublicURL string `env:"CLOUDPOST_PUBLIC_URL"`
	// Storage, Blob and Auth choose the adapters.
	Storage string `env:"CLOUDPOST_STORAGE" envDefault:"memory"`
	Blob    string `env:"CLOUDPOST_BLOB" envDefault:"memory"`
	Auth    string `env:"CLOUDPOST_AUTH" envDefault:"local"`

	// CORSOrigins lists the browser origins allowed to call the API.
	CORSOrigins []string `env:"CLOUDPOST_CORS_ORIGINS" envSeparator:"," envDefault:"http://localhost:3000,http://127.0.0.1:3000,http://localhost:5173"`
	// MaxUploadBytes is the largest media upload.
	MaxUploadBytes int64 `env:"CLOUDPOST_MAX_UPLOAD_BYTES" envDefault:"10485760"`
	// JSONReadTimeout bounds the time a client has to send the body of a
	// request to any route but the blob route (408 after it).
	JSONReadTimeout time.Duration `env:"CLOUDPOST_JSON_READ_TIMEOUT" envDefault:"10s"`
	// MaxImagePixels is the largest image (width*height) the pipeline decodes.
	MaxImagePixels int64 `env:"CLOUDPOST_MAX_IMAGE_PIXELS" envDefault:"40000000"`
	// UploadExpiry is the lifetime of presigned uploads.
	UploadExpiry time.Duration `env:"CLOUDPOST_UPLOAD_EXPIRY" envDefault:"15m"`
	// DownloadExpiry is how long a download URL stays valid at least once
	// handed out (URLs are signed for 9/8 of it and reused meanwhile).
	DownloadExpiry time.Duration `env:"CLOUDPOST_DOWNLOAD_EXPIRY" envDefault:"1h"`
	// URLCacheEntries bounds the signed download URLs kept for reuse
	// (negative: no reuse).
	URLCacheEntries int `env:"CLOUDPOST_URL_CACHE_ENTRIES" envDefault:"10000"`
	// SyncRetention is how long sync tombstones are kept.
	SyncRetention time.Duration `env:"CLOUDPOST_SYNC_RETENTION" envDefault:"720h"`
	// MediaWorkers is how many images the in-process queue processes at once.
	MediaWorkers int `env:"CLOUDPOST_MEDIA_WORKERS" envDefault:"2"`
	// MediaMemoryBudget bounds the memory the images processed at once may
	// need together (estimated from their headers); 0: half of GOMEMLIMIT
	// when set, else 1 GiB; negative: no bound.
	MediaMemoryBudget int64 `env:"CLOUDPOST_MEDIA_MEMORY_BUDGET" envDefault:"0"`
	// MaxPendingUploads caps each user's uploads in flight (created, not yet
	// processed); beyond it new uploads get 429.
	MaxPendingUploads int `env:"CLOUDPOST_MAX_PENDING_UPLOADS" envDefault:"20"`
	// MediaSweepInterval is how often the server looks for media that no
	// trigger will process (dropped, crashed) or whose upload never came.
	MediaSweepInterval time.Duration `env:"CLOUDPOST_MEDIA_SWEEP_INTERVAL" envDefault:"1m"`
	// MemoryBlobMaxBytes caps the bytes the memory blob store holds.
	MemoryBlobMaxBytes int64 `env:"CLOUDPOST_MEMORY_BLOB_MAX_BYTES" envDefault:"1073741824"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration `env:"CLOUDPOST_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// ShutdownDrain is how long the server keeps serving after SIGTERM,
	// with /readyz failing and every response closing its connection, so
	// load balancers and keep-alive clients move away first. It is part of
	// ShutdownTimeout. The Lambda app never drains.
	ShutdownDrain time.Duration `env:"CLOUDPOST_SHUTDOWN_DRAIN" envDefault:"5s"`
	// LogLevel (debug, info, warn, error) and LogFormat (text, json).
	LogLevel  slog.Level `env:"CLOUDPOST_LOG_LEVEL" envDefault:"info"`
	LogFormat string     `env:"CLOUDPOST_LOG_FORMAT" envDefault:"text"`

	// Local identity provider (CLOUDPOST_AUTH=local).
	LocalIssuer     string        `env:"CLOUDPOST_LOCAL_ISSUER" envDefault:"http://127.0.0.1/local-pool"`
	LocalClientID   string        `env:"CLOUDPOST_LOCAL_CLIENT_ID" envDefault:"cloudpost-local"`
	LocalTokenTTL   time.Duration `env:"CLOUDPOST_LOCAL_TOKEN_TTL" envDefault:"1h"`
	LocalBlobSecret string        `env:"CLOUDPOST_LOCAL_BLOB_SECRET"`
	// LocalMaxConcurrentHashes caps the password hashes (bcrypt) the local
	// provider runs at once; beyond it (after a 200 ms wait) sign-ins get
	// 429. 0: one per CPU.
	LocalMaxConcurrentHashes int `env:"CLOUDPOST_LOCAL_MAX_CONCURRENT_HASHES" envDefault:"0"`
	// LocalBcryptCost is the local provider's bcrypt cost (4–31). Test
	// suites lower it to 4: each step halves a hash's CPU, and under the
	// race detector one hash at 10 costs about half a second.
	LocalBcryptCost int `env:"CLOUDPOST_LOCAL_BCRYPT_COST" envDefault:"10"`

	// TrustedProxies are the load balancers or proxies in front of the
	// server whose X-Forwarded-For entry names the client (CIDRs); empty:
	// the connection's peer is the client. Ignored on Lambda (API
	// Gateway's sourceIp is the client).
	TrustedProxies []netip.Prefix `env:"CLOUDPOST_TRUSTED_PROXIES" envSeparator:","`
	// RevocationCacheTTL is how long a process reuses a user's revocation
	// instant read from storage (a sign-out on another instance holds here
	// at most this much later); negative: read on every request.
	RevocationCacheTTL time.Duration `env:"CLOUDPOST_REVOCATION_CACHE_TTL" envDefault:"2s"`
	// Limits are the abuse limits (CLOUDPOST_LIMIT_*).
	Limits Limits

	// MySQL configures CLOUDPOST_STORAGE=mysql (CLOUDPOST_MYSQL_*, CLOUDPOST_MIGRATE).
	MySQL mysqlstore.Config
	// S3 configures CLOUDPOST_BLOB=s3 (CLOUDPOST_S3_*, CLOUDPOST_MEDIA_CDN_URL).
	S3 s3blob.Config
	// Cognito configures CLOUDPOST_AUTH=cognito (CLOUDPOST_COGNITO_*).
	Cognito cognitoauth.Config
	// Push configures notification delivery (CLOUDPOST_PUSH_*,
	// CLOUDPOST_VAPID_*, CLOUDPOST_SNS_*, CLOUDPOST_STREAM_*).
	Push Push
}

// Push fallback choices: what a platform with no channel configured does.
const (
	PushRecord = "record"
	PushRefuse = "refuse"
)

// Push is notification delivery: the channels (Web Push with VAPID keys,
// SNS platform applications for FCM and APNs), the relay and the live
// stream.
type Push struct {
	// Unconfigured is what happens to devices of a platform with no
	// channel: "record" (the memory recorder takes their pushes and logs
	// them: local development) or "refuse" (registering one is a 400).
	Unconfigured string `env:"CLOUDPOST_PUSH_UNCONFIGURED" envDefault:"record"`
	// VAPIDPublicKey and VAPIDPrivateKey (base64url, from `cloudpost
	// vapid-keys`) and VAPIDSubject (mailto: or https: URL) turn Web Push on.
	VAPIDPublicKey  string `env:"CLOUDPOST_VAPID_PUBLIC_KEY"`
	VAPIDPrivateKey string `env:"CLOUDPOST_VAPID_PRIVATE_KEY"`
	VAPIDSubject    string `env:"CLOUDPOST_VAPID_SUBJECT"`
	// WebPushAllowedHosts are the host suffixes a subscription's endpoint
	// may have (empty: the browsers' push services).
	WebPushAllowedHosts []string `env:"CLOUDPOST_WEBPUSH_ALLOWED_HOSTS" envSeparator:","`
	// SNS configures mobile push through SNS platform applications
	// (CLOUDPOST_SNS_*): an application ARN turns its platform on.
	SNS snspush.Config
	// QueueURL is the SQS queue the Lambda API announces notifications on
	// (the push function consumes it); empty: the janitor's sweep alone.
	QueueURL string `env:"CLOUDPOST_PUSH_QUEUE_URL"`
	// CoalesceWindow: pushes about one post to one user are at least this
	// far apart; what arrives meanwhile goes in the next one.
	CoalesceWindow time.Duration `env:"CLOUDPOST_PUSH_COALESCE_WINDOW" envDefault:"1m"`
	// MaxAttempts is how many failed attempts make the relay give up.
	MaxAttempts int `env:"CLOUDPOST_PUSH_MAX_ATTEMPTS" envDefault:"8"`
	// RelayInterval is how often a server's relay looks for due pushes
	// when nothing woke it (retries, other instances' writes).
	RelayInterval time.Duration `env:"CLOUDPOST_PUSH_RELAY_INTERVAL" envDefault:"2s"`
	// StreamPollInterval is how often a server reads other instances'
	// notifications for its open streams.
	StreamPollInterval time.Duration `env:"CLOUDPOST_STREAM_POLL_INTERVAL" envDefault:"500ms"`
	// StreamHeartbeat and StreamMaxAge: the keep-alive comment interval
	// and the longest a stream stays open (clients resume after it).
	StreamHeartbeat time.Duration `env:"CLOUDPOST_STREAM_HEARTBEAT" envDefault:"20s"`
	StreamMaxAge    time.Duration `env:"CLOUDPOST_STREAM_MAX_AGE" envDefault:"1h"`
}

// WebPush reports whether Web Push is configured.
func (p Push) WebPush() bool { return p.VAPIDPublicKey != "" || p.VAPIDPrivateKey != "" }

// SNSOn reports whether an SNS platform application is configured.
func (p Push) SNSOn() bool { return p.SNS.FCMApplicationARN != "" || p.SNS.APNsApplicationARN != "" }

func (p Push) validate(bad func(name, format string, args ...any)) {
	if p.Unconfigured != PushRecord && p.Unconfigured != PushRefuse {
		bad("CLOUDPOST_PUSH_UNCONFIGURED", "must be record or refuse, not %q", p.Unconfigured)
	}
	if p.WebPush() {
		if p.VAPIDPublicKey == "" || p.VAPIDPrivateKey == "" {
			bad("CLOUDPOST_VAPID_PUBLIC_KEY", "and CLOUDPOST_VAPID_PRIVATE_KEY go together (make them with `go run ./apps/server vapid-keys`)")
		}
		if u, err := url.Parse(p.VAPIDSubject); err != nil || (u.Scheme != "mailto" && u.Scheme != "https") {
			bad("CLOUDPOST_VAPID_SUBJECT", "must be a mailto: or https: URL where push services can reach you, not %q", p.VAPIDSubject)
		}
	}
	if p.SNSOn() {
		if err := p.SNS.Validate(); err != nil {
			bad("SNS mobile push", "%v", err)
		}
	}
	if p.QueueURL != "" {
		if u, err := url.Parse(p.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("CLOUDPOST_PUSH_QUEUE_URL", "must be an SQS queue URL, not %q", p.QueueURL)
		}
	}
	if p.MaxAttempts < 1 || p.MaxAttempts > 100 {
		bad("CLOUDPOST_PUSH_MAX_ATTEMPTS", "must be between 1 and 100")
	}
	if p.CoalesceWindow < 0 {
		bad("CLOUDPOST_PUSH_COALESCE_WINDOW", "must not be negative (0: no coalescing)")
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{
		{"CLOUDPOST_PUSH_RELAY_INTERVAL", p.RelayInterval}, {"CLOUDPOST_STREAM_POLL_INTERVAL", p.StreamPollInterval},
		{"CLOUDPOST_STREAM_HEARTBEAT", p.StreamHeartbeat}, {"CLOUDPOST_STREAM_MAX_AGE", p.StreamMaxAge},
	} {
		if v.d <= 0 {
			bad(v.name, "must be a positive duration such as 2s")
		}
	}
}

// Limits are the abuse limits, each "N/duration" (e.g. "20/1h") or "off".
// Per address counts requests from one client address (an IPv6 address by
// its /64); per user, by one signed-in user. Failures (wrong passwords,
// wrong codes) are counted per account and address, per address and per
// account: the per-account ceiling is much higher, so an owner signing in
// from elsewhere still gets in while a guesser is slowed.
type Limits struct {
	SignUpAddr             limits.Rule `env:"CLOUDPOST_LIMIT_SIGNUP_ADDR" envDefault:"30/1h"`
	SignInAddr             limits.Rule `env:"CLOUDPOST_LIMIT_SIGNIN_ADDR" envDefault:"100/5m"`
	CodesAddr              limits.Rule `env:"CLOUDPOST_LIMIT_CODES_ADDR" envDefault:"60/1h"`
	UploadAddr             limits.Rule `env:"CLOUDPOST_LIMIT_UPLOAD_ADDR" envDefault:"600/1h"`
	UploadUser             limits.Rule `env:"CLOUDPOST_LIMIT_UPLOAD_USER" envDefault:"120/1h"`
	PostAddr               limits.Rule `env:"CLOUDPOST_LIMIT_POST_ADDR" envDefault:"300/1h"`
	PostUser               limits.Rule `env:"CLOUDPOST_LIMIT_POST_USER" envDefault:"60/1h"`
	CommentAddr            limits.Rule `env:"CLOUDPOST_LIMIT_COMMENT_ADDR" envDefault:"600/1h"`
	CommentUser            limits.Rule `env:"CLOUDPOST_LIMIT_COMMENT_USER" envDefault:"120/1h"`
	NotificationsAddr      limits.Rule `env:"CLOUDPOST_LIMIT_NOTIFICATIONS_ADDR" envDefault:"1200/1m"`
	NotificationsUser      limits.Rule `env:"CLOUDPOST_LIMIT_NOTIFICATIONS_USER" envDefault:"120/1m"`
	DevicesAddr            limits.Rule `env:"CLOUDPOST_LIMIT_DEVICES_ADDR" envDefault:"600/1h"`
	DevicesUser            limits.Rule `env:"CLOUDPOST_LIMIT_DEVICES_USER" envDefault:"60/1h"`
	FailuresPerAccountAddr limits.Rule `env:"CLOUDPOST_LIMIT_FAILURES_ACCOUNT_ADDR" envDefault:"10/15m"`
	FailuresPerAddr        limits.Rule `env:"CLOUDPOST_LIMIT_FAILURES_ADDR" envDefault:"100/15m"`
	FailuresPerAccount     limits.Rule `env:"CLOUDPOST_LIMIT_FAILURES_ACCOUNT" envDefault:"200/1h"`
}

// Policy is the limits as the core's limit service takes them.
func (l Limits) Policy() limits.Policy {
	return limits.Policy{
		PerAddress: map[limits.Action]limits.Rule{
			limits.SignUp: l.SignUpAddr, limits.SignIn: l.SignInAddr, limits.Codes: l.CodesAddr,
			limits.Upload: l.UploadAddr, limits.Post: l.PostAddr, limits.Comment: l.CommentAddr,
			limits.Notifications: l.NotificationsAddr, limits.Devices: l.DevicesAddr,
		},
		PerUser: map[limits.Action]limits.Rule{
			limits.Upload: l.UploadUser, limits.Post: l.PostUser, limits.Comment: l.CommentUser,
			limits.Notifications: l.NotificationsUser, limits.Devices: l.DevicesUser,
		},
		FailuresPerAccountAddress: l.FailuresPerAccountAddr,
		FailuresPerAddress:        l.FailuresPerAddr,
		FailuresPerAccount:        l.FailuresPerAccount,
	}
}

// Load parses environ (os.Environ() form) into a Config (see Parse) and
// validates it. The error names the offending variable.
func Load(environ []string) (Config, error) {
	var c Config
	if err := Parse(environ, &c); err != nil {
		return Config{}, err
	}
	return c, c.validate()
}

// Parse reads environ (os.Environ() form, "KEY=value"; entries without
// "=" are ignored) into dst, a pointer to a struct whose fields carry
// github.com/caarlos0/env tags (env, envDefault, envSeparator; untagged
// struct fields are read recursively): the one way every app of cloudpost
// reads its settings. It applies defaults and parses values but checks no
// other rule. Returns an error naming the variable of each value that
// cannot be parsed, or the library's error when dst is not such a pointer.
func Parse(environ []string, dst any) error {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	if err := env.ParseWithOptions(dst, env.Options{Environment: vars}); err != nil {
		return namedError(dst, err)
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	switch c.Storage {
	case StorageMemory:
	case StorageMySQL:
		if err := c.MySQL.Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		bad("CLOUDPOST_STORAGE", "must be memory or mysql, not %q", c.Storage)
	}
	switch c.Blob {
	case BlobMemory:
	case BlobS3:
		if err := c.S3.Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		bad("CLOUDPOST_BLOB", "must be memory or s3, not %q", c.Blob)
	}
	switch c.Auth {
	case AuthLocal:
	case AuthCognito:
		if err := c.Cognito.Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		bad("CLOUDPOST_AUTH", "must be local or cognito, not %q", c.Auth)
	}
	c.Push.validate(bad)
	if c.HTTPAddr == "" || !strings.Contains(c.HTTPAddr, ":") {
		bad("CLOUDPOST_HTTP_ADDR", "must be host:port, not %q", c.HTTPAddr)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("CLOUDPOST_PUBLIC_URL", "must be an http(s) URL, not %q", c.PublicURL)
		}
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "") {
			bad("CLOUDPOST_CORS_ORIGINS", "%q is not an origin like https://app.example.com", o)
		}
	}
	if c.MaxUploadBytes < 1 || c.MaxUploadBytes > 100<<20 {
		bad("CLOUDPOST_MAX_UPLOAD_BYTES", "must be between 1 and %d", 100<<20)
	}
	if c.MaxImagePixels < 1 {
		bad("CLOUDPOST_MAX_IMAGE_PIXELS", "must be positive")
	}
	if c.UploadExpiry < time.Second || c.UploadExpiry > 7*24*time.Hour {
		bad("CLOUDPOST_UPLOAD_EXPIRY", "must be between 1s and 168h")
	}
	if c.DownloadExpiry < time.Second || c.DownloadExpiry > 6*24*time.Hour {
		bad("CLOUDPOST_DOWNLOAD_EXPIRY", "must be between 1s and 144h (URLs are signed for 9/8 of it; S3 allows 168h)")
	}
	if c.SyncRetention < time.Hour {
		bad("CLOUDPOST_SYNC_RETENTION", "must be at least 1h")
	}
	if c.MediaWorkers < 1 || c.MediaWorkers > 64 {
		bad("CLOUDPOST_MEDIA_WORKERS", "must be between 1 and 64")
	}
	if c.MaxPendingUploads < 1 || c.MaxPendingUploads > 10_000 {
		bad("CLOUDPOST_MAX_PENDING_UPLOADS", "must be between 1 and 10000")
	}
	if c.MediaSweepInterval < time.Second || c.MediaSweepInterval > 24*time.Hour {
		bad("CLOUDPOST_MEDIA_SWEEP_INTERVAL", "must be between 1s and 24h")
	}
	if c.MemoryBlobMaxBytes < c.MaxUploadBytes {
		bad("CLOUDPOST_MEMORY_BLOB_MAX_BYTES", "must be at least CLOUDPOST_MAX_UPLOAD_BYTES (%d)", c.MaxUploadBytes)
	}
	if c.JSONReadTimeout < time.Second || c.JSONReadTimeout > 2*time.Minute {
		bad("CLOUDPOST_JSON_READ_TIMEOUT", "must be between 1s and 2m, not %s", c.JSONReadTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		bad("CLOUDPOST_SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.ShutdownDrain < 0 || (c.ShutdownTimeout > 0 && c.ShutdownDrain >= c.ShutdownTimeout) {
		// The drain comes out of the shutdown budget: requests in flight
		// and the other components need what is left.
		bad("CLOUDPOST_SHUTDOWN_DRAIN", "must be at least 0 and less than CLOUDPOST_SHUTDOWN_TIMEOUT (%s), not %s", c.ShutdownTimeout, c.ShutdownDrain)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("CLOUDPOST_LOG_FORMAT", "must be text or json, not %q", c.LogFormat)
	}
	if c.LocalBcryptCost < 4 || c.LocalBcryptCost > 31 {
		bad("CLOUDPOST_LOCAL_BCRYPT_COST", "must be between 4 and 31")
	}
	if c.LocalTokenTTL < time.Minute || c.LocalTokenTTL > 24*time.Hour {
		bad("CLOUDPOST_LOCAL_TOKEN_TTL", "must be between 1m and 24h")
	}
	return errors.Join(errs...)
}

// BaseURL is the public base URL of the server (no trailing slash).
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.HTTPAddr
}

// namedError rewrites the library's field-name errors about dst's fields
// to name the variable.
func namedError(dst any, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	keys := map[string][]string{}
	if t := reflect.TypeOf(dst); t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		collectKeys(t.Elem(), keys)
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			names := keys[pe.Name]
			if len(names) == 0 {
				names = []string{pe.Name}
			}
			out = append(out, fmt.Errorf("%s: cannot parse as %s: %v", strings.Join(names, " or "), pe.Type, errors.Unwrap(pe.Err)))
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// collectKeys maps field names to their variables, through nested structs
// (the adapters' own Config structs are embedded in Config).
func collectKeys(t reflect.Type, keys map[string][]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" && f.Type.Kind() == reflect.Struct {
			collectKeys(f.Type, keys)
			continue
		}
		if name != "" {
			keys[f.Name] = append(keys[f.Name], name)
		}
	}
}
