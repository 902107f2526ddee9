package s3blob

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// cdn builds download URLs under a CDN base instead of presigned S3 GETs.
type cdn struct {
	base   string // no trailing slash
	signer *sign.URLSigner
}

func newCDN(c Config) (*cdn, error) {
	if c.CDNURL == "" {
		return nil, nil
	}
	d := &cdn{base: strings.TrimSuffix(c.CDNURL, "/")}
	if c.CloudFrontKeyID != "" {
		key, err := parseCloudFrontKey(c.CloudFrontPrivateKey)
		if err != nil {
			return nil, err
		}
		d.signer = sign.NewURLSigner(c.CloudFrontKeyID, key)
	}
	return d, nil
}

// url returns the CDN URL of key for a validity of d from now: plain, or
// signed with a canned policy when a key pair is set. A signed URL expires
// between d and d+d/8 from now: expiries are rounded up to steps of d/8, so
// every process signing the key during a step makes the same URL and
// browsers and the CDN can cache the image under it. (A signature is an
// RSA operation; core/media reuses the URLs it gets.)
func (d *cdn) url(key string, dur time.Duration, now time.Time) (string, error) {
	u := d.base + "/" + escapeKey(key)
	if d.signer == nil {
		return u, nil
	}
	step := max(dur/8, time.Second)
	return d.signer.Sign(u, now.Add(dur).Add(step-1).Truncate(step))
}

// escapeKey escapes each segment of key for a URL path, so the decoded path
// yields the key again (blobcheck.Key has ruled out empty, "." and ".." segments).
func escapeKey(key string) string {
	if !needsEscape(key) {
		return key
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// needsEscape reports whether key has a byte outside the unreserved set,
// sparing the allocations of escaping for ordinary keys.
func needsEscape(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~', c == '/':
		default:
			return true
		}
	}
	return false
}

// parseCloudFrontKey parses the PEM of a CloudFront key group's RSA private
// key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY").
func parseCloudFrontKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("is not a PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("is not a PKCS#1 or PKCS#8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("must be an RSA key (CloudFront signed URLs)")
	}
	return rk, nil
}
