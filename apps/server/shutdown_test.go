package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"golang.org/x/crypto/bcrypt"

	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// drainCounts are what the keep-alive clients of TestSIGTERMDropsNoRequest
// saw. A request is sent once written on an open connection; it then
// either gets a full 200 answer (ok) or fails (reset, EOF, timeout, other
// status). Dials refused after the listener closed are not requests.
type drainCounts struct {
	sent, ok, failed, closeSeen, refused atomic.Int64
	answered                             atomic.Int64 // clients with at least one ok
	mu                                   sync.Mutex
	failures                             []string
}

func (c *drainCounts) fail(format string, args ...any) {
	c.failed.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) < 10 {
		c.failures = append(c.failures, fmt.Sprintf(format, args...))
	}
}

// TestSIGTERMDropsNoRequest runs serve as main does, puts 8 keep-alive
// clients on it (4 on GET /v1/posts with a token, 4 on GET /healthz), sends
// the process SIGTERM and checks that every request sent got its answer:
// during the drain /readyz says 503 and responses close their connections,
// so the clients leave before the listener closes.
//
// Nothing here waits for a time to pass: the drain is a minute long and a
// second SIGTERM ends it once every client has left, so a slow machine
// cannot make a client miss the drain (TestDrainEndsByItself covers the
// drain's own end).
func TestSIGTERMDropsNoRequest(t *testing.T) {
	addr, wait := startServe(t, "CLOUDPOST_SHUTDOWN_DRAIN=1m", "CLOUDPOST_SHUTDOWN_TIMEOUT=2m")
	token := accessToken(t, "http://"+addr)

	var counts drainCounts
	stop := make(chan struct{}) // safety net only: clients end by themselves
	var wg sync.WaitGroup
	for i := range 8 {
		path, auth := "/healthz", ""
		if i%2 == 0 {
			path, auth = "/v1/posts", "Bearer "+token
		}
		wg.Go(func() { keepAliveClient(addr, path, auth, stop, &counts) })
	}
	// Steady load: every client has had an answer.
	for deadline := time.Now().Add(time.Minute); counts.answered.Load() < 8; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || counts.failed.Load()+counts.refused.Load() > 0 {
			close(stop)
			wg.Wait()
			t.Fatalf("%d of 8 clients answered before SIGTERM (%d failed, %d refused): %s",
				counts.answered.Load(), counts.failed.Load(), counts.refused.Load(), strings.Join(counts.failures, "; "))
		}
	}
	sentBefore := counts.sent.Load()

	sigterm(t)
	// /readyz fails, as a problem, and new connections are still served
	// (and closed after one answer) while the server drains.
	// (Errors, not fatal: the counts below matter most.)
	if readyz, err := probeUntil(addr, "/readyz", http.StatusServiceUnavailable, time.Minute); err != nil {
		t.Errorf("draining: %v", err)
	} else {
		if ct := readyz.Header.Get("Content-Type"); ct != httpapi.ProblemContentType {
			t.Errorf("draining /readyz: content type %q", ct)
		}
		var p httpapi.ProblemDetails
		if err := json.Unmarshal(readyz.body, &p); err != nil || p.Status != http.StatusServiceUnavailable || p.Code != domain.Unavailable {
			t.Errorf("draining /readyz: %s (%v)", readyz.body, err)
		}
	}
	if h, err := probeUntil(addr, "/healthz", http.StatusOK, time.Minute); err != nil {
		t.Errorf("draining: %v", err)
	} else if !h.Close {
		t.Error("a response during the drain does not close its connection")
	}

	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		close(stop)
		<-finished
		t.Error("clients were still running a minute after SIGTERM")
	}
	if err := wait(0); err == nil {
		t.Fatal("serve returned during the drain")
	}
	sigterm(t) // ends the drain
	if err := wait(time.Minute); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener is still open after serve returned")
	}

	t.Logf("sent %d (%d before SIGTERM), ok %d, failed %d; %d of 8 clients told Connection: close",
		counts.sent.Load(), sentBefore, counts.ok.Load(), counts.failed.Load(), counts.closeSeen.Load())
	if n := counts.failed.Load(); n != 0 {
		t.Errorf("%d sent requests failed: %s", n, strings.Join(counts.failures, "; "))
	}
	if n := counts.closeSeen.Load(); n != 8 {
		t.Errorf("%d of 8 clients were told Connection: close", n)
	}
	if counts.refused.Load() != 0 {
		t.Errorf("%d clients could not connect", counts.refused.Load())
	}
}

// TestDrainEndsByItself: after one SIGTERM the server drains for
// CLOUDPOST_SHUTDOWN_DRAIN, answering /readyz with 503, and then stops on
// its own; never before the drain is over.
func TestDrainEndsByItself(t *testing.T) {
	const drain = 300 * time.Millisecond
	addr, wait := startServe(t, "CLOUDPOST_SHUTDOWN_DRAIN="+drain.String(), "CLOUDPOST_SHUTDOWN_TIMEOUT=1m")
	signalledAt := time.Now()
	sigterm(t)
	if err := wait(time.Minute); err != nil {
		t.Fatalf("serve: %v", err)
	}
	// A lower bound only: a busy machine makes it later, never sooner.
	if stopped := time.Since(signalledAt); stopped < drain {
		t.Errorf("the server stopped %s after SIGTERM, before the %s drain", stopped, drain)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener is still open after serve returned")
	}
}

// TestSecondSignalEndsTheDrain: a second SIGTERM (or Ctrl-C) stops the
// server without waiting out the drain (of an hour, so that stopping at
// all proves it).
func TestSecondSignalEndsTheDrain(t *testing.T) {
	addr, wait := startServe(t, "CLOUDPOST_SHUTDOWN_DRAIN=1h", "CLOUDPOST_SHUTDOWN_TIMEOUT=2h")
	sigterm(t)
	if _, err := probeUntil(addr, "/readyz", http.StatusServiceUnavailable, time.Minute); err != nil {
		t.Fatalf("not draining: %v", err)
	}
	sigterm(t)
	if err := wait(time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownDrainMustFitTheTimeout: the drain is part of the shutdown
// budget; a value that leaves nothing for the shutdown stops the start
// with a message naming the variable.
func TestShutdownDrainMustFitTheTimeout(t *testing.T) {
	for _, tc := range []struct {
		env []string
		ok  bool
	}{
		{nil, true}, // 5s of 15s
		{[]string{"CLOUDPOST_SHUTDOWN_DRAIN=0"}, true},
		{[]string{"CLOUDPOST_SHUTDOWN_DRAIN=14s"}, true},
		{[]string{"CLOUDPOST_SHUTDOWN_DRAIN=15s"}, false},
		{[]string{"CLOUDPOST_SHUTDOWN_DRAIN=-1s"}, false},
		{[]string{"CLOUDPOST_SHUTDOWN_TIMEOUT=3s"}, false}, // the default drain does not fit
		{[]string{"CLOUDPOST_SHUTDOWN_TIMEOUT=3s", "CLOUDPOST_SHUTDOWN_DRAIN=1s"}, true},
	} {
		_, err := config.Load(tc.env)
		if tc.ok != (err == nil) {
			t.Errorf("%v: %v", tc.env, err)
		}
		if err != nil && !strings.Contains(err.Error(), "CLOUDPOST_SHUTDOWN_DRAIN") {
			t.Errorf("%v: the error does not name the variable: %v", tc.env, err)
		}
	}
	// main stops on it before doing anything (an unknown command, should
	// the configuration pass, fails instead of serving).
	t.Setenv("CLOUDPOST_SHUTDOWN_TIMEOUT", "15s")
	t.Setenv("CLOUDPOST_SHUTDOWN_DRAIN", "1m")
	if err := run([]string{"no-such-command"}); err == nil || !strings.Contains(err.Error(), "CLOUDPOST_SHUTDOWN_DRAIN: must be") {
		t.Fatalf("run = %v", err)
	}
}

// startServe runs serve (the local, in-memory app) as main does, with
// env on top of a free port, and returns the bound address and a wait for
// serve's result. A test that does not stop it gets it stopped by SIGTERM.
func startServe(t *testing.T, env ...string) (addr string, wait func(within time.Duration) error) {
	t.Helper()
	cfg, err := config.Load(append([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=warn", fastHashes}, env...))
	if err != nil {
		t.Fatal(err)
	}
	// While the test runs, a SIGTERM that serve is not (or no longer)
	// subscribed to must not take the default action: killing the test.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGTERM)
	addrc := make(chan string, 1)
	finished := make(chan struct{})
	var serveErr error
	go func() {
		defer close(finished)
		serveErr = serve(cfg,
			fx.Invoke(func(lc fx.Lifecycle, ep *fxmodules.Endpoint) {
				// Appended after the HTTP server's hook: the address is bound.
				lc.Append(fx.StartHook(func() { addrc <- ep.Addr() }))
			}),
			// bcrypt's default cost takes seconds under the race detector.
			fx.Decorate(func(clock ports.Clock, ids ports.IDs) *localauth.Provider {
				return localauth.New(localauth.Config{
					Issuer: cfg.LocalIssuer, ClientID: cfg.LocalClientID, AccessTTL: cfg.LocalTokenTTL,
					Clock: clock, IDs: ids, BcryptCost: bcrypt.MinCost,
				})
			}),
		)
	}()
	t.Cleanup(func() {
		select {
		case <-finished:
		default:
			_ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
			<-finished
		}
		signal.Stop(guard)
	})
	select {
	case addr = <-addrc:
	case <-finished:
		t.Fatalf("serve returned before listening: %v", serveErr)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	return addr, func(within time.Duration) error {
		select {
		case <-finished:
			return serveErr
		default:
		}
		select {
		case <-finished:
			return serveErr
		case <-time.After(within):
			return fmt.Errorf("serve did not return within %s", within)
		}
	}
}

// sigterm sends SIGTERM to the test process, where serve receives it.
func sigterm(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// keepAliveClient sends GET path on one connection, one request after the
// other, until a response closes the connection (or stop). Raw HTTP/1.1,
// so that nothing is retried behind its back.
func keepAliveClient(addr, path, authorization string, stop <-chan struct{}, c *drainCounts) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		c.refused.Add(1)
		return
	}
	defer conn.Close()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if authorization != "" {
		req += "Authorization: " + authorization + "\r\n"
	}
	req += "\r\n"
	br := bufio.NewReader(conn)
	answered := false
	for {
		select {
		case <-stop:
			return
		default:
		}
		_ = conn.SetDeadline(time.Now().Add(time.Minute)) // a hang, not a slow machine
		if _, err := io.WriteString(conn, req); err != nil {
			// The server closed a connection it had not said it would close.
			c.sent.Add(1)
			c.fail("%s: write: %v", path, err)
			return
		}
		c.sent.Add(1)
		res, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		switch {
		case err != nil:
			c.fail("%s: %v", path, err)
			return
		case res.StatusCode != http.StatusOK:
			c.fail("%s: status %d", path, res.StatusCode)
		default:
			if c.ok.Add(1); !answered {
				answered = true
				c.answered.Add(1)
			}
		}
		if res.Close {
			c.closeSeen.Add(1)
			return
		}
	}
}

// probed is one answer of probeUntil.
type probed struct {
	*http.Response
	body []byte
}

// probeUntil GETs path, each time on a new keep-alive connection, until
// the answer has status want, for at most within (at least one try).
func probeUntil(addr, path string, want int, within time.Duration) (probed, error) {
	deadline := time.Now().Add(within)
	for {
		res, err := getOnce(addr, path)
		if err == nil {
			if res.StatusCode == want {
				return res, nil
			}
			err = fmt.Errorf("status %d: %s", res.StatusCode, res.body)
		}
		if time.Now().After(deadline) {
			return probed{}, fmt.Errorf("GET %s: %w, want %d", path, err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getOnce sends one HTTP/1.1 GET on a new connection without asking to
// close it, so a "Connection: close" in the answer is the server's.
func getOnce(addr, path string) (probed, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return probed{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang, not a slow machine
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		return probed{}, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return probed{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return probed{res, body}, err
}

// accessToken signs a new user up with the local identity provider and
// returns its access token.
func accessToken(t *testing.T, base string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	call := func(method, path, body string, want int, out any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, data)
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	const email, password = "drain@example.com", "s3cret-pass"
	call("POST", "/v1/auth/signup", `{"email":"`+email+`","password":"`+password+`","displayName":"Drain"}`, http.StatusCreated, nil)
	var mail struct{ Messages []struct{ Code string } }
	call("GET", "/v1/dev/mail?to="+email, "", http.StatusOK, &mail)
	if len(mail.Messages) == 0 {
		t.Fatal("no confirmation code mailed")
	}
	call("POST", "/v1/auth/confirm", `{"email":"`+email+`","code":"`+mail.Messages[0].Code+`"}`, http.StatusNoContent, nil)
	var tk struct{ AccessToken string }
	call("POST", "/v1/auth/signin", `{"email":"`+email+`","password":"`+password+`"}`, http.StatusOK, &tk)
	if tk.AccessToken == "" {
		t.Fatal("no access token")
	}
	return tk.AccessToken
}
