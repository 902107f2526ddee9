// Package mototest starts moto (the AWS emulator, as moto_server) for
// tests of SNS mobile push, reads what it recorded, and records what a
// client published. scripts/ci/moto.sh checks that moto_server is there.
//
// What moto emulates of SNS mobile push (moto 5.2): platform applications
// and endpoints with their attributes; CreatePlatformEndpoint's answer
// "Endpoint <arn> already exists with the same Token, but different
// attributes" when a token is registered again with another CustomUserData
// or Enabled; GetEndpointAttributes and SetEndpointAttributes (NotFound for
// a deleted endpoint); Publish to an endpoint, which keeps the message text
// (readable through /moto-api/data.json) and fails with EndpointDisabled
// (HTTP 400) when the endpoint's Enabled is false; DeleteEndpoint, which is
// idempotent. /moto-api/data.json shows each endpoint's messages and
// attributes, but also the endpoints deleted since (see Endpoints).
//
// What it does not: it delivers nothing to FCM or APNs, so it never
// disables an endpoint on its own and never checks a token or a payload;
// it drops message attributes of endpoint publishes (see Recorder); it
// checks token uniqueness across all applications instead of within one;
// it answers NotFound to Publish to a deleted endpoint (SNS answers
// InvalidParameter "TargetArn Reason: No endpoint found"); it returns
// CustomUserData from GetEndpointAttributes only once SetEndpointAttributes
// has set it; SetEndpointAttributes with a new Token does not change the
// token CreatePlatformEndpoint matches on; it never throttles.
package mototest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Region and account of moto's resources (moto's default account), and
// the credentials the tests sign with (moto checks none).
const (
	Region  = "us-east-1"
	Account = "123456789012"
	Access  = "testing"
	Secret  = "testing"
)

// Find looks for moto_server in CLOUDPOST_MOTO_SERVER, then PATH, then
// ~/.pyenv/shims, as scripts/ci/moto.sh does.
func Find() (string, error) {
	if p := os.Getenv("CLOUDPOST_MOTO_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CLOUDPOST_MOTO_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".pyenv", "shims", "moto_server")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("moto_server not found (CLOUDPOST_MOTO_SERVER, PATH, ~/.pyenv/shims)")
}

// Server is a running moto_server.
type Server struct {
	// Endpoint is its base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	// Stop ends the process (and any child, such as a pyenv shim's) and
	// removes its log.
	Stop func()
}

// Start runs bin (moto_server) on a free loopback port in its own process
// group and waits until it answers HTTP.
func Start(bin string) (srv *Server, err error) {
	logFile, err := os.CreateTemp("", "cloudpost-moto-*.log")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		logFile.Close()
		os.Remove(logFile.Name())
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-H", host, "-p", port)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so Stop reaches the server behind a shim and
	// nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.Remove(logFile.Name())
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pgid := cmd.Process.Pid
	srv = &Server{Endpoint: "http://" + addr}
	var once sync.Once
	srv.Stop = func() {
		once.Do(func() {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-exited
			}
			// A child that outlived the group leader.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			logFile.Close()
			os.Remove(logFile.Name())
		})
	}
	if err := waitReady(srv.Endpoint, exited); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		srv.Stop()
		return nil, fmt.Errorf("%w; its log:\n%s", err, log)
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

func waitReady(base string, exited <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("moto_server exited: %v", err)
		default:
		}
		resp, err := client.Get(base + "/moto-api/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("moto_server did not answer within 60s")
}

// AWSConfig is the AWS configuration for moto: static credentials, and
// the standard retryer with no backoff wait and no retry quota, so failure
// cases are quick.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(Access, Secret, "")),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// Endpoint is a platform endpoint as moto recorded it.
type Endpoint struct {
	ARN            string
	Token          string
	CustomUserData string
	Enabled        bool
	// Attributes are the endpoint's attributes (Token, Enabled, and what
	// SetEndpointAttributes set).
	Attributes map[string]any
	// Messages are the messages published to the endpoint, oldest first.
	Messages []Message
}

// Message is one message moto accepted for an endpoint: its id (Publish's
// MessageId) and the Message parameter as sent (with MessageStructure
// "json", the JSON object of per-platform strings).
type Message struct {
	ID   string
	Body string
}

// Endpoints reads moto's state (GET /moto-api/data.json) and returns its
// SNS platform endpoints: every endpoint made since moto started, deleted
// ones included (data.json lists the model instances moto tracks, not the
// backend's live set; ask GetEndpointAttributes whether one exists), in
// creation order.
func (s *Server) Endpoints(ctx context.Context) ([]Endpoint, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/data.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("moto data.json: %s", resp.Status)
	}
	return decodeEndpoints(body)
}

// EndpointByARN returns the endpoint arn as moto recorded it; ok is false
// when moto has none.
func (s *Server) EndpointByARN(ctx context.Context, arn string) (e Endpoint, ok bool, err error) {
	all, err := s.Endpoints(ctx)
	if err != nil {
		return Endpoint{}, false, err
	}
	for _, e := range all {
		if e.ARN == arn {
			return e, true, nil
		}
	}
	return Endpoint{}, false, nil
}

// decodeEndpoints reads data.json: {"sns": {"PlatformEndpoint": [{"arn",
// "token", "custom_user_data", "enabled", "attributes", "messages":
// {id: message, ...}}, ...]}, ...}. The messages object is read in order:
// moto keeps them in publishing order.
func decodeEndpoints(body []byte) ([]Endpoint, error) {
	var doc struct {
		SNS struct {
			PlatformEndpoint []struct {
				ARN            string          `json:"arn"`
				Token          string          `json:"token"`
				CustomUserData string          `json:"custom_user_data"`
				Enabled        bool            `json:"enabled"`
				Attributes     map[string]any  `json:"attributes"`
				Messages       json.RawMessage `json:"messages"`
			} `json:"PlatformEndpoint"`
		} `json:"sns"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("moto data.json: %w", err)
	}
	var out []Endpoint
	for _, e := range doc.SNS.PlatformEndpoint {
		msgs, err := orderedStrings(e.Messages)
		if err != nil {
			return nil, fmt.Errorf("moto data.json: messages of %s: %w", e.ARN, err)
		}
		out = append(out, Endpoint{ARN: e.ARN, Token: e.Token, CustomUserData: e.CustomUserData, Enabled: e.Enabled, Attributes: e.Attributes, Messages: msgs})
	}
	return out, nil
}

// orderedStrings reads a JSON object of strings in document order.
func orderedStrings(raw json.RawMessage) ([]Message, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not an object (%v)", err)
	}
	var out []Message
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, Message{ID: k.(string), Body: v})
	}
	return out, nil
}

// Published is one Publish request a Recorder saw succeed.
type Published struct {
	MessageID        string
	TargetARN        string
	MessageStructure string
	Message          string
	// Attributes are the message attributes' string values by name.
	Attributes map[string]string
}

// Recorder is an http.RoundTripper that records every successful SNS
// Publish (the awsquery form and the MessageId of the answer). moto keeps
// the message text of a publish to an endpoint but drops its message
// attributes, so a test reads those here. Set it as the SNS client's
// o.HTTPClient (through an http.Client).
type Recorder struct {
	// Base does the requests; nil: http.DefaultTransport.
	Base http.RoundTripper

	mu  sync.Mutex
	log map[string]Published
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var form url.Values
	if req.Body != nil && req.Method == http.MethodPost {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if f, err := url.ParseQuery(string(body)); err == nil && f.Get("Action") == "Publish" {
			form = f
		}
	}
	resp, err := base.RoundTrip(req)
	if err != nil || form == nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var answer struct {
		MessageID string `xml:"PublishResult>MessageId"`
	}
	if xml.Unmarshal(body, &answer) == nil && answer.MessageID != "" {
		p := Published{
			MessageID:        answer.MessageID,
			TargetARN:        form.Get("TargetArn"),
			MessageStructure: form.Get("MessageStructure"),
			Message:          form.Get("Message"),
			Attributes:       map[string]string{},
		}
		for i := 1; form.Has("MessageAttributes.entry." + strconv.Itoa(i) + ".Name"); i++ {
			prefix := "MessageAttributes.entry." + strconv.Itoa(i)
			p.Attributes[form.Get(prefix+".Name")] = form.Get(prefix + ".Value.StringValue")
		}
		r.mu.Lock()
		if r.log == nil {
			r.log = map[string]Published{}
		}
		r.log[p.MessageID] = p
		r.mu.Unlock()
	}
	return resp, nil
}

// Lookup returns the recorded Publish whose answer carried id.
func (r *Recorder) Lookup(id string) (Published, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.log[id]
	return p, ok
}

// PlatformOf returns the platform segment of an SNS application or
// endpoint ARN (GCM, APNS, APNS_SANDBOX), or "".
func PlatformOf(arn string) string {
	i := strings.LastIndex(arn, ":")
	if i < 0 {
		return ""
	}
	parts := strings.Split(arn[i+1:], "/")
	if len(parts) < 3 {
		return ""
	}
	return parts[1]
}

// ForTest starts moto for t and stops it when t ends. When moto_server is
// missing, t is skipped with a hint (scripts/ci/moto.sh), or fails when
// CI=true: CI must run every test.
func ForTest(t testing.TB) *Server {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err.Error() + "; run scripts/ci/moto.sh")
	}
	srv, err := Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// SetEnv gives t an AWS environment of its own, what the apps' default
// credential chain reads: moto's credentials, no shared files or profile,
// and region (empty: none). It uses t.Setenv, so not with t.Parallel.
func SetEnv(t testing.TB, region string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": Access, "AWS_SECRET_ACCESS_KEY": Secret, "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_REGION": region, "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_CA_BUNDLE": "", "AWS_ENDPOINT_URL": "",
		"AWS_ENDPOINT_URL_SQS": "", "AWS_ENDPOINT_URL_SNS": "",
	} {
		t.Setenv(k, v)
	}
}

// RunMain is a package's TestMain with moto: it starts moto, runs setup
// with it, runs the tests and stops moto, and returns the exit code. When
// moto_server is missing, skip gets the reason (tests then skip with it)
// and the tests run without moto, unless CI=true: then it fails. pkg
// names the package in messages.
func RunMain(m *testing.M, pkg string, setup func(srv *Server) error, skip func(reason string)) int {
	bin, err := Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "%s tests: %v (CI=true: a missing moto is a failure; run scripts/ci/moto.sh)\n", pkg, err)
			return 1
		}
		skip(err.Error() + "; run scripts/ci/moto.sh to find or install it")
		return m.Run()
	}
	srv, err := Start(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: starting %s: %v\n", pkg, bin, err)
		return 1
	}
	defer srv.Stop()
	if err := setup(srv); err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: %v\n", pkg, err)
		return 1
	}
	return m.Run()
}

// CreateApplication creates an SNS platform application of platform (GCM,
// APNS, APNS_SANDBOX) in moto with client and returns its ARN.
func CreateApplication(ctx context.Context, client *sns.Client, platform string) (string, error) {
	out, err := client.CreatePlatformApplication(ctx, &sns.CreatePlatformApplicationInput{
		Name: aws.String("cloudpost-" + strings.ToLower(platform)), Platform: aws.String(platform),
		Attributes: map[string]string{"PlatformCredential": "test-credential"},
	})
	if err != nil {
		return "", fmt.Errorf("creating the %s application in moto: %w", platform, err)
	}
	return *out.PlatformApplicationArn, nil
}
