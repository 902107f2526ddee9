// Package s3test starts a real S3 protocol server (versitygw) for tests:
// the s3blob contract tests and the app's end-to-end tests with
// CLOUDPOST_BLOB=s3. scripts/ci/versitygw.sh installs the binary.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
)

// Credentials and region of every server Start runs, and the browser
// origin its bucket's CORS configuration allows.
const (
	Access = "cloudpostAK"
	Secret = "cloudpostSecretKey0123456789"
	Region = "us-east-1"
	Origin = "http://localhost:3000"
)

// Find looks in CLOUDPOST_VERSITYGW, the cache that
// scripts/ci/versitygw.sh installs into, then PATH.
func Find() (string, error) {
	if p := os.Getenv("CLOUDPOST_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CLOUDPOST_VERSITYGW=%s: %w", p, err)
		}
		return p, nil
	}
	cache := os.Getenv("CLOUDPOST_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "cloudpost")
		}
	}
	if cache != "" {
		if p := filepath.Join(cache, "bin", "versitygw"); fileExists(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw not found (CLOUDPOST_VERSITYGW, $CLOUDPOST_CACHE/bin, PATH)")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Server is a running versitygw process with one bucket.
type Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	// Bucket is the bucket created for this server.
	Bucket string
	// Setup is what s3blob's Store.Setup reported for Bucket.
	Setup []s3blob.SetupStep
	// Stop ends the process and removes its data.
	Stop func()
}

// Start starts versitygw on a free port with the posix backend in
// a new temp directory, waits for its health check through client, and
// prepares a bucket with s3blob's Store.Setup (CORS for Origin). scheme is
// "http", or "https" with extra holding the --cert and --key flags.
func Start(bin string, client *http.Client, scheme string, extra ...string) (srv *Server, err error) {
	dir, err := os.MkdirTemp("", "cloudpost-s3blob-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			logFile.Close()
		}
	}()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--access", Access, "--secret", Secret, "--region", Region,
		"--port", addr, "--health", "/health", "--keep-alive", "--quiet",
	}, extra...)
	cmd := exec.Command(bin, append(args, "posix", data)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so the stop below cannot reach anything else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	srv = &Server{Endpoint: scheme + "://" + addr, Bucket: "cloudpost-test-" + randomHex(6)}
	srv.Stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		os.RemoveAll(dir)
	}
	if err := waitHealthy(client, srv.Endpoint+"/health", exited); err != nil {
		srv.Stop()
		log, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("%w; its log:\n%s", err, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	awsCfg := aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider(Access, Secret, ""), HTTPClient: client}
	store, err := s3blob.NewWithAWS(s3blob.Config{Bucket: srv.Bucket, Region: Region, Endpoint: srv.Endpoint, PathStyle: true}, awsCfg, nil)
	if err == nil {
		srv.Setup, err = store.Setup(ctx, s3blob.SetupOptions{Origins: []string{Origin}})
	}
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("setting up bucket %s: %w", srv.Bucket, err)
	}
	return srv, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHealthy(client *http.Client, url string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("versitygw did not become healthy within 30s")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UploadPreflight sends the CORS preflight a browser on origin sends before
// fetch(url, {method: "PUT", headers: target.Headers}) of a presigned
// upload, and returns the answer (body closed).
func UploadPreflight(ctx context.Context, url, origin string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "PUT")
	req.Header.Set("Access-Control-Request-Headers", "content-type,if-none-match")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}
