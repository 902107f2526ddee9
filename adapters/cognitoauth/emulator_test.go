package cognitoauth_test

import (
	"bufio"
	"context"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// installHint tells how to get the emulator.
const installHint = "run scripts/ci/cognito-local.sh (or set CLOUDPOST_COGNITO_LOCAL to cognito-local's lib/bin/start.js)"

// emulator is one cognito-local server started for this test binary.
type emulator struct {
	cmd      *exec.Cmd
	endpoint string
	dir      string
	mail     *mailLog
	done     chan struct{} // closed when the process has exited
}

var emu struct {
	once sync.Once
	e    *emulator
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emu.e != nil {
		emu.e.stop()
	}
	os.Exit(code)
}

// needEmulator returns the shared cognito-local, starting it on first use.
// Without it the test fails when CI=true and is skipped otherwise.
func needEmulator(t testing.TB) *emulator {
	t.Helper()
	emu.once.Do(func() { emu.e, emu.err = startEmulator() })
	if emu.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cognito-local is required with CI=true: %v; %s", emu.err, installHint)
		}
		t.Skipf("cognito-local unavailable: %v; %s", emu.err, installHint)
	}
	return emu.e
}

// startJS finds cognito-local's start script.
func startJS() (string, error) {
	if p := os.Getenv("CLOUDPOST_COGNITO_LOCAL"); p != "" {
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

func startEmulator() (*emulator, error) {
	script, err := startJS()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on PATH")
	}
	var lastErr error
	for range 3 { // the free port may be taken before node binds it
		e, err := launch(node, script)
		if err == nil {
			return e, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(node, script string) (*emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cognito-local-")
	if err != nil {
		return nil, err
	}
	e := &emulator{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, mail: newMailLog(), done: make(chan struct{})}
	pr, pw := io.Pipe()
	// node directly, not npx, so the process stopped at the end is the server.
	e.cmd = exec.Command(node, script)
	e.cmd.Dir = dir // data goes to ./.cognito
	e.cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1", "NO_COLOR=1")
	e.cmd.Stdout, e.cmd.Stderr = pw, pw
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go e.mail.read(pr)
	go func() {
		_ = e.cmd.Wait()
		_ = pw.Close()
		close(e.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(e.endpoint + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return e, nil
			}
		}
		select {
		case <-e.done:
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("cognito-local exited at start: %s", e.mail.tail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("cognito-local did not answer on %s within 30s: %s", e.endpoint, e.mail.tail())
		}
	}
}

// stop ends the emulator's process group and removes its data.
func (e *emulator) stop() {
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	}
	_ = os.RemoveAll(e.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// adminClient is an SDK client for setting the emulator up.
func (e *emulator) adminClient() *cip.Client {
	return cip.New(cip.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.endpoint),
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 1,
	})
}

// pool creates a user pool that signs users in by email and mails codes,
// and an app client (with a secret when secret is true), and returns the
// adapter configuration for them.
func (e *emulator) pool(t testing.TB, secret bool) cognitoauth.Config {
	t.Helper()
	ctx := context.Background()
	c := e.adminClient()
	up, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:               aws.String("cloudpost-test"),
		UsernameAttributes:     []types.UsernameAttributeType{types.UsernameAttributeTypeEmail},
		AutoVerifiedAttributes: []types.VerifiedAttributeType{types.VerifiedAttributeTypeEmail},
	})
	if err != nil {
		t.Fatalf("CreateUserPool: %v", err)
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
		t.Fatalf("CreateUserPoolClient: %v", err)
	}
	return cognitoauth.Config{
		Region:       "us-east-1",
		UserPoolID:   aws.ToString(up.UserPool.Id),
		ClientID:     aws.ToString(cl.UserPoolClient.ClientId),
		ClientSecret: aws.ToString(cl.UserPoolClient.ClientSecret),
		Endpoint:     e.endpoint,
	}
}

// code returns the latest code cognito-local "mailed" to email for kind,
// waiting briefly for its log line.
func (e *emulator) code(t *testing.T, email, kind string) string {
	t.Helper()
	target := map[string]string{porttest.AuthCodeSignUp: "SignUp", porttest.AuthCodeReset: "ForgotPassword"}[kind]
	if target == "" {
		t.Fatalf("unknown code kind %q", kind)
	}
	start := time.Now()
	for {
		if c, ok := e.mail.latest(email, target); ok {
			return c
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no %s code for %s in cognito-local's log", target, email)
		}
		time.Sleep(10 * time.Millisecond)
		if time.Since(start) > 50*time.Millisecond {
			e.nudge()
		}
	}
}

// nudge makes cognito-local log a line. Its logger sometimes holds the
// last lines back until something else is logged; a refused call (unknown
// app client) writes a warning and so pushes them out.
func (e *emulator) nudge() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = e.adminClient().ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{
		ClientId: aws.String("nudge"), Username: aws.String("nudge@example.com"), ConfirmationCode: aws.String("000000"),
	})
}

// mailLog parses cognito-local's output: every mailed code is a box
// logged by the request that sent it, e.g.
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
	ansiRE   = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	boxRE    = regexp.MustCompile(`INFO: \S+ (\w+) ╭`)
	fieldRE  = regexp.MustCompile(`(Destination|Code):\s+(\S+)`)
	maxLines = 40
)

func newMailLog() *mailLog { return &mailLog{codes: map[string][]mailedCode{}} }

func (l *mailLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var target, dest string
	for sc.Scan() {
		line := ansiRE.ReplaceAllString(sc.Text(), "")
		if os.Getenv("COGNITO_LOCAL_VERBOSE") != "" {
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

// count returns how many codes were mailed to dest.
func (l *mailLog) count(dest string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.codes[dest])
}

func (l *mailLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
