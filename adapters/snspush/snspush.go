// Package snspush is the ports.Push adapter for Amazon SNS mobile push: FCM
// devices (an SNS platform application of platform GCM with FCM HTTP v1
// credentials) and APNs devices (platform APNS, or APNS_SANDBOX for
// development builds).
//
// Register follows the sequence AWS recommends for keeping one working,
// enabled platform endpoint per device ("Setting up an Amazon SNS platform
// endpoint for mobile notifications"): create the endpoint when the device
// has none (CreatePlatformEndpoint, with the user id as CustomUserData; when
// SNS answers that an endpoint already holds the token with other
// attributes, that endpoint is taken, as AWS's sample does), read it back
// (GetEndpointAttributes; a deleted endpoint is created again), and set its
// token and Enabled=true when either is off (SetEndpointAttributes). The
// endpoint ARN becomes the device's ChannelRef. Registering again is safe
// and re-enables an endpoint SNS disabled.
//
// Send publishes straight to the endpoint (Publish with TargetArn and
// MessageStructure "json"): an FCM HTTP v1 message under the GCM key, an
// APNs payload under APNS or APNS_SANDBOX (the endpoint ARN tells which),
// with the collapse id, push type and TTL as SNS message attributes. SNS
// hands the push to FCM or APNs after Publish returns: when they report a
// token as unregistered, SNS sets the endpoint's Enabled to false, and the
// next Publish fails with EndpointDisabled, which Send reports as NotFound
// (the device is gone).
//
// Tokens and message texts are never logged.
//
// IAM: sns:CreatePlatformEndpoint, sns:GetEndpointAttributes,
// sns:SetEndpointAttributes, sns:DeleteEndpoint and sns:Publish on the
// applications and their endpoints, and sns:GetPlatformApplicationAttributes
// on the applications (Ping, at start).
package snspush

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// Pusher is a ports.Push over Amazon SNS mobile push for FCM and APNs
// devices. It is safe for concurrent use.
type Pusher struct {
	client *sns.Client
	// fcm and apns are the platform applications; fcmARN or apnsARN is
	// empty when that platform is not configured.
	fcm, apns       snsARN
	fcmARN, apnsARN string
	log             *slog.Logger
	now             func() time.Time
}

var _ ports.Push = (*Pusher)(nil)

// New returns a Pusher for cfg with credentials from the AWS default chain
// (environment, shared config files, container or instance role). It reads
// local configuration only; no request is sent until the Pusher is used.
// log may be nil (slog.Default). Returns an error naming the variable when
// cfg is invalid.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Pusher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.region()))
	if err != nil {
		return nil, fmt.Errorf("snspush: loading the AWS configuration: %w", err)
	}
	return NewWithAWS(cfg, awsCfg, log)
}

// NewWithAWS returns a Pusher for cfg that uses awsCfg (credentials,
// retryer, HTTP client); cfg's region overrides awsCfg.Region, and optFns
// adjust the SNS client's options after that (set an HTTP client there,
// as o.HTTPClient: config.WithHTTPClient does not combine with
// AWS_CA_BUNDLE). It does no I/O. log may be nil (slog.Default). Returns
// an error naming the variable when cfg is invalid.
func NewWithAWS(cfg Config, awsCfg aws.Config, log *slog.Logger, optFns ...func(*sns.Options)) (*Pusher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Pusher{fcmARN: cfg.FCMApplicationARN, apnsARN: cfg.APNsApplicationARN, log: log, now: time.Now}
	p.fcm, _ = parseARN(cfg.FCMApplicationARN)
	p.apns, _ = parseARN(cfg.APNsApplicationARN)
	region := cfg.region()
	p.client = sns.NewFromConfig(awsCfg, append([]func(*sns.Options){func(o *sns.Options) {
		o.Region = region
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimSuffix(cfg.Endpoint, "/"))
		}
	}}, optFns...)...)
	return p, nil
}

// Client returns the underlying SNS client, for tasks outside the port
// (tests' inspection of endpoints).
func (p *Pusher) Client() *sns.Client { return p.client }

// Platforms lists the platforms this Pusher is configured for, in
// domain.Platforms order.
func (p *Pusher) Platforms() []domain.Platform {
	var out []domain.Platform
	if p.fcmARN != "" {
		out = append(out, domain.PlatformFCM)
	}
	if p.apnsARN != "" {
		out = append(out, domain.PlatformAPNs)
	}
	return out
}

// Ping checks that each configured platform application exists and is
// enabled (SNS disables one whose APNs certificate or FCM credentials the
// service refused). Returns Internal (logged), naming the variable, for a
// missing or disabled application or refused credentials, Unavailable
// when SNS cannot be reached.
func (p *Pusher) Ping(ctx context.Context) error {
	for _, app := range []struct{ name, arn string }{
		{"CLOUDPOST_SNS_FCM_APPLICATION_ARN", p.fcmARN},
		{"CLOUDPOST_SNS_APNS_APPLICATION_ARN", p.apnsARN},
	} {
		if app.arn == "" {
			continue
		}
		out, err := p.client.GetPlatformApplicationAttributes(ctx, &sns.GetPlatformApplicationAttributesInput{PlatformApplicationArn: &app.arn})
		if err != nil {
			f := classify(err)
			switch {
			case f.code == codeNotFound:
				p.log.ErrorContext(ctx, "snspush: platform application not found", "variable", app.name, "application", app.arn)
				return domain.Wrap(err, domain.Internal, app.name+": the SNS platform application does not exist")
			case f.operatorFault() || f.invalidParameter():
				p.log.ErrorContext(ctx, "snspush: platform application refused", "variable", app.name, "application", app.arn, "code", f.code, "err", err)
				return domain.Wrap(err, domain.Internal, app.name+": SNS refused to read the platform application")
			}
			return p.unavailable(ctx, "GetPlatformApplicationAttributes", app.arn, f, err)
		}
		if out.Attributes["Enabled"] == "false" {
			p.log.ErrorContext(ctx, "snspush: platform application disabled (expired or refused push credentials)", "variable", app.name, "application", app.arn)
			return domain.Errorf(domain.Internal, "%s: the SNS platform application is disabled", app.name)
		}
	}
	return nil
}

// application returns the platform application of devices of platform pl.
// Returns Invalid, naming the setting, when pl is not configured or not
// one SNS mobile push serves here.
func (p *Pusher) application(pl domain.Platform) (string, snsARN, error) {
	switch pl {
	case domain.PlatformFCM:
		if p.fcmARN == "" {
			return "", snsARN{}, domain.Errorf(domain.Invalid, "this server does not push to fcm devices (CLOUDPOST_SNS_FCM_APPLICATION_ARN is not set)")
		}
		return p.fcmARN, p.fcm, nil
	case domain.PlatformAPNs:
		if p.apnsARN == "" {
			return "", snsARN{}, domain.Errorf(domain.Invalid, "this server does not push to apns devices (CLOUDPOST_SNS_APNS_APPLICATION_ARN is not set)")
		}
		return p.apnsARN, p.apns, nil
	}
	return "", snsARN{}, domain.Errorf(domain.Invalid, "SNS mobile push serves fcm and apns devices, not %q", pl)
}

// snsToken is the token as SNS keeps it: SNS returns APNs tokens in lower
// case, so they are sent that way and compare equal when read back.
func snsToken(d domain.Device) string {
	if d.Platform == domain.PlatformAPNs {
		return strings.ToLower(d.Token)
	}
	return d.Token
}

// Register makes sure d has an enabled SNS platform endpoint that carries
// its token, and returns d with ChannelRef set to the endpoint's ARN. A
// ChannelRef that is not an endpoint of the platform's application (the
// application was changed) is ignored and a new endpoint is made. Returns
// Invalid for a platform that is not configured, a missing token or a
// token SNS refuses; Unavailable (with a retry hint when SNS gave one)
// when SNS fails, throttles or cannot be reached.
func (p *Pusher) Register(ctx context.Context, d domain.Device) (domain.Device, error) {
	appARN, app, err := p.application(d.Platform)
	if err != nil {
		return domain.Device{}, err
	}
	if d.Token == "" {
		return domain.Device{}, domain.Errorf(domain.Invalid, "token is required for %s devices", d.Platform)
	}
	token := snsToken(d)
	endpoint := d.ChannelRef
	if e, ok := parseARN(endpoint); endpoint != "" && (!ok || !e.belongsTo(app)) {
		p.log.InfoContext(ctx, "snspush: the device's endpoint is not of the configured application; making a new one", "deviceId", d.ID, "endpoint", endpoint)
		endpoint = ""
	}
	// At most twice: an endpoint deleted between the calls is made again once.
	for attempt := 0; ; attempt++ {
		if endpoint == "" {
			if endpoint, err = p.createEndpoint(ctx, appARN, app, token, d); err != nil {
				return domain.Device{}, err
			}
		}
		out, err := p.client.GetEndpointAttributes(ctx, &sns.GetEndpointAttributesInput{EndpointArn: &endpoint})
		if err != nil {
			if f := classify(err); f.endpointGone() && attempt == 0 {
				endpoint = ""
				continue
			}
			return domain.Device{}, p.registerError(ctx, "GetEndpointAttributes", endpoint, redact(err, token, d.Token))
		}
		update := map[string]string{}
		if out.Attributes["Token"] != token || out.Attributes["Enabled"] != "true" {
			update["Token"], update["Enabled"] = token, "true"
		}
		if d.UserID != "" && out.Attributes["CustomUserData"] != d.UserID {
			// The token moved to another user (or SNS did not keep it).
			update["CustomUserData"] = d.UserID
		}
		if len(update) > 0 {
			_, err := p.client.SetEndpointAttributes(ctx, &sns.SetEndpointAttributesInput{EndpointArn: &endpoint, Attributes: update})
			if err != nil {
				if f := classify(err); f.endpointGone() && attempt == 0 {
					endpoint = ""
					continue
				}
				return domain.Device{}, p.registerError(ctx, "SetEndpointAttributes", endpoint, redact(err, token, d.Token))
			}
		}
		d.ChannelRef = endpoint
		return d, nil
	}
}

// createEndpoint makes the endpoint of token in application appARN, or
// finds the one that holds it already.
func (p *Pusher) createEndpoint(ctx context.Context, appARN string, app snsARN, token string, d domain.Device) (string, error) {
	in := &sns.CreatePlatformEndpointInput{PlatformApplicationArn: &appARN, Token: &token}
	if d.UserID != "" {
		in.CustomUserData = aws.String(d.UserID)
	}
	out, err := p.client.CreatePlatformEndpoint(ctx, in)
	if err == nil {
		if out.EndpointArn == nil || *out.EndpointArn == "" {
			return "", p.unavailable(ctx, "CreatePlatformEndpoint", appARN, failure{}, fmt.Errorf("snspush: CreatePlatformEndpoint returned no EndpointArn"))
		}
		return *out.EndpointArn, nil
	}
	if f := classify(err); f.invalidParameter() {
		if m := existingEndpoint.FindStringSubmatch(f.message); m != nil {
			if e, ok := parseARN(m[1]); ok && e.belongsTo(app) {
				return m[1], nil
			}
		}
	}
	return "", p.registerError(ctx, "CreatePlatformEndpoint", appARN, redact(err, token, d.Token))
}

// registerError translates a failure of a Register call: a refused token
// is Invalid; everything else is Unavailable.
func (p *Pusher) registerError(ctx context.Context, op, arn string, err error) error {
	f := classify(err)
	if f.about("Token") {
		p.log.InfoContext(ctx, "snspush: SNS refused a device token", "op", op, "arn", arn, "code", f.code)
		return domain.Wrap(err, domain.Invalid, "the push service refused the device token")
	}
	return p.unavailable(ctx, op, arn, f, err)
}

// Send publishes m to d's endpoint. Returns NotFound when d has no
// endpoint or SNS says it is disabled or deleted (the device is gone);
// TooManyRequests (with SNS's retry hint, if any) when SNS throttles;
// Invalid when SNS refuses the message or it cannot fit the platform's
// payload limit; Unavailable for other failures.
func (p *Pusher) Send(ctx context.Context, d domain.Device, m domain.PushMessage) error {
	if d.ChannelRef == "" {
		return domain.Errorf(domain.NotFound, "the device has no SNS endpoint: register it again")
	}
	e, ok := parseARN(d.ChannelRef)
	if !ok || e.kind != "endpoint" {
		return domain.Errorf(domain.NotFound, "the device's channel is not an SNS endpoint: register it again")
	}
	var pub publication
	var err error
	switch e.platform {
	case platformGCM:
		pub, err = fcmPublication(m, p.now())
	case platformAPNs, platformAPNsSandbox:
		pub, err = apnsPublication(e.platform, m)
	default:
		return domain.Errorf(domain.Invalid, "SNS mobile push sends to GCM and APNs endpoints here, not %s", e.platform)
	}
	if err != nil {
		return err
	}
	_, err = p.client.Publish(ctx, &sns.PublishInput{
		TargetArn:         &d.ChannelRef,
		Message:           &pub.message,
		MessageStructure:  aws.String("json"),
		MessageAttributes: pub.attributes,
	})
	if err == nil {
		return nil
	}
	err = redact(err, d.Token, snsToken(d))
	f := classify(err)
	switch {
	case f.code == codeEndpointDisabled || f.endpointGone():
		p.log.DebugContext(ctx, "snspush: endpoint disabled or deleted", "deviceId", d.ID, "endpoint", d.ChannelRef, "code", f.code)
		return domain.Wrap(err, domain.NotFound, "the device no longer receives pushes")
	case f.throttled():
		p.log.WarnContext(ctx, "snspush: SNS throttled a push", "endpoint", d.ChannelRef, "code", f.code, "status", f.status)
		e := domain.Wrap(err, domain.TooManyRequests, "the push service is throttling, try again later")
		e.RetryAfter = f.retryAfter
		return e
	case f.invalidParameter():
		p.log.WarnContext(ctx, "snspush: SNS refused a push", "endpoint", d.ChannelRef, "code", f.code, "err", err)
		return domain.Wrap(err, domain.Invalid, "the push service refused the message")
	}
	return p.unavailable(ctx, "Publish", d.ChannelRef, f, err)
}

// Unregister deletes d's endpoint. A device without one, an endpoint
// already deleted, and an endpoint that now belongs to another user or
// carries another token (it was taken over by a later registration) are
// left alone without error. Returns Unavailable.
func (p *Pusher) Unregister(ctx context.Context, d domain.Device) error {
	if e, ok := parseARN(d.ChannelRef); d.ChannelRef == "" || !ok || e.kind != "endpoint" {
		return nil
	}
	out, err := p.client.GetEndpointAttributes(ctx, &sns.GetEndpointAttributesInput{EndpointArn: &d.ChannelRef})
	if err != nil {
		err = redact(err, d.Token, snsToken(d))
		f := classify(err)
		if f.endpointGone() {
			return nil
		}
		return p.unavailable(ctx, "GetEndpointAttributes", d.ChannelRef, f, err)
	}
	owner, token := out.Attributes["CustomUserData"], out.Attributes["Token"]
	if (owner != "" && d.UserID != "" && owner != d.UserID) || (token != "" && d.Token != "" && token != snsToken(d)) {
		p.log.InfoContext(ctx, "snspush: endpoint taken over by a later registration; kept", "deviceId", d.ID, "endpoint", d.ChannelRef)
		return nil
	}
	if _, err := p.client.DeleteEndpoint(ctx, &sns.DeleteEndpointInput{EndpointArn: &d.ChannelRef}); err != nil {
		err = redact(err, d.Token, snsToken(d))
		f := classify(err)
		if f.endpointGone() {
			return nil
		}
		return p.unavailable(ctx, "DeleteEndpoint", d.ChannelRef, f, err)
	}
	return nil
}
