package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/s3blob/s3test"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/ports"
)

// TestS3Setup runs "cloudpost s3 setup" against versitygw on a bucket that
// does not exist yet, twice, and then checks what a browser on an allowed
// origin and on another one get from the bucket's CORS preflight for a
// presigned upload.
func TestS3Setup(t *testing.T) {
	srv := startS3(t)
	const origin = "https://app.example.com"
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	bucket := "cloudpost-cli-" + hex.EncodeToString(suffix)
	cfg, err := config.Load([]string{
		"CLOUDPOST_BLOB=s3", "CLOUDPOST_S3_BUCKET=" + bucket, "CLOUDPOST_S3_REGION=" + s3test.Region,
		"CLOUDPOST_S3_ENDPOINT=" + srv.Endpoint, "CLOUDPOST_S3_PATH_STYLE=true",
		"CLOUDPOST_CORS_ORIGINS=" + origin + ",http://localhost:5173",
	})
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := s3Command(cfg, []string{"setup"}, &out); err != nil {
		t.Fatalf("s3 setup: %v\n%s", err, out.String())
	}
	t.Logf("first run:\n%s", out.String())
	want := []string{
		"s3 setup: bucket: applied (created in us-east-1)",
		"s3 setup: block-public-access: skipped (the server does not implement public access blocks (PutPublicAccessBlock: 501 NotImplemented))",
		"s3 setup: object-ownership: applied (BucketOwnerEnforced: ACLs disabled)",
		"s3 setup: cors: applied (PUT, GET, HEAD from https://app.example.com, http://localhost:5173)",
		"s3 setup: lifecycle: skipped (the server does not implement lifecycle configuration (GetBucketLifecycleConfiguration: 501 NotImplemented))",
		"s3 setup: bucket " + bucket + " is ready",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); !slices.Equal(got, want) {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out.Reset()
	if err := s3Command(cfg, []string{"setup"}, &out); err != nil {
		t.Fatalf("s3 setup again: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "s3 setup: bucket: applied (exists already)\n") {
		t.Errorf("second run:\n%s", out.String())
	}

	// A browser preflights the presigned PUT with the target's headers.
	store, err := s3blob.New(t.Context(), cfg.S3, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := store.PresignUpload(t.Context(), ports.UploadPolicy{Key: "uploads/u1/m1", ContentType: "image/png", Size: 10, Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	preflight := func(origin string) *http.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		resp, err := s3test.UploadPreflight(ctx, tg.URL, origin)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := preflight(origin)
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(allowed, "content-type") || !strings.Contains(allowed, "if-none-match") {
		t.Errorf("preflight from %s: %d %v, want 200 allowing PUT with content-type and if-none-match", origin, resp.StatusCode, resp.Header)
	}
	if resp := preflight("https://evil.example.net"); resp.StatusCode/100 == 2 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v, want a refusal without a CORS grant", resp.StatusCode, resp.Header)
	}
}

// TestS3SetupRefusals checks the command's usage and configuration errors,
// which make main exit with status 1.
func TestS3SetupRefusals(t *testing.T) {
	memory, err := config.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s3Command(memory, []string{"setup"}, &out); err == nil || !strings.Contains(err.Error(), "CLOUDPOST_BLOB=s3") {
		t.Errorf("s3 setup with memory blobs: %v, want an error naming CLOUDPOST_BLOB=s3", err)
	}
	for _, args := range [][]string{nil, {"create"}, {"setup", "now"}} {
		if err := s3Command(memory, args, &out); err == nil || !strings.Contains(err.Error(), "usage: cloudpost s3 setup") {
			t.Errorf("s3 %v: %v, want the usage", args, err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("output on refusals: %q", out.String())
	}
	// Through run, as main calls it: a failure is an error (exit status 1).
	t.Setenv("CLOUDPOST_BLOB", "memory")
	if err := run([]string{"s3", "setup"}); err == nil {
		t.Error("run(s3 setup) with memory blobs succeeded")
	}
}
