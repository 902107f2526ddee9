package s3blob_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/s3blob/s3test"
)

// The versitygw server that the package's integration tests share: one
// process per test run, on a free port, with the posix backend in a temp
// directory, and one bucket per run.
const (
	vgwAccess = s3test.Access
	vgwSecret = s3test.Secret
	vgwRegion = s3test.Region
)

var vgw struct {
	bin      string
	endpoint string // http://127.0.0.1:port
	bucket   string
	skip     string // why integration tests skip, when they do
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	bin, err := s3test.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "s3blob tests: %v (CI=true: a missing S3 server is a failure; run scripts/ci/versitygw.sh)\n", err)
			return 1
		}
		vgw.skip = err.Error() + "; run scripts/ci/versitygw.sh to install it"
		return m.Run()
	}
	vgw.bin = bin
	srv, err := s3test.Start(bin, http.DefaultClient, "http")
	if err != nil {
		fmt.Fprintf(os.Stderr, "s3blob tests: starting versitygw: %v\n", err)
		return 1
	}
	defer srv.Stop()
	vgw.endpoint, vgw.bucket = srv.Endpoint, srv.Bucket
	return m.Run()
}

// requireServer skips (or, with CI=true, TestMain has already failed) when
// versitygw is missing.
func requireServer(t testing.TB) {
	t.Helper()
	if vgw.skip != "" {
		t.Skip(vgw.skip)
	}
}

// testAWSConfig is the AWS configuration of the tests: static credentials,
// the standard retryer with no backoff wait, and no retry quota, so failure
// cases are quick and deterministic.
func testAWSConfig(access, secret string) aws.Config {
	return aws.Config{
		Region:      vgwRegion,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(access, secret, "")),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

func testConfig() s3blob.Config {
	return s3blob.Config{Bucket: vgw.bucket, Region: vgwRegion, Endpoint: vgw.endpoint, PathStyle: true}
}

// newTestStore returns a Store on the shared bucket; log may be nil.
func newTestStore(t testing.TB, log *slog.Logger) *s3blob.Store {
	t.Helper()
	requireServer(t)
	s, err := s3blob.NewWithAWS(testConfig(), testAWSConfig(vgwAccess, vgwSecret), log)
	if err != nil {
		t.Fatalf("NewWithAWS: %v", err)
	}
	return s
}

// discardLog is a logger for stores whose log lines a test does not check.
func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
