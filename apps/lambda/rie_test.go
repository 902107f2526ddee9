package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/internal/testlog"
)

// These tests run the real bootstrap binary (built for this machine with
// the flags of `make lambda` that shape the binary, see buildFlags) under
// the AWS Lambda Runtime Interface Emulator and invoke it over HTTP, as the
// Lambda service would. scripts/ci/lambda-rie.sh installs the emulator.

var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cloudpost-lambda-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildFlags are make lambda's that shape the binary (the lambda.norpc
// tag, stripped symbols), for this machine, without the two that only
// matter for a deployable binary: -trimpath and CGO_ENABLED=0 change the
// build configuration of every package, so with them this build compiled
// all ~460 dependencies again instead of finding them in the build cache
// that `go vet ./...` and `go build` (make test runs vet first) fill; it
// took minutes on a cold cache. With these flags only the packages the tag
// selects files in, the main package and the link are new. Zipped, the
// binary is within 1% of the one -trimpath and CGO_ENABLED=0 give for the
// same architecture (6.51 against 6.49 MB on amd64), which is what
// TestBootstrapZipSize needs.
var buildFlags = []string{"build", "-tags", "lambda.norpc", "-ldflags=-s -w"}

// goBuild builds pkg (relative to this directory) into the test's build
// directory once per test binary.
var goBuild = func() func(name, pkg string) (string, error) {
	var mu sync.Mutex
	built := map[string]string{}
	return func(name, pkg string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := built[name]; ok {
			return p, nil
		}
		out := filepath.Join(buildDir, name)
		cmd := exec.Command("go", append(append([]string(nil), buildFlags...), "-o", out, pkg)...)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		built[name] = out
		return out, nil
	}
}()

// bootstrapBinary returns the bootstrap, built once per test binary.
func bootstrapBinary(t testing.TB) string {
	t.Helper()
	p, err := goBuild("bootstrap", ".")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// helloBinary returns testdata/hello (the smallest aws-lambda-go
// function), built once per test binary with the same flags.
func helloBinary(t testing.TB) string {
	t.Helper()
	p, err := goBuild("hello", "./testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// findRIE returns the emulator's path: CLOUDPOST_LAMBDA_RIE, the cache
// scripts/ci/lambda-rie.sh installs into, or aws-lambda-rie on PATH.
// Missing, the test fails under CI=true and is skipped otherwise.
func findRIE(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda Runtime Interface Emulator runs on Linux only")
	}
	candidates := []string{os.Getenv("CLOUDPOST_LAMBDA_RIE")}
	cache := os.Getenv("CLOUDPOST_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "cloudpost")
		}
	}
	if cache != "" {
		candidates = append(candidates, filepath.Join(cache, "bin", "aws-lambda-rie"))
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); c != "" && err == nil && !fi.IsDir() {
			return c
		}
	}
	msg := "aws-lambda-rie not found (CLOUDPOST_LAMBDA_RIE, $CLOUDPOST_CACHE/bin or PATH): run scripts/ci/lambda-rie.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// emulator is a running aws-lambda-rie with one function.
type emulator struct {
	url  string
	cmd  *exec.Cmd
	out  *testlog.Buffer
	done chan struct{}
}

// freePort returns a port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).AddrPort().String()
}

// testEnv is the function's environment: memory adapters, JSON logs.
var testEnv = []string{
	"CLOUDPOST_LOG_LEVEL=info",
	"CLOUDPOST_PUBLIC_URL=https://api.example.com",
	"AWS_LAMBDA_FUNCTION_NAME=cloudpost-test",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
	"AWS_REGION=eu-west-1",
	"CLOUDPOST_LOCAL_BCRYPT_COST=4",
}

// startEmulator runs the binary bin returns under the emulator on free
// loopback ports (never 8080, and not the emulator's default runtime API
// port 9001) and stops it at cleanup. bin is called after the emulator is
// found, so a test without one skips before building anything.
func startEmulator(t testing.TB, bin func(testing.TB) string, env ...string) *emulator {
	t.Helper()
	rie := findRIE(t)
	path := bin(t)
	addr, apiAddr := freePort(t), freePort(t)
	e := &emulator{url: "http://" + addr + "/2015-03-31/functions/function/invocations", out: &testlog.Buffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, path)
	e.cmd.Dir = buildDir
	e.cmd.Env = append(append(append([]string(nil), os.Environ()...), testEnv...), env...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	// Its own process group, so the runtime it spawns is stopped with it.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(func() { e.stop(t) })
	// Generous: this only fails when the emulator hangs, not when a busy
	// machine starts it slowly.
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e
		}
		select {
		case <-e.done:
			t.Fatalf("the emulator exited: %s", e.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator does not listen on %s: %s", addr, e.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends SIGTERM (the emulator then shuts the runtime down the way
// Lambda does) and kills the process group if it lingers.
func (e *emulator) stop(t testing.TB) {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(time.Minute): // a hang, not a slow machine
		t.Errorf("the emulator did not stop on SIGTERM: %s", e.out)
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
}

// invoke posts payload to the function and returns its answer.
func (e *emulator) invoke(t testing.TB, payload any) []byte {
	t.Helper()
	status, out := e.invokeStatus(t, payload)
	if status != http.StatusOK {
		t.Fatalf("invoke: HTTP %d: %s\n%s", status, out, e.out)
	}
	return out
}

// invokeStatus posts payload and returns the emulator's HTTP status and body.
func (e *emulator) invokeStatus(t testing.TB, payload any) (int, []byte) {
	t.Helper()
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	default:
		var err error
		if body, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang, not a slow cold start
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, e.out)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out
}

// logLinesWhen waits until the function's log lines satisfy ready and
// returns them (after the hang bound of outputWhen, whatever is there).
func (e *emulator) logLinesWhen(ready func([]map[string]any) bool) []map[string]any {
	var lines []map[string]any
	e.outputWhen(func() bool { lines = e.logLines(); return ready(lines) })
	return lines
}

// outputWhen waits until ready holds, at most 30 s (a hang bound), and
// reports whether it does: the runtime may write a line after the
// invocation's answer has arrived.
func (e *emulator) outputWhen(ready func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// hasLog reports whether one of lines matches.
func hasLog(lines []map[string]any, match func(map[string]any) bool) bool {
	return slices.ContainsFunc(lines, match)
}

// logLines returns the function's JSON log lines (the emulator's own
// lines are not JSON).
func (e *emulator) logLines() []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(e.out.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// apiResponse is the union of both response formats.
type apiResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
	Cookies           []string            `json:"cookies"`
}

func (e *emulator) api(t testing.TB, event map[string]any, want int, out any) apiResponse {
	t.Helper()
	raw := e.invoke(t, event)
	var r apiResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if r.StatusCode != want {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, want, raw)
	}
	if out != nil {
		body := []byte(r.Body)
		if r.IsBase64Encoded {
			body, _ = base64.StdEncoding.DecodeString(r.Body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%v: %s", err, r.Body)
		}
	}
	return r
}

// v2 is an HTTP API event.
func v2(method, path, query string, headers map[string]string, body string, b64 bool) map[string]any {
	h := map[string]any{"host": "api.example.com", "x-forwarded-proto": "https"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	return map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": h,
		"body": body, "isBase64Encoded": b64,
		"requestContext": map[string]any{"stage": "$default", "requestId": "JKJaXmPLvHcESHA=", "domainName": "api.example.com",
			"http": map[string]any{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"}},
	}
}

func TestEmulatorAPI(t *testing.T) {
	e := startEmulator(t, bootstrapBinary, "_HANDLER=api")
	creds := `{"email":"rie@example.com","password":"s3cret-pass","displayName":"Rie"}`
	json := map[string]string{"content-type": "application/json"}
	var su struct{ UserID string }
	e.api(t, v2("POST", "/v1/auth/signup", "", json, creds, false), 201, &su)
	var mail struct{ Messages []struct{ Code string } }
	e.api(t, v2("GET", "/v1/dev/mail", "to=rie%40example.com", nil, "", false), 200, &mail)
	if len(mail.Messages) == 0 {
		t.Fatal("no confirmation mail")
	}
	e.api(t, v2("POST", "/v1/auth/confirm", "", json, `{"email":"rie@example.com","code":"`+mail.Messages[0].Code+`"}`, false), 204, nil)
	var tk struct{ AccessToken string }
	e.api(t, v2("POST", "/v1/auth/signin", "", json, `{"email":"rie@example.com","password":"s3cret-pass"}`, false), 200, &tk)

	auth := map[string]string{"authorization": "Bearer " + tk.AccessToken, "content-type": "application/json"}
	var post struct{ ID, AuthorID, Body string }
	body := base64.StdEncoding.EncodeToString([]byte(`{"body":"from the emulator ✓"}`))
	r := e.api(t, v2("POST", "/v1/posts", "", auth, body, true), 201, &post)
	if post.AuthorID != su.UserID || post.Body != "from the emulator ✓" || r.Headers["Location"] != "/v1/posts/"+post.ID {
		t.Fatalf("post %+v headers %v", post, r.Headers)
	}
	// The same post with a JWT authorizer's claims instead of the token.
	ev := v2("GET", "/v1/posts/"+post.ID, "", map[string]string{"accept": "application/json"}, "", false)
	ev["requestContext"].(map[string]any)["authorizer"] = map[string]any{"jwt": map[string]any{"claims": map[string]any{
		"sub": su.UserID, "token_use": "access", "cognito:groups": "[a b]", "exp": "2195587600"}}}
	var got struct{ ID, Body string }
	r = e.api(t, ev, 200, &got)
	if got.ID != post.ID || r.Headers["Etag"] == "" {
		t.Errorf("get with claims: %+v %v", got, r.Headers)
	}
	// Errors are problems, also for events that are not events at all.
	var p struct{ Code, RequestID string }
	r = e.api(t, v2("GET", "/v1/nope", "", nil, "", false), 404, &p)
	if p.Code != "NotFound" || r.Headers["Content-Type"] != "application/problem+json" {
		t.Errorf("unknown route: %+v %v", p, r.Headers)
	}
	e.api(t, map[string]any{"hello": "world"}, 400, &p)
	if p.Code != "Invalid" {
		t.Errorf("not an API event: %+v", p)
	}
	// REST API (payload 1.0) events are not served.
	e.api(t, map[string]any{"httpMethod": "GET", "path": "/healthz", "requestContext": map[string]any{"stage": "prod"}}, 400, &p)
	if p.Code != "Invalid" {
		t.Errorf("REST API event: %+v", p)
	}

	isAccess := func(l map[string]any) bool { return l["message"] == "request" && l["path"] == "/v1/posts" }
	var access map[string]any
	for _, l := range e.logLinesWhen(func(ls []map[string]any) bool { return hasLog(ls, isAccess) }) {
		if isAccess(l) {
			access = l
		}
	}
	if access == nil || access["awsRequestId"] == "" || access["awsRequestId"] == nil || access["apiRequestId"] != "JKJaXmPLvHcESHA=" ||
		access["requestId"] == nil || access["userId"] != su.UserID || access["level"] != "INFO" {
		t.Errorf("access log line %v", access)
	}
	e.stop(t)
	if !strings.Contains(e.out.String(), `"message":"shutdown complete"`) {
		t.Errorf("no graceful shutdown on SIGTERM: %s", e.out)
	}
}

// awsEnv configures the AWS adapters (MySQL, S3, Cognito, the SQS push
// queue) against addresses where nothing listens: init must not touch any
// of them.
var awsEnv = []string{
	"CLOUDPOST_PUSH_QUEUE_URL=http://127.0.0.1:1/123456789012/cloudpost-push",
	"CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN=cloudpost@tcp(127.0.0.1:1)/cloudpost", "CLOUDPOST_MYSQL_DIAL_TIMEOUT=1s",
	"CLOUDPOST_BLOB=s3", "CLOUDPOST_S3_BUCKET=cloudpost-media", "CLOUDPOST_S3_REGION=eu-west-1", "CLOUDPOST_S3_ENDPOINT=http://127.0.0.1:1",
	"CLOUDPOST_AUTH=cognito", "CLOUDPOST_COGNITO_REGION=eu-west-1", "CLOUDPOST_COGNITO_USER_POOL_ID=eu-west-1_AbCdEf123",
	"CLOUDPOST_COGNITO_CLIENT_ID=abcdef123456", "CLOUDPOST_COGNITO_ENDPOINT=http://127.0.0.1:1",
	"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token",
}

// TestEmulatorInitIsOffline starts the api handler with every AWS adapter
// configured against dead addresses: the function initialises and answers
// (nothing is dialled or fetched at init), and the dependencies are only
// used, and found down, by requests that need them.
func TestEmulatorInitIsOffline(t *testing.T) {
	e := startEmulator(t, bootstrapBinary, append([]string{"_HANDLER=api"}, awsEnv...)...)
	start := time.Now()
	e.api(t, v2("GET", "/healthz", "", nil, "", false), 200, nil)
	t.Logf("first invocation (process start, init, invoke): %s", time.Since(start))
	var ready struct {
		Status string
		Checks map[string]string
	}
	e.api(t, v2("GET", "/readyz", "", nil, "", false), 503, &ready)
	if ready.Checks["storage"] == "ok" || ready.Checks["blobs"] == "ok" || ready.Checks["identity"] == "ok" {
		t.Errorf("readiness against dead dependencies: %+v", ready)
	}
	// Behind the JWT authorizer no key is fetched: the request gets as far
	// as the database, which is down (503, retryable), not a 401.
	ev := v2("GET", "/v1/me", "", nil, "", false)
	ev["requestContext"].(map[string]any)["authorizer"] = map[string]any{"jwt": map[string]any{"claims": map[string]any{
		"sub": "u-1", "token_use": "access", "client_id": "abcdef123456"}}}
	var p struct{ Code string }
	e.api(t, ev, 503, &p)
	if p.Code != "Unavailable" {
		t.Errorf("/v1/me with the database down: %+v", p)
	}
}

func TestEmulatorMedia(t *testing.T) {
	e := startEmulator(t, bootstrapBinary, "_HANDLER=media")
	event := func(name, key string) map[string]any {
		return map[string]any{"Records": []any{map[string]any{
			"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": name, "awsRegion": "eu-west-1",
			"s3": map[string]any{"bucket": map[string]any{"name": "media"}, "object": map[string]any{"key": key, "size": 10}},
		}}}
	}
	// This process's memory store has no media items: the upload's item is
	// gone, which is a completed event (no retry), and logged.
	for _, ev := range []map[string]any{
		event("ObjectCreated:Put", "uploads/user+one/01900000-0000-7000-8000-000000000001"),
		event("ObjectCreated:Put", "variants/01900000-0000-7000-8000-000000000001/thumb"),
		event("ObjectRemoved:Delete", "uploads/u/01900000-0000-7000-8000-000000000001"),
	} {
		if out := e.invoke(t, ev); string(out) != "null" {
			t.Errorf("%v: %s", ev, out)
		}
	}
	var skippedGone, skippedVariant bool
	lines := e.logLinesWhen(func(ls []map[string]any) bool {
		return hasLog(ls, func(l map[string]any) bool { return l["message"] == "media processing skipped: item is gone" }) &&
			hasLog(ls, func(l map[string]any) bool { return l["message"] == "media event skipped: key is not an upload" })
	})
	for _, l := range lines {
		switch l["message"] {
		case "media processing skipped: item is gone":
			skippedGone = l["mediaId"] == "01900000-0000-7000-8000-000000000001" && l["awsRequestId"] != nil
		case "media event skipped: key is not an upload":
			skippedVariant = true
		}
	}
	if !skippedGone || !skippedVariant {
		t.Errorf("log lines missing: %s", e.out)
	}
}

func TestEmulatorCognito(t *testing.T) {
	e := startEmulator(t, bootstrapBinary, "_HANDLER=cognito")
	ev := []byte(`{"version":"1","triggerSource":"PostConfirmation_ConfirmSignUp","region":"eu-west-1","userPoolId":"eu-west-1_AbCdEf123","userName":"u-1","callerContext":{"awsSdkVersion":"aws-sdk-js-3","clientId":"app"},"request":{"userAttributes":{"sub":"u-1","email":"u@example.com"}},"response":{}}`)
	if out := e.invoke(t, ev); !bytes.Equal(out, ev) {
		t.Errorf("the trigger must return the event unchanged:\n%s\n%s", out, ev)
	}
}

// TestEmulatorPush invokes the push handler with SQS events built from
// AWS's sample (testdata/sqs-event.json) and checks the answer has the
// shape Lambda's SQS poller reads with ReportBatchItemFailures: every
// message it names is delivered again, every other one is deleted.
func TestEmulatorPush(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "sqs-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	const body = `"body" : "Message Body"`
	if !bytes.Contains(sample, []byte(body)) {
		t.Fatal("the sample's body was not found")
	}
	withBody := func(b string) []byte {
		q, _ := json.Marshal(b)
		return bytes.Replace(sample, []byte(body), []byte(`"body" : `+string(q)), 1)
	}
	// Two messages: the sample's and a copy with another id and body.
	twoMessages := func(first, second string) []byte {
		var ev map[string]any
		if err := json.Unmarshal(withBody(first), &ev); err != nil {
			t.Fatal(err)
		}
		rec := ev["Records"].([]any)[0].(map[string]any)
		other := map[string]any{}
		for k, v := range rec {
			other[k] = v
		}
		other["messageId"], other["body"] = "MessageID_2", second
		ev["Records"] = append(ev["Records"].([]any), other)
		b, _ := json.Marshal(ev)
		return b
	}
	gone := `{"notificationId":"01900000-0000-7000-8000-00000000dead","userId":"u-1"}`
	for _, tc := range []struct {
		name string
		// env is the function's configuration: memory adapters, or a
		// MySQL database where nothing listens.
		env     []string
		payload []byte
		failed  []string
		log     string
	}{
		{"the sample as sent", nil, sample, nil, "push message dropped: not a push queue message"},
		{"a notification that is gone", nil, withBody(gone), nil, "push message settled: the notification is gone"},
		{"two messages, one malformed", nil, twoMessages(gone, "not json"), nil, "push relay"},
		{"not an SQS event", nil, []byte(`{"Records": "nope"}`), nil, "push event dropped: not an SQS event"},
		{"storage down", awsEnv, twoMessages(gone, "{}"), []string{"MessageID_1"}, "push relay failed; the messages will be retried"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEmulator(t, bootstrapBinary, append([]string{"_HANDLER=push"}, tc.env...)...)
			raw := e.invoke(t, tc.payload)
			var resp map[string][]map[string]string
			if err := json.Unmarshal(raw, &resp); err != nil || len(resp) != 1 || resp["batchItemFailures"] == nil {
				t.Fatalf("answer %s (%v), want {\"batchItemFailures\": [...]}", raw, err)
			}
			var failed []string
			for _, f := range resp["batchItemFailures"] {
				if len(f) != 1 {
					t.Errorf("batch item failure %v, want only itemIdentifier", f)
				}
				failed = append(failed, f["itemIdentifier"])
			}
			if !slices.Equal(failed, tc.failed) {
				t.Errorf("batch item failures %q, want %q", failed, tc.failed)
			}
			want := func(l map[string]any) bool { return l["message"] == tc.log && l["awsRequestId"] != nil }
			if !hasLog(e.logLinesWhen(func(ls []map[string]any) bool { return hasLog(ls, want) }), want) {
				t.Errorf("no %q log line with the request id:\n%s", tc.log, e.out)
			}
		})
	}
}

func TestEmulatorReportsBadConfiguration(t *testing.T) {
	e := startEmulator(t, bootstrapBinary, "_HANDLER=nope")
	status, out := e.invokeStatus(t, []byte(`{}`))
	named := e.outputWhen(func() bool { return strings.Contains(e.out.String(), "_HANDLER: must be one of api, media") })
	if status == http.StatusOK || !named {
		t.Errorf("an init failure must fail the invocation and name the variable: HTTP %d %s\n%s", status, out, e.out)
	}
}

// TestBootstrapZipSize keeps the zipped bootstrap (buildFlags, within 1% of
// make lambda's) under 15 MB, the deployment package target.
func TestBootstrapZipSize(t *testing.T) {
	bin := bootstrapBinary(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bootstrap (%s): %.1f MB, zipped %.1f MB", runtime.GOARCH, float64(len(data))/1e6, float64(buf.Len())/1e6)
	if buf.Len() >= 15e6 {
		t.Errorf("zipped bootstrap is %d bytes, over the 15 MB target", buf.Len())
	}
}

// BenchmarkColdStart measures cold starts under the emulator, interleaved
// per iteration, for the bootstrap (api handler with memory adapters, and
// with the MySQL, S3 and Cognito adapters configured) and for a minimal
// aws-lambda-go function. Reported as medians over the iterations:
// *-ms is the emulator's own account of the time from starting the
// process to the end of the first (API) invocation (INIT REPORT duration
// plus the invoke's RTDONE duration), *-wall-ms the client's wall time of
// that first invoke (which also includes the emulator's overhead).
//
// The function inherits this machine's environment (startEmulator), which
// Lambda's does not: an AWS_CA_BUNDLE set here makes every AWS SDK
// configuration load parse that bundle. Nothing at init loads one
// (fxmodules.LambdaAdapters), so it no longer shows in these numbers.
func BenchmarkColdStart(b *testing.B) {
	findRIE(b)
	bootstrapBinary(b)
	helloBinary(b)
	event := v2("GET", "/healthz", "", nil, "", false)
	cold := func(bin func(testing.TB) string, env ...string) (runtime, wall float64) {
		e := startEmulator(b, bin, env...)
		start := time.Now()
		raw := e.invoke(b, event)
		wall = float64(time.Since(start).Microseconds()) / 1e3
		if !bytes.Contains(raw, []byte(`"statusCode":200`)) {
			b.Fatalf("cold invoke: %s", raw)
		}
		e.stop(b)
		return emulatorMillis(b, e.out.String()), wall
	}
	kinds := []struct {
		name string
		bin  func(testing.TB) string
		env  []string
	}{
		{"hello", helloBinary, nil},
		{"memory", bootstrapBinary, []string{"_HANDLER=api", "CLOUDPOST_LOG_LEVEL=warn"}},
		{"aws", bootstrapBinary, append([]string{"_HANDLER=api", "CLOUDPOST_LOG_LEVEL=warn"}, awsEnv...)},
	}
	samples := make([][2][]float64, len(kinds))
	for b.Loop() {
		for i, k := range kinds {
			rt, wall := cold(k.bin, k.env...)
			samples[i][0] = append(samples[i][0], rt)
			samples[i][1] = append(samples[i][1], wall)
		}
	}
	base := median(samples[0][0])
	for i, k := range kinds {
		b.ReportMetric(median(samples[i][0]), k.name+"-ms")
		b.ReportMetric(median(samples[i][1]), k.name+"-wall-ms")
		if i > 0 {
			b.ReportMetric(median(samples[i][0])/base, k.name+"-ratio")
		}
	}
}

var (
	initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	rtDoneRE     = regexp.MustCompile(`INVOKE RTDONE\(status: success, produced bytes: \d+, duration: ([0-9.]+)ms\)`)
)

// emulatorMillis adds the first INIT REPORT and INVOKE RTDONE durations of
// an emulator's log.
func emulatorMillis(b *testing.B, log string) float64 {
	i, d := initReportRE.FindStringSubmatch(log), rtDoneRE.FindStringSubmatch(log)
	if i == nil || d == nil {
		b.Fatalf("no init or invoke report in the emulator's log:\n%s", log)
	}
	x, _ := strconv.ParseFloat(i[1], 64)
	y, _ := strconv.ParseFloat(d[1], 64)
	return x + y
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
