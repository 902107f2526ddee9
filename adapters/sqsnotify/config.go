package sqsnotify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// DefaultTimeout bounds one Dispatch (its retries included) when
// Config.Timeout is zero: the hint is sent while an API request waits.
const DefaultTimeout = 2 * time.Second

// Config configures a Notifier. Credentials are not part of it: they come
// from the AWS default chain (environment, shared files, the Lambda role).
type Config struct {
	// QueueURL is the SQS queue the hints go to (CLOUDPOST_PUSH_QUEUE_URL),
	// e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/cloudpost-push.
	QueueURL string
	// Region is the queue's region. Empty: the region in an AWS queue
	// URL's host, else the AWS default chain's (AWS_REGION).
	Region string
	// Endpoint is the base URL of an SQS-compatible server (an emulator
	// such as moto or ElasticMQ, e.g. http://127.0.0.1:5000). Empty: the
	// queue URL's scheme and host when they are not Amazon SQS's
	// (sqs.<region>.amazonaws.com), so an emulator's queue URL alone is
	// enough; Amazon SQS's regional endpoint otherwise.
	Endpoint string
	// Timeout bounds one Dispatch, retries included (0: DefaultTimeout).
	Timeout time.Duration
}

// awsQueueHost matches the hosts of Amazon SQS queue URLs: the current
// form sqs.<region>.amazonaws.com (.com.cn in China), and the legacy
// <region>.queue.amazonaws.com and queue.amazonaws.com (us-east-1).
var awsQueueHost = regexp.MustCompile(`^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|(?:([a-z0-9-]+)\.)?queue\.amazonaws\.com(?:\.cn)?)$`)

// Validate checks the configuration without any I/O. Each message names
// the environment variable (or the setting) at fault.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.Trim(u.Path, "/") == "" || u.RawQuery != "" || u.User != nil {
		bad("CLOUDPOST_PUSH_QUEUE_URL", "must be an SQS queue URL like https://sqs.eu-west-1.amazonaws.com/123456789012/cloudpost-push, not %q", c.QueueURL)
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			bad("sqsnotify endpoint", "must be an http(s) base URL like http://127.0.0.1:5000, not %q", c.Endpoint)
		}
	}
	if c.Timeout < 0 {
		bad("sqsnotify timeout", "must not be negative")
	}
	return errors.Join(errs...)
}

// endpoint returns the base URL to send to ("" for Amazon SQS's regional
// endpoint) and the region the queue URL names ("" when it names none).
// Call it on a valid Config.
func (c Config) endpoint() (base, region string) {
	u, _ := url.Parse(c.QueueURL)
	if m := awsQueueHost.FindStringSubmatch(strings.ToLower(u.Hostname())); m != nil {
		region = m[1] + m[2]
		if region == "" {
			region = "us-east-1" // queue.amazonaws.com
		}
		if c.Endpoint != "" {
			return strings.TrimSuffix(c.Endpoint, "/"), region
		}
		return "", region
	}
	if c.Endpoint != "" {
		return strings.TrimSuffix(c.Endpoint, "/"), ""
	}
	return u.Scheme + "://" + u.Host, ""
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}
