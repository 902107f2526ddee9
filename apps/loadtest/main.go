// Command loadtest compares the throughput of the real server app (memory
// adapters) with a bare Echo handler, in interleaved rounds in one process:
//
//	go run ./apps/loadtest -rounds 5 -duration 3s -conns 32
//
// With -mysql it compares GET /v1/posts/{id} on the MySQL store with a bare
// database/sql primary-key select loop instead (see runMySQL):
//
//	go run ./apps/loadtest -mysql 'root@tcp(127.0.0.1:3306)/' -conns 16
//
// With -wrk it measures an authenticated GET /v1/posts/{id} on the server
// app started as `make run` starts it (apps/server serve, default
// configuration: memory adapters, access log on) against a bare Echo JSON
// handler, each server in a process of its own and wrk as the load
// generator, in interleaved rounds (see runWrkCompare); the target is a
// ratio of at least 0.60:
//
//	go run ./apps/loadtest -wrk -rounds 5 -duration 3s -conns 32
//
// Add -cpuprofile cpu.out to profile both servers during the rounds (then
// `go tool pprof -top cpu.out` for the app, cpu.out.bare for the bare
// server), -threads to change wrk's threads, and -set CLOUDPOST_X=value
// (repeatable) to see what a setting costs.
//
// Without -mysql or -wrk, three targets are measured in turn each round: a
// bare Echo handler that returns a fixed JSON document, an authenticated
// GET /v1/posts/{id}, and an authenticated POST /v1/posts. Client and
// servers share the process (and GOMAXPROCS), so the ratios are what
// matters.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
)

func main() {
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	duration := flag.Duration("duration", 3*time.Second, "length of each measurement")
	conns := flag.Int("conns", 32, "concurrent keep-alive connections")
	mysqlDSN := flag.String("mysql", "", "instead: compare GET /v1/posts/{id} on MySQL (wrk) with a bare select loop, using a scratch database on this server DSN")
	useWrk := flag.Bool("wrk", false, "instead: compare GET /v1/posts/{id} on the server as `make run` starts it with a bare Echo server, each in its own process, loaded by wrk")
	threads := flag.Int("threads", 1, "wrk threads (-wrk)")
	cpuProfile := flag.String("cpuprofile", "", "with -wrk: write a CPU profile of the server app during the measured rounds to this file")
	childKind := flag.String("child", "", "internal: run as the bare or server child of -wrk")
	var settings []string
	flag.Func("set", "with -wrk: add `CLOUDPOST_NAME=value` to the app's default configuration (repeatable), to see what a setting costs", func(kv string) error {
		if !strings.HasPrefix(kv, "CLOUDPOST_") || !strings.Contains(kv, "=") {
			return errors.New("want CLOUDPOST_NAME=value")
		}
		settings = append(settings, kv)
		return nil
	})
	flag.Parse()
	var err error
	switch {
	case *childKind != "":
		err = runChild(*childKind, *cpuProfile)
	case *useWrk:
		err = runWrkCompare(wrkOptions{rounds: *rounds, duration: *duration, conns: *conns, threads: *threads, cpuProfile: *cpuProfile, settings: settings})
	case *mysqlDSN != "":
		err = runMySQL(*mysqlDSN, *rounds, *duration, *conns)
	default:
		err = run(*rounds, *duration, *conns)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(rounds int, d time.Duration, conns int) error {
	env, err := Start()
	if err != nil {
		return err
	}
	defer env.Stop()
	client := NewClient(conns)
	targets := env.Targets()
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d conns=%d duration=%s rounds=%d (client and servers in one process, loopback, keep-alive)\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), conns, d, rounds)
	results := map[string][]float64{}
	for r := range rounds {
		// Rotate the order so no target always runs first (warm caches, GC debt).
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			rps, err := Measure(client, t, conns, d)
			if err != nil {
				return fmt.Errorf("%s: %w", t.Name, err)
			}
			results[t.Name] = append(results[t.Name], rps)
			fmt.Printf("round %d  %-22s %9.0f req/s\n", r+1, t.Name, rps)
		}
	}
	med := func(xs []float64) float64 { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
	bare := med(results["bare"])
	fmt.Printf("\nmedian req/s: bare %.0f | GET /v1/posts/{id} %.0f (%.0f%% of bare, target >= 60%%) | POST /v1/posts %.0f (%.0f%% of bare, target >= 40%%)\n",
		bare, med(results["get-post"]), 100*med(results["get-post"])/bare, med(results["create-post"]), 100*med(results["create-post"])/bare)
	return nil
}

// Env is a running server app, a bare Echo server, a signed-in user and a post.
type Env struct {
	App *fx.App
	// Echo is the server app's handler, for in-process benchmarks.
	Echo *echo.Echo
	// Bare is the bare handler.
	Bare    *echo.Echo
	BaseURL string
	BareURL string
	Token   string
	UserID  string
	PostID  string
	bare    *http.Server
}

// Start boots the server app on a free port (memory adapters unless the
// extra CLOUDPOST_* settings say otherwise), a bare Echo server beside it,
// and signs up a user with one post. The abuse limits are off: one user
// creating thousands of posts a second is the measurement, not an attack.
func Start(settings ...string) (*Env, error) {
	cfg, err := config.Load(append([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=error"}, settings...))
	if err != nil {
		return nil, err
	}
	cfg.Limits = config.Limits{}
	var ep *fxmodules.Endpoint
	var api *echo.Echo
	app := fx.New(fxmodules.Server(cfg), fx.Populate(&ep, &api), fx.NopLogger)
	if err := app.Start(context.Background()); err != nil {
		return nil, err
	}
	env := &Env{App: app, Echo: api, BaseURL: ep.BaseURL()}

	e := newBare()
	env.Bare = e
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	env.bare = &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = env.bare.Serve(ln) }()
	env.BareURL = "http://" + ln.Addr().String() + "/bare"

	s, err := signIn(env.BaseURL)
	if err != nil {
		env.Stop()
		return nil, err
	}
	env.Token, env.UserID, env.PostID = s.Token, s.UserID, s.PostID
	return env, nil
}

// newBare returns the bare Echo server the app is compared with: one
// route, GET /bare, answering a fixed small JSON document, and no
// middleware.
func newBare() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/bare", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"id": "0192f7a0-0000-7000-8000-000000000000", "body": "hello", "commentCount": 0})
	})
	return e
}

// Stop shuts both servers down.
func (e *Env) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e.bare != nil {
		_ = e.bare.Shutdown(ctx)
	}
	_ = e.App.Stop(ctx)
}

// session is a signed-in user of a running server and one post of theirs.
type session struct {
	Token, UserID, PostID string
}

// signIn signs a new user up on the server at baseURL through the public
// API (sign-up, the confirmation code from the local identity provider's
// dev mailbox, sign-in) and creates a post.
func signIn(baseURL string) (session, error) {
	var s session
	email := fmt.Sprintf("load-%d@example.com", time.Now().UnixNano())
	call := func(method, path, token string, body any, out any) error {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, baseURL+path, r)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode >= 300 {
			b, _ := io.ReadAll(res.Body)
			return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		if out != nil {
			return json.NewDecoder(res.Body).Decode(out)
		}
		return nil
	}
	if err := call("POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": "loadtest123", "displayName": "Load"}, nil); err != nil {
		return s, err
	}
	var mail struct{ Messages []struct{ Code string } }
	if err := call("GET", "/v1/dev/mail?to="+email, "", nil, &mail); err != nil || len(mail.Messages) == 0 {
		return s, fmt.Errorf("no confirmation code: %v", err)
	}
	if err := call("POST", "/v1/auth/confirm", "", map[string]string{"email": email, "code": mail.Messages[0].Code}, nil); err != nil {
		return s, err
	}
	var tokens struct{ AccessToken string }
	if err := call("POST", "/v1/auth/signin", "", map[string]string{"email": email, "password": "loadtest123"}, &tokens); err != nil {
		return s, err
	}
	s.Token = tokens.AccessToken
	var me struct{ ID string }
	if err := call("GET", "/v1/me", s.Token, nil, &me); err != nil {
		return s, err
	}
	s.UserID = me.ID
	var post struct{ ID string }
	if err := call("POST", "/v1/posts", s.Token, map[string]any{"body": "hello world", "mediaIds": []string{}}, &post); err != nil {
		return s, err
	}
	s.PostID = post.ID
	return s, nil
}

// Target is one kind of request to measure.
type Target struct {
	Name string
	// New builds a fresh request (bodies are single-use).
	New        func() *http.Request
	WantStatus int
}

// Targets returns the bare, GET and POST targets.
func (e *Env) Targets() []Target {
	body := []byte(`{"body":"load test post","mediaIds":[]}`)
	return []Target{
		{Name: "bare", WantStatus: 200, New: func() *http.Request {
			r, _ := http.NewRequest("GET", e.BareURL, nil)
			return r
		}},
		{Name: "get-post", WantStatus: 200, New: func() *http.Request {
			r, _ := http.NewRequest("GET", e.BaseURL+"/v1/posts/"+e.PostID, nil)
			r.Header.Set("Authorization", "Bearer "+e.Token)
			return r
		}},
		{Name: "create-post", WantStatus: 201, New: func() *http.Request {
			r, _ := http.NewRequest("POST", e.BaseURL+"/v1/posts", bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+e.Token)
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
	}
}

// NewClient returns a keep-alive client for conns concurrent connections.
func NewClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}, Timeout: 10 * time.Second}
}

// Measure runs conns workers sending t's requests for d and returns the
// rate of requests answered with t.WantStatus. Any other answer is an error.
func Measure(client *http.Client, t Target, conns int, d time.Duration) (float64, error) {
	return rate(conns, d, func() error {
		res, err := client.Do(t.New())
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != t.WantStatus {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	})
}

// rate runs op in a loop on conns goroutines for d and returns how many
// calls completed per second; the first error stops its goroutine and is
// returned.
func rate(conns int, d time.Duration, op func() error) (float64, error) {
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}
