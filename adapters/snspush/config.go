package snspush

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Config configures a Pusher. Its fields carry env tags so the app's config
// struct can embed it. Credentials are not part of it: they come from the
// AWS default chain (environment, shared files, the Lambda or ECS role).
type Config struct {
	// Region is the AWS region of the platform applications. Empty: the
	// region named in the application ARNs (which must then agree).
	Region string `env:"CLOUDPOST_SNS_REGION"`
	// Endpoint is the base URL of an SNS-compatible server (an emulator such
	// as moto, e.g. http://127.0.0.1:5000). Empty: Amazon SNS itself.
	Endpoint string `env:"CLOUDPOST_SNS_ENDPOINT"`
	// FCMApplicationARN is the SNS platform application (platform GCM, with
	// FCM HTTP v1 credentials) that FCM devices register with, e.g.
	// arn:aws:sns:eu-west-1:123456789012:app/GCM/cloudpost. Empty: FCM
	// devices are refused.
	FCMApplicationARN string `env:"CLOUDPOST_SNS_FCM_APPLICATION_ARN"`
	// APNsApplicationARN is the SNS platform application (platform APNS, or
	// APNS_SANDBOX for development builds) that APNs devices register with.
	// Empty: APNs devices are refused.
	APNsApplicationARN string `env:"CLOUDPOST_SNS_APNS_APPLICATION_ARN"`
	// APNsSandbox says that APNsApplicationARN is an APNS_SANDBOX
	// (development) application, whose pushes go under the APNS_SANDBOX
	// message key. It must agree with the ARN, which names its platform;
	// Validate checks it so a production app is never configured with
	// development builds in mind, or the other way round.
	APNsSandbox bool `env:"CLOUDPOST_SNS_APNS_SANDBOX" envDefault:"false"`
}

// SNS platform names, as they appear in application and endpoint ARNs and
// as the keys of a Publish message with MessageStructure "json".
const (
	platformGCM         = "GCM"
	platformAPNs        = "APNS"
	platformAPNsSandbox = "APNS_SANDBOX"
)

// snsARN is the part of an SNS platform application or endpoint ARN that
// the adapter uses.
type snsARN struct {
	partition, region, account string
	// kind is "app" or "endpoint".
	kind string
	// platform is GCM, APNS, APNS_SANDBOX, ...
	platform string
	// app is the application's name.
	app string
	// id is the endpoint's id; empty for an application.
	id string
}

// parseARN parses arn:<partition>:sns:<region>:<account>:app/<platform>/<name>
// and arn:<partition>:sns:<region>:<account>:endpoint/<platform>/<name>/<id>.
func parseARN(s string) (snsARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "sns" || parts[3] == "" || parts[4] == "" {
		return snsARN{}, false
	}
	a := snsARN{partition: parts[1], region: parts[3], account: parts[4]}
	res := strings.Split(parts[5], "/")
	switch {
	case len(res) == 3 && res[0] == "app":
	case len(res) == 4 && res[0] == "endpoint" && res[3] != "":
		a.id = res[3]
	default:
		return snsARN{}, false
	}
	a.kind, a.platform, a.app = res[0], res[1], res[2]
	if a.platform == "" || a.app == "" {
		return snsARN{}, false
	}
	return a, true
}

// belongsTo reports whether endpoint a is an endpoint of application app.
func (a snsARN) belongsTo(app snsARN) bool {
	return a.kind == "endpoint" && app.kind == "app" && a.partition == app.partition && a.region == app.region &&
		a.account == app.account && a.platform == app.platform && a.app == app.app
}

// Validate checks the configuration without any I/O. Each message names the
// environment variable at fault.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.FCMApplicationARN == "" && c.APNsApplicationARN == "" {
		bad("CLOUDPOST_SNS_FCM_APPLICATION_ARN", "or CLOUDPOST_SNS_APNS_APPLICATION_ARN is required with SNS mobile push")
	}
	region := c.Region
	checkApp := func(name, value string, platforms ...string) (snsARN, bool) {
		if value == "" {
			return snsARN{}, false
		}
		a, ok := parseARN(value)
		if !ok || a.kind != "app" {
			bad(name, "must be an SNS platform application ARN like arn:aws:sns:eu-west-1:123456789012:app/%s/myapp, not %q", platforms[0], value)
			return snsARN{}, false
		}
		found := false
		for _, p := range platforms {
			found = found || a.platform == p
		}
		if !found {
			bad(name, "names a %s application; it must be a %s one", a.platform, strings.Join(platforms, " or "))
			return snsARN{}, false
		}
		switch {
		case region == "":
			region = a.region
		case a.region != region:
			bad(name, "is in region %s, but the SNS region is %s (CLOUDPOST_SNS_REGION or the other application)", a.region, region)
		}
		return a, true
	}
	checkApp("CLOUDPOST_SNS_FCM_APPLICATION_ARN", c.FCMApplicationARN, platformGCM)
	if a, ok := checkApp("CLOUDPOST_SNS_APNS_APPLICATION_ARN", c.APNsApplicationARN, platformAPNs, platformAPNsSandbox); ok {
		switch {
		case c.APNsSandbox && a.platform != platformAPNsSandbox:
			bad("CLOUDPOST_SNS_APNS_SANDBOX", "is true, but CLOUDPOST_SNS_APNS_APPLICATION_ARN is an APNS (production) application")
		case !c.APNsSandbox && a.platform == platformAPNsSandbox:
			bad("CLOUDPOST_SNS_APNS_SANDBOX", "must be true: CLOUDPOST_SNS_APNS_APPLICATION_ARN is an APNS_SANDBOX (development) application")
		}
	} else if c.APNsSandbox && c.APNsApplicationARN == "" {
		bad("CLOUDPOST_SNS_APNS_SANDBOX", "is set without CLOUDPOST_SNS_APNS_APPLICATION_ARN")
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			bad("CLOUDPOST_SNS_ENDPOINT", "must be an http(s) base URL like http://127.0.0.1:5000, not %q", c.Endpoint)
		}
	}
	return errors.Join(errs...)
}

// region returns the configured region, or the applications' region.
func (c Config) region() string {
	if c.Region != "" {
		return c.Region
	}
	for _, s := range []string{c.FCMApplicationARN, c.APNsApplicationARN} {
		if a, ok := parseARN(s); ok {
			return a.region
		}
	}
	return ""
}
