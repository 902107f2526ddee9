package s3blob

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Config configures a Store. Its fields carry env tags so the app's config
// struct can embed it. Credentials are not part of it: they come from the
// AWS default chain (environment, shared files, the Lambda or ECS role).
type Config struct {
	// Bucket is the private bucket that holds originals and variants.
	Bucket string `env:"CLOUDPOST_S3_BUCKET"`
	// Region is the bucket's AWS region (any non-empty string for most
	// S3-compatible servers; versitygw's default is us-east-1).
	Region string `env:"CLOUDPOST_S3_REGION"`
	// Endpoint is the base URL of an S3-compatible server, e.g.
	// http://127.0.0.1:7070. Empty: AWS S3 itself.
	Endpoint string `env:"CLOUDPOST_S3_ENDPOINT"`
	// PathStyle addresses the bucket as the first path segment
	// (endpoint/bucket/key) instead of as a host name; most S3-compatible
	// servers need it.
	PathStyle bool `env:"CLOUDPOST_S3_PATH_STYLE" envDefault:"false"`
	// CDNURL, when set, makes PresignDownload return URLs under this base
	// (e.g. https://media.example.com, a CloudFront distribution whose origin
	// is the bucket through an origin access control) instead of presigned
	// S3 GETs. The bucket stays private: only the distribution can read it.
	CDNURL string `env:"CLOUDPOST_MEDIA_CDN_URL"`
	// CloudFrontKeyID and CloudFrontPrivateKey (PEM, PKCS#1 or PKCS#8 RSA),
	// both set or both empty, make the CDN URLs CloudFront signed URLs
	// (canned policy) that expire like presigned GETs. Without them the CDN
	// URLs are plain and never expire; the distribution then serves any
	// object to anyone who knows its key.
	CloudFrontKeyID      string `env:"CLOUDPOST_CLOUDFRONT_KEY_ID"`
	CloudFrontPrivateKey string `env:"CLOUDPOST_CLOUDFRONT_PRIVATE_KEY"`
}

// bucketName is S3's rule for new general purpose buckets (3-63 characters,
// lower case letters, digits, dots and hyphens, starting and ending with a
// letter or digit).
// bucketName is S3's bucket naming rule without its length (3 to 63,
// checked apart: a counted repetition makes the regexp ten times dearer to
// compile, at every process start).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)

// Validate checks the configuration without any I/O. Each message names the
// environment variable at fault.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Bucket == "":
		bad("CLOUDPOST_S3_BUCKET", "is required with CLOUDPOST_BLOB=s3")
	case len(c.Bucket) < 3 || len(c.Bucket) > 63 || !bucketName.MatchString(c.Bucket) || strings.Contains(c.Bucket, ".."):
		bad("CLOUDPOST_S3_BUCKET", "%q is not a valid bucket name (3-63 of a-z 0-9 . -)", c.Bucket)
	}
	if c.Region == "" {
		bad("CLOUDPOST_S3_REGION", "is required with CLOUDPOST_BLOB=s3 (e.g. eu-west-1)")
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("CLOUDPOST_S3_ENDPOINT", "must be an http(s) base URL like http://127.0.0.1:7070, not %q", c.Endpoint)
		}
	}
	if c.CDNURL != "" {
		if u, err := url.Parse(c.CDNURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("CLOUDPOST_MEDIA_CDN_URL", "must be an http(s) base URL like https://media.example.com, not %q", c.CDNURL)
		}
	}
	switch {
	case (c.CloudFrontKeyID == "") != (c.CloudFrontPrivateKey == ""):
		bad("CLOUDPOST_CLOUDFRONT_KEY_ID", "and CLOUDPOST_CLOUDFRONT_PRIVATE_KEY must be set together")
	case c.CloudFrontKeyID != "" && c.CDNURL == "":
		bad("CLOUDPOST_CLOUDFRONT_KEY_ID", "needs CLOUDPOST_MEDIA_CDN_URL (the distribution's base URL)")
	case c.CloudFrontPrivateKey != "":
		if _, err := parseCloudFrontKey(c.CloudFrontPrivateKey); err != nil {
			bad("CLOUDPOST_CLOUDFRONT_PRIVATE_KEY", "%v", err)
		}
	}
	return errors.Join(errs...)
}
