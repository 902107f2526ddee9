package functions_test

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// TestInitDialsNothing configures MySQL, S3 and Cognito against one local
// listener that counts connections: building and starting the app (a cold
// start) must not connect anywhere; only requests do.
func TestInitDialsNothing(t *testing.T) {
	// The AWS SDK's default chain would look for credentials on the
	// network (IMDS) once a request is signed; Lambda puts them in the
	// environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var dials atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()
	addr := l.Addr().String()
	cfg := testConfig(t,
		"CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN=cloudpost@tcp("+addr+")/cloudpost", "CLOUDPOST_MYSQL_DIAL_TIMEOUT=1s",
		"CLOUDPOST_BLOB=s3", "CLOUDPOST_S3_BUCKET=cloudpost-media", "CLOUDPOST_S3_REGION=eu-west-1", "CLOUDPOST_S3_ENDPOINT=http://"+addr,
		"CLOUDPOST_AUTH=cognito", "CLOUDPOST_COGNITO_REGION=eu-west-1", "CLOUDPOST_COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123",
		"CLOUDPOST_COGNITO_CLIENT_ID=abcdef123456", "CLOUDPOST_COGNITO_ENDPOINT=http://"+addr)
	for _, h := range functions.HandlerNames {
		start := time.Now()
		app := startApp(t, cfg, h)
		if n := dials.Load(); n != 0 {
			t.Fatalf("%s: %d connections during start", h, n)
		}
		t.Logf("%s: started in %s", h, time.Since(start))
		if h != functions.HandlerAPI {
			continue
		}
		// The listener does count: readiness reaches every dependency.
		r := invokeV2(t, app, jsonReq("GET", "/readyz", nil))
		if r.Status != http.StatusServiceUnavailable || dials.Load() < 3 {
			t.Errorf("readyz: %d after %d connections: %s", r.Status, dials.Load(), r.Body)
		}
		dials.Store(0)
	}
}
