// Package cognitolocal runs cognito-local (an Amazon Cognito user pool
// emulator, installed by scripts/ci/cognito-local.sh) for tests: it starts
// the server with node on a free loopback port in a temporary directory,
// creates pools and app clients through the SDK, and reads the codes the
// emulator "mails" from its log. Used by adapters/cognitoauth's tests and by
// end-to-end tests that run the API with CLOUDPOST_AUTH=cognito.
//
//	func TestMain(m *testing.M) { code := m.Run(); cognitolocal.StopShared(); os.Exit(code) }
//	func TestX(t *testing.T) {
//		srv := cognitolocal.Shared(t) // skips, or fails with CI=true, without the emulator
//		cfg, err := srv.CreatePool(ctx, false)
//		...
//	}
package cognitolocal

import (
	"bufio"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
)

// InstallHint tells how to get the emulator.
const InstallHint = "run scripts/ci/cognito-local.sh (or set CLOUDPOST_COGNITO_LOCAL to cognito-local's lib/bin/start.js)"

// Region is the region of the pools it creates (the emulator ignores it).
const Region = "us-east-1"

// Targets of the logged codes, for Server.Code.
const (
	TargetSignUp         = "SignUp"
	TargetForgotPassword = "ForgotPassword"
)

// Server is one running cognito-local.
type Server struct {
	// Endpoint is its base URL, e.g. http://127.0.0.1:39229; it is also the
	// issuer domain of its tokens.
	Endpoint string

	script string
	cmd    *exec.Cmd
	dir    string
	log    *mailLog
	done   chan struct{} // closed when the process has exited
	stop   sync.Once
}

// StartScript finds cognito-local's start script: CLOUDPOST_COGNITO_LOCAL,
// else the place scripts/ci/cognito-local.sh installs it.
func StartScript() (string, error) {
	if p := os.Getenv("CLOUDPOST_COGNITO_LOCAL"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CLOUDPOST_COGNITO_LOCAL: %w", err)
		}
		return p, nil
	}
	cache := os.Getenv("CLOUDPOST_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "cloudpost")
	}
	p := filepath.Join(cache, "cognito-local", "node_modules", "cognito-local", "lib", "bin", "start.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found", p)
	}
	return p, nil
}

// Start runs a new emulator and waits until it answers.
func Start() (*Server, error) {
	script, err := StartScript()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on PATH")
	}
	var lastErr error
	for range 3 { // the free port may be taken before node binds it
		s, err := launch(node, script)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(node, script string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cognito-local-")
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), script: script, dir: dir, log: newMailLog(), done: make(chan struct{})}
	pr, pw := io.Pipe()
	// node directly, not npx, so the process stopped at the end is the server.
	s.cmd = exec.Command(node, script)
	s.cmd.Dir = dir // its data goes to ./.cognito
	// HOST and PORT also make its issuer http://127.0.0.1:<port>/<pool id>.
	s.cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1", "NO_COLOR=1")
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go s.log.read(pr)
	go func() {
		_ = s.cmd.Wait()
		_ = pw.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.Endpoint + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("cognito-local exited at start: %s", s.log.tail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("cognito-local did not answer on %s within 30s: %s", s.Endpoint, s.log.tail())
		}
	}
}

// Stop ends the emulator's process group and removes its data. Safe to
// call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		_ = os.RemoveAll(s.dir)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client returns an SDK client for the emulator (anonymous, no retries),
// for set-up and admin calls such as AdminConfirmSignUp.
func (s *Server) Client() *cip.Client {
	return cip.New(cip.Options{
		Region:           Region,
		BaseEndpoint:     aws.String(s.Endpoint),
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 1,
	})
}

// CreatePool creates a user pool whose users sign in with their email and
// get their codes by mail, and an app client for it (with a secret when
// secret is true) allowing USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH, and
// returns the adapter configuration for them.
func (s *Server) CreatePool(ctx context.Context, secret bool) (cognitoauth.Config, error) {
	c := s.Client()
	up, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:               aws.String("cloudpost-test"),
		UsernameAttributes:     []types.UsernameAttributeType{types.UsernameAttributeTypeEmail},
		AutoVerifiedAttributes: []types.VerifiedAttributeType{types.VerifiedAttributeTypeEmail},
	})
	if err != nil {
		return cognitoauth.Config{}, fmt.Errorf("CreateUserPool: %w", err)
	}
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId:     up.UserPool.Id,
		ClientName:     aws.String("cloudpost-api"),
		GenerateSecret: secret,
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{
			types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth,
		},
	})
	if err != nil {
		return cognitoauth.Config{}, fmt.Errorf("CreateUserPoolClient: %w", err)
	}
	return cognitoauth.Config{
		Region:       Region,
		UserPoolID:   aws.ToString(up.UserPool.Id),
		ClientID:     aws.ToString(cl.UserPoolClient.ClientId),
		ClientSecret: aws.ToString(cl.UserPoolClient.ClientSecret),
		Endpoint:     s.Endpoint,
	}, nil
}

// Code returns the latest code the emulator "mailed" to email from target
// (TargetSignUp, TargetForgotPassword), waiting for its log line until ctx
// ends.
func (s *Server) Code(ctx context.Context, email, target string) (string, error) {
	start := time.Now()
	for {
		if c, ok := s.log.latest(email, target); ok {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no %s code for %s in cognito-local's log: %w", target, email, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Since(start) > 50*time.Millisecond {
			s.nudge(ctx)
		}
	}
}

// nudge makes the emulator log a line. Its logger sometimes holds the last
// lines back until something else is logged; a refused call (an unknown app
// client) writes a warning and so pushes them out.
func (s *Server) nudge(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _ = s.Client().ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{
		ClientId: aws.String("nudge"), Username: aws.String("nudge@example.com"), ConfirmationCode: aws.String("000000"),
	})
}

// SigningKey returns the emulator's own token signing key (it ships in the
// package, kid "CognitoLocal"), so tests can sign forged claims validly.
func (s *Server) SigningKey() (*rsa.PrivateKey, error) {
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(s.script), "..", "keys", "cognitoLocal.private.json"))
	if err != nil {
		return nil, err
	}
	var doc struct{ JWK json.RawMessage }
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	jwk, err := jwkset.NewJWKFromRawJSON(doc.JWK, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	key, ok := jwk.Key().(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("cognito-local's key is a %T", jwk.Key())
	}
	return key, nil
}

// SigningKeyID is the kid of the emulator's tokens.
const SigningKeyID = "CognitoLocal"

var shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Shared returns the emulator shared by the tests of this process, started
// on first use. Without it the test fails when CI=true and is skipped
// otherwise, with a message naming scripts/ci/cognito-local.sh. Call
// StopShared at the end of TestMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.s, shared.err = Start() })
	if shared.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cognito-local is required with CI=true: %v; %s", shared.err, InstallHint)
		}
		t.Skipf("cognito-local unavailable: %v; %s", shared.err, InstallHint)
	}
	return shared.s
}

// StopShared stops the shared emulator if it was started.
func StopShared() {
	if shared.s != nil {
		shared.s.Stop()
	}
}

// mailLog parses the emulator's output: every mailed code is a box logged
// by the request that sent it, e.g.
//
//	[..] INFO: 4d2e02b9 SignUp ╭────╮
//	│   Username:    b20a232c-...   │
//	│   Destination: a@example.com  │
//	│   Code:        045213         │
type mailLog struct {
	mu    sync.Mutex
	codes map[string][]mailedCode // by destination, oldest first
	lines []string                // the last lines, for error messages
}

type mailedCode struct{ target, code string }

var (
	ansiRE  = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	boxRE   = regexp.MustCompile(`INFO: \S+ (\w+) ╭`)
	fieldRE = regexp.MustCompile(`(Destination|Code):\s+(\S+)`)
)

const maxLines = 40

func newMailLog() *mailLog { return &mailLog{codes: map[string][]mailedCode{}} }

func (l *mailLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	verbose := os.Getenv("COGNITO_LOCAL_VERBOSE") != ""
	var target, dest string
	for sc.Scan() {
		line := ansiRE.ReplaceAllString(sc.Text(), "")
		if verbose {
			fmt.Fprintln(os.Stderr, "cognito-local:", line)
		}
		l.mu.Lock()
		l.lines = append(l.lines, line)
		if len(l.lines) > maxLines {
			l.lines = l.lines[1:]
		}
		if m := boxRE.FindStringSubmatch(line); m != nil {
			target, dest = m[1], ""
		}
		if m := fieldRE.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "Destination":
				dest = m[2]
			case "Code":
				if dest != "" {
					l.codes[dest] = append(l.codes[dest], mailedCode{target: target, code: m[2]})
				}
				dest = ""
			}
		}
		l.mu.Unlock()
	}
	// Never block the emulator on a full pipe, even after a read error.
	_, _ = io.Copy(io.Discard, r)
}

func (l *mailLog) latest(dest, target string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.codes[dest]
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].target == target {
			return cs[i].code, true
		}
	}
	return "", false
}

func (l *mailLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
