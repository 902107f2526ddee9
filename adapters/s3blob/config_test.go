package s3blob_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

func TestConfigFromEnvironment(t *testing.T) {
	var c s3blob.Config
	err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{
		"CLOUDPOST_S3_BUCKET":     "media-prod",
		"CLOUDPOST_S3_REGION":     "eu-west-1",
		"CLOUDPOST_S3_ENDPOINT":   "http://127.0.0.1:7070",
		"CLOUDPOST_S3_PATH_STYLE": "true",
		"CLOUDPOST_MEDIA_CDN_URL": "https://media.example.com/",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := s3blob.Config{Bucket: "media-prod", Region: "eu-west-1", Endpoint: "http://127.0.0.1:7070", PathStyle: true, CDNURL: "https://media.example.com/"}
	if c != want {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	var d s3blob.Config
	if err := env.ParseWithOptions(&d, env.Options{Environment: map[string]string{}}); err != nil || d.PathStyle {
		t.Errorf("defaults: %+v, %v", d, err)
	}
}

func TestConfigValidate(t *testing.T) {
	pemKey := testRSAKeyPEM(t)
	ok := s3blob.Config{Bucket: "media-bucket", Region: "us-east-1"}
	for _, c := range []struct {
		mod  func(*s3blob.Config)
		want string // the variable the message must name; "" = valid
	}{
		{func(c *s3blob.Config) {}, ""},
		{func(c *s3blob.Config) { c.Bucket = "" }, "CLOUDPOST_S3_BUCKET"},
		{func(c *s3blob.Config) { c.Bucket = "Media_Bucket" }, "CLOUDPOST_S3_BUCKET"},
		{func(c *s3blob.Config) { c.Bucket = "ab" }, "CLOUDPOST_S3_BUCKET"},
		{func(c *s3blob.Config) { c.Bucket = "a..b" }, "CLOUDPOST_S3_BUCKET"},
		{func(c *s3blob.Config) { c.Bucket = strings.Repeat("b", 63) }, ""},
		{func(c *s3blob.Config) { c.Bucket = strings.Repeat("b", 64) }, "CLOUDPOST_S3_BUCKET"},
		{func(c *s3blob.Config) { c.Region = "" }, "CLOUDPOST_S3_REGION"},
		{func(c *s3blob.Config) { c.Endpoint = "127.0.0.1:7070" }, "CLOUDPOST_S3_ENDPOINT"},
		{func(c *s3blob.Config) { c.Endpoint = "ftp://x" }, "CLOUDPOST_S3_ENDPOINT"},
		{func(c *s3blob.Config) { c.Endpoint = "https://s3.example.com" }, ""},
		{func(c *s3blob.Config) { c.CDNURL = "media.example.com" }, "CLOUDPOST_MEDIA_CDN_URL"},
		{func(c *s3blob.Config) { c.CDNURL = "https://cdn.example.com/?x=1" }, "CLOUDPOST_MEDIA_CDN_URL"},
		{func(c *s3blob.Config) { c.CDNURL = "https://cdn.example.com/media" }, ""},
		{func(c *s3blob.Config) { c.CDNURL, c.CloudFrontKeyID = "https://cdn.example.com", "K1" }, "CLOUDPOST_CLOUDFRONT_KEY_ID"},
		{func(c *s3blob.Config) { c.CloudFrontKeyID, c.CloudFrontPrivateKey = "K1", pemKey }, "CLOUDPOST_MEDIA_CDN_URL"},
		{func(c *s3blob.Config) {
			c.CDNURL, c.CloudFrontKeyID, c.CloudFrontPrivateKey = "https://cdn.example.com", "K1", "not a key"
		}, "CLOUDPOST_CLOUDFRONT_PRIVATE_KEY"},
		{func(c *s3blob.Config) {
			c.CDNURL, c.CloudFrontKeyID, c.CloudFrontPrivateKey = "https://cdn.example.com", "K1", pemKey
		}, ""},
	} {
		cfg := ok
		c.mod(&cfg)
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Validate(%+v): %v", cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Validate(%+v) = %v, want an error naming %s", cfg, err, c.want)
		}
		if _, nerr := s3blob.NewWithAWS(cfg, testAWSConfig("a", "b"), nil); (nerr == nil) != (err == nil) {
			t.Errorf("NewWithAWS(%+v) = %v, Validate = %v", cfg, nerr, err)
		}
	}
}

func testRSAKeyPEM(t testing.TB) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestCDNURLs(t *testing.T) {
	cfg := s3blob.Config{Bucket: "media-bucket", Region: "us-east-1", CDNURL: "https://media.example.com/"}
	s, err := s3blob.NewWithAWS(cfg, testAWSConfig("a", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"variants/m1/thumb":    "https://media.example.com/variants/m1/thumb",
		"uploads/ü ber/x?y#z":  "https://media.example.com/uploads/%C3%BC%20ber/x%3Fy%23z",
		"uploads/u1/a+b~c_d.e": "https://media.example.com/uploads/u1/a+b~c_d.e",
	} {
		got, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: key, Expires: time.Hour})
		if err != nil || got != want {
			t.Errorf("PresignDownload(%q) = %q, %v; want %q", key, got, err, want)
		}
		if u, err := url.Parse(got); err != nil || strings.TrimPrefix(u.Path, "/") != key {
			t.Errorf("URL %q does not decode to the key %q", got, key)
		}
	}
	if _, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "a//b", Expires: time.Hour}); !domain.IsCode(err, domain.Invalid) {
		t.Errorf("PresignDownload(bad key): %v, want Invalid", err)
	}
}

// TestCloudFrontSignedURLs verifies the canned-policy signature with the
// public key, as CloudFront does.
func TestCloudFrontSignedURLs(t *testing.T) {
	pemKey := testRSAKeyPEM(t)
	block, _ := pem.Decode([]byte(pemKey))
	k, _ := x509.ParsePKCS8PrivateKey(block.Bytes)
	pub := &k.(*rsa.PrivateKey).PublicKey

	cfg := s3blob.Config{Bucket: "media-bucket", Region: "us-east-1", CDNURL: "https://d111.cloudfront.net/media", CloudFrontKeyID: "K2JCJMDEHXQW5F", CloudFrontPrivateKey: pemKey}
	s, err := s3blob.NewWithAWS(cfg, testAWSConfig("a", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	got, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/m1/thumb", Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	base, query, _ := strings.Cut(got, "?")
	if base != "https://d111.cloudfront.net/media/variants/m1/thumb" {
		t.Errorf("base %q", base)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	// At least the hour asked for, at most an eighth more (reuse window).
	if err != nil || exp < before.Add(time.Hour).Unix() || exp > time.Now().Add(time.Hour+time.Hour/8).Unix() {
		t.Errorf("Expires=%s, want between 1h and 1h7m30s from now", q.Get("Expires"))
	}
	if q.Get("Key-Pair-Id") != "K2JCJMDEHXQW5F" {
		t.Errorf("Key-Pair-Id=%q", q.Get("Key-Pair-Id"))
	}
	sig, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(q.Get("Signature")))
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, base, exp)
	sum := sha1.Sum([]byte(policy))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig); err != nil {
		t.Errorf("signature does not verify over the canned policy: %v", err)
	}

	// Expiries are rounded up to steps of an eighth of the validity, so the
	// same key signed again within a step gives the same URL.
	if again, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/m1/thumb", Expires: time.Hour}); err != nil || again != got {
		t.Errorf("second PresignDownload = %q, %v; want the same URL", again, err)
	}
	if longer, err := s.PresignDownload(t.Context(), ports.DownloadPolicy{Key: "variants/m1/thumb", Expires: 2 * time.Hour}); err != nil || longer == got {
		t.Errorf("PresignDownload(2h) = %q, %v; want another URL", longer, err)
	}
}
