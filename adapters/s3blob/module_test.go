package s3blob_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/internal/testlog"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

func TestModuleGraph(t *testing.T) {
	cfg := s3blob.Config{Bucket: "media-bucket", Region: "eu-west-1"}
	err := fx.ValidateApp(
		fx.Supply(cfg, slog.New(slog.DiscardHandler)),
		s3blob.Module,
		fx.Invoke(func(ports.Blobs, *s3blob.Store) {}),
	)
	if err != nil {
		t.Fatal(err)
	}
}

// setAWSEnv points the AWS default chain at static test credentials only.
func setAWSEnv(t *testing.T, access, secret string) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// startModule starts an app with the module and returns the start error
// and the store when it started.
func startModule(t *testing.T, cfg s3blob.Config, log *slog.Logger) (ports.Blobs, error) {
	t.Helper()
	var blobs ports.Blobs
	app := fx.New(
		fx.Supply(cfg, log),
		s3blob.Module,
		fx.Populate(&blobs),
		fx.NopLogger,
	)
	if err := app.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	return blobs, nil
}

// TestModuleStart builds the store the way the apps do (AWS default chain,
// on this machine with AWS_CA_BUNDLE set) and checks the start-up check of
// the bucket.
func TestModuleStart(t *testing.T) {
	requireServer(t)
	cfg := testConfig()
	t.Run("Works", func(t *testing.T) {
		setAWSEnv(t, vgwAccess, vgwSecret)
		blobs, err := startModule(t, cfg, discardLog())
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if err := blobs.Put(t.Context(), ports.Object{Key: "variants/fx/thumb", ContentType: "image/webp", Size: 4}, strings.NewReader("RIFF")); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if info, err := blobs.Stat(t.Context(), "variants/fx/thumb"); err != nil || info.Size != 4 {
			t.Errorf("Stat = %+v, %v", info, err)
		}
	})
	t.Run("MissingBucket", func(t *testing.T) {
		setAWSEnv(t, vgwAccess, vgwSecret)
		c := cfg
		c.Bucket = "no-such-bucket-" + porttest.NewID()[:8]
		if _, err := startModule(t, c, discardLog()); err == nil || !strings.Contains(err.Error(), c.Bucket) {
			t.Errorf("start with a missing bucket: %v, want an error naming it", err)
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		setAWSEnv(t, vgwAccess, "wrong-secret")
		var rec testlog.Buffer
		_, err := startModule(t, cfg, rec.Logger())
		if err == nil || !strings.Contains(err.Error(), cfg.Bucket) {
			t.Errorf("start with a wrong secret: %v, want an error naming the bucket", err)
		}
		if l := rec.Lines(t); len(l) == 0 || l[0]["msg"] != "s3blob: S3 access denied" || l[0]["bucket"] != cfg.Bucket {
			t.Errorf("log lines %v, want an access denied line naming the bucket", l)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		setAWSEnv(t, vgwAccess, vgwSecret)
		srv := httptest.NewServer(nil)
		srv.Close()
		c := cfg
		c.Endpoint = srv.URL
		var rec testlog.Buffer
		if _, err := startModule(t, c, rec.Logger()); err != nil {
			t.Errorf("start with S3 unreachable: %v, want a warning only", err)
		}
		if l := rec.Lines(t); len(l) == 0 || l[len(l)-1]["msg"] != "s3blob: S3 not reachable at start; continuing" {
			t.Errorf("log lines %v, want the start warning", l)
		}
	})
}

// TestAccessDeniedOnRealServer: with a wrong secret, versitygw refuses the
// signature; that is Internal, logged with bucket and key.
func TestAccessDeniedOnRealServer(t *testing.T) {
	requireServer(t)
	var rec testlog.Buffer
	s, err := s3blob.NewWithAWS(testConfig(), testAWSConfig(vgwAccess, "wrong-secret"), rec.Logger())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Open(t.Context(), "uploads/u1/secret")
	if !domain.IsCode(err, domain.Internal) {
		t.Fatalf("Open with a wrong secret: %v, want Internal", err)
	}
	l := rec.Lines(t)
	if len(l) != 1 || l[0]["level"] != "ERROR" || l[0]["bucket"] != vgw.bucket || l[0]["key"] != "uploads/u1/secret" || l[0]["code"] != "SignatureDoesNotMatch" {
		t.Errorf("log lines %v, want one error naming bucket, key and SignatureDoesNotMatch", l)
	}
}
