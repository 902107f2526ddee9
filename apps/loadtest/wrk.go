package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
)

// wrkOptions are the settings of runWrkCompare.
type wrkOptions struct {
	rounds   int
	duration time.Duration
	conns    int
	threads  int
	// cpuProfile, when set, is where the server's CPU profile of the
	// measured rounds is written (see runWrkCompare).
	cpuProfile string
	// settings are CLOUDPOST_*=value settings added to the app's default
	// configuration, to see what they cost (none for the target).
	settings []string
}

// runWrkCompare measures issue 16's target: an authenticated
// GET /v1/posts/{id} on the server app as `make run` starts it (memory
// adapters, local identity provider, access log on at level info, text
// format, on stderr) reaches at least 60% of the requests per second of a
// bare Echo handler returning a small fixed JSON document.
//
// Each server is a process of its own, and so is the load generator, wrk:
// the app is apps/server built with `go build` and started with `serve`
// and no CLOUDPOST_* variable but CLOUDPOST_HTTP_ADDR (a free loopback
// port); the bare server is this program run with -child=bare. The app's
// stderr (its access log) goes to a file, as a server's log would, not
// through this program (which shares the two cores); at the end its lines
// are counted and checked for the bearer token, which must never appear.
// A user is signed up and in through the public API (the confirmation
// code comes from the dev mailbox) and creates a post; then wrk, with the
// same threads and connections for both, loads the two servers in
// interleaved rounds whose order alternates, after an unreported warm-up.
// Every round's rates and ratio are printed, with the CPU time each server
// process used per request (from /proc, less sensitive than the rates to
// other work on the machine), then the ratio's range and median.
//
// With cpuProfile set, the app is this program run with -child=server
// instead: the same fx wiring (fxmodules.Server with the configuration
// read from the same environment), which records a CPU profile from the
// first measured round to the end of the last (the sign-up's password
// hashing and the warm-up stay out of it); the bare server records one
// too, into cpuProfile+".bare".
func runWrkCompare(o wrkOptions) error {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return errors.New("wrk not found: install it (scripts/ci/wrk.sh or apt-get install wrk)")
	}
	dir, err := os.MkdirTemp("", "cloudpost-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	appCmd := []string{self, "-child=server", "-cpuprofile=" + o.cpuProfile}
	what := "apps/server serve (go build)"
	if o.cpuProfile == "" {
		bin := filepath.Join(dir, "cloudpost")
		build := exec.Command("go", "build", "-o", bin, "github.com/cloudpost/cloudpost/apps/server")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./apps/server: %w\n%s", err, out)
		}
		appCmd = []string{bin, "serve"}
	} else {
		what = "the server app in a child of loadtest, CPU profile to " + o.cpuProfile
	}
	logPath := filepath.Join(dir, "app.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	addr, err := freePort()
	if err != nil {
		return err
	}
	app, err := startChild(appCmd, defaultEnv(append([]string{"CLOUDPOST_HTTP_ADDR=" + addr}, o.settings...)...), logFile, nil, "http://"+addr)
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("server app: %w; its output:\n%s", err, log[max(0, len(log)-4096):])
	}
	defer app.stop()
	bareCmd := []string{self, "-child=bare"}
	if o.cpuProfile != "" {
		bareCmd = append(bareCmd, "-cpuprofile="+o.cpuProfile+".bare")
	}
	bare, err := startChild(bareCmd, os.Environ(), io.Discard, bareListening, "")
	if err != nil {
		return fmt.Errorf("bare server: %w", err)
	}
	defer bare.stop()

	s, err := signIn(app.url)
	if err != nil {
		return err
	}
	auth := "Authorization: Bearer " + s.Token
	// run loads one server and also returns the CPU time its process used
	// per request (0 where /proc is not available).
	run := func(name string, d time.Duration) (wrkResult, time.Duration, error) {
		c, url, header := bare, bare.url+"/bare", ""
		if name == "app" {
			c, url, header = app, app.url+"/v1/posts/"+s.PostID, auth
		}
		before, ok := c.cpuTime()
		res, err := wrkStats(wrk, url, header, o.threads, o.conns, d)
		after, ok2 := c.cpuTime()
		if err != nil || !ok || !ok2 || res.requests == 0 {
			return res, 0, err
		}
		return res, (after - before) / time.Duration(res.requests), nil
	}
	for _, name := range []string{"bare", "app"} {
		if _, _, err := run(name, time.Second); err != nil {
			return fmt.Errorf("warm-up %s: %w", name, err)
		}
	}
	if o.cpuProfile != "" {
		if err := errors.Join(app.send("profile"), bare.send("profile")); err != nil {
			return err
		}
	}

	if len(o.settings) > 0 {
		what += " with " + strings.Join(o.settings, " ")
	}
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d wrk -t%d -c%d -d%s, %d rounds; app: %s\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), o.threads, o.conns, o.duration, o.rounds, what)
	var bareRPS, appRPS, ratios []float64
	var served int64
	for r := range o.rounds {
		order := []string{"bare", "app"}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		res, cpu := map[string]float64{}, map[string]time.Duration{}
		for _, name := range order {
			w, perRequest, err := run(name, o.duration)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, name, err)
			}
			res[name], cpu[name] = w.rps, perRequest
			if name == "app" {
				served += w.requests
			}
		}
		bareRPS, appRPS = append(bareRPS, res["bare"]), append(appRPS, res["app"])
		ratios = append(ratios, res["app"]/res["bare"])
		fmt.Printf("round %d  bare %8.0f req/s  GET /v1/posts/{id} %8.0f req/s  ratio %.3f", r+1, res["bare"], res["app"], res["app"]/res["bare"])
		if cpu["bare"] > 0 && cpu["app"] > 0 {
			fmt.Printf("  (server CPU per request: bare %.1fµs, app %.1fµs)", us(cpu["bare"]), us(cpu["app"]))
		}
		fmt.Println()
	}
	// Stopped here so that the app's log is complete (and the profiles
	// written).
	if err := errors.Join(app.stop(), bare.stop()); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		fmt.Printf("CPU profiles of the rounds: %s (app), %s.bare (bare)\n", o.cpuProfile, o.cpuProfile)
	}
	med := func(xs []float64) float64 { s := slices.Sorted(slices.Values(xs)); return s[len(s)/2] }
	fmt.Printf("\nratio min %.3f  max %.3f  median %.3f (target >= 0.60)\nmedian req/s: bare %.0f, GET /v1/posts/{id} %.0f\n",
		slices.Min(ratios), slices.Max(ratios), med(ratios), med(bareRPS), med(appRPS))
	lines, leaked, err := scanLog(logPath, s.Token)
	if err != nil {
		return err
	}
	fmt.Printf("app access log: %d lines for %d measured requests (and the warm-up); bearer token in it: %t\n", lines, served, leaked)
	if lines < served && len(o.settings) == 0 {
		return errors.New("the access log has fewer lines than requests: is it on?")
	}
	if leaked {
		return errors.New("the bearer token appears in the server's log")
	}
	return nil
}

// defaultEnv is this process's environment without any CLOUDPOST_*
// variable (the app then runs with its defaults, as `make run` does on a
// clean shell), plus settings.
func defaultEnv(settings ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CLOUDPOST_") })
	return append(env, settings...)
}

// bareListening finds the bare server's base URL in its first line.
var bareListening = regexp.MustCompile(`^bare listening on (http://\S+)`)

// freePort returns a loopback address with a port that was free a moment
// ago (the app's log may be off, so it cannot say which port it took).
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is a server process started by startChild.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	url    string
	exited chan struct{} // closed once the process has exited
	once   sync.Once
}

// startChild starts argv with env and waits until it is ready. With
// listening, its output (stdout and stderr together) is read until a line
// matches, whose first group is its base URL, and copied to out from
// there. Without, its output goes straight to out and it is ready when
// GET url/healthz answers 200. The child's stdin stays open until stop:
// children of this program end when it closes.
func startChild(argv, env []string, out io.Writer, listening *regexp.Regexp, url string) (*child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	var pr *io.PipeReader
	var pw *io.PipeWriter
	if listening != nil {
		pr, pw = io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, exited: make(chan struct{}), url: url}
	go func() {
		_ = cmd.Wait()
		if pw != nil {
			pw.Close()
		}
		close(c.exited)
	}()
	ready := make(chan string, 1)
	if listening != nil {
		go func() {
			r := bufio.NewReader(pr)
			for {
				line, err := r.ReadString('\n')
				if m := listening.FindStringSubmatch(line); m != nil {
					ready <- m[1]
					break
				}
				if err != nil {
					return
				}
				fmt.Fprintf(os.Stderr, "%s: %s", filepath.Base(argv[0]), line)
			}
			_, _ = io.Copy(out, r)
		}()
	} else {
		go func() {
			for {
				if res, err := http.Get(url + "/healthz"); err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						ready <- url
						return
					}
				}
				select {
				case <-c.exited:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}
	select {
	case c.url = <-ready:
		return c, nil
	case <-c.exited:
		err = fmt.Errorf("exited before it was ready (%s)", cmd.ProcessState)
	case <-time.After(time.Minute):
		err = errors.New("not ready after a minute")
	}
	_ = c.stop()
	return nil, err
}

// cpuTime returns the CPU time (user and system) the child has used so
// far, from /proc/<pid>/stat; false where that cannot be read.
func (c *child) cpuTime() (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command name (in parentheses, which it may
	// itself contain): state is the 3rd field of the line, utime and
	// stime the 14th and 15th, in clock ticks (USER_HZ, 100 on Linux).
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * (time.Second / 100), true
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// send writes one line to the child's stdin.
func (c *child) send(line string) error {
	_, err := io.WriteString(c.stdin, line+"\n")
	return err
}

// stop ends the child and waits for it: SIGTERM, a second one 100 ms later
// (apps/server drains for CLOUDPOST_SHUTDOWN_DRAIN after the first and
// stops at the second), SIGKILL after 20 s. It returns an error when the
// child had to be killed or failed.
func (c *child) stop() error {
	c.once.Do(func() {
		c.stdin.Close()
		for _, after := range []time.Duration{0, 100 * time.Millisecond} {
			select {
			case <-c.exited:
			case <-time.After(after):
				_ = c.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		select {
		case <-c.exited:
		case <-time.After(20 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	if st := c.cmd.ProcessState; !st.Success() {
		return fmt.Errorf("%s: %s", filepath.Base(c.cmd.Path), st)
	}
	return nil
}

// scanLog counts the lines of the log at path and reports whether secret
// appears in one of them.
func scanLog(path, secret string) (lines int64, leaked bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
		leaked = leaked || bytes.Contains(sc.Bytes(), []byte(secret))
	}
	return lines, leaked, sc.Err()
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rps      float64
	requests int64
}

var wrkRequests = regexp.MustCompile(`(\d+) requests in `)

// wrkStats loads url with wrk (threads threads, conns connections, header
// as -H unless empty) for d; any non-2xx answer or socket error is an
// error.
func wrkStats(wrk, url, header string, threads, conns int, d time.Duration) (wrkResult, error) {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(max(1, int(d.Round(time.Second).Seconds()))) + "s"}
	if header != "" {
		args = append(args, "-H", header)
	}
	out, err := exec.Command(wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	if m := wrkErrors.Find(out); m != nil {
		return wrkResult{}, fmt.Errorf("wrk: %s", m)
	}
	rate, count := wrkRate.FindSubmatch(out), wrkRequests.FindSubmatch(out)
	if rate == nil || count == nil {
		return wrkResult{}, fmt.Errorf("wrk: no rate in %q", out)
	}
	var res wrkResult
	res.rps, err = strconv.ParseFloat(string(rate[1]), 64)
	if err == nil {
		res.requests, err = strconv.ParseInt(string(count[1]), 10, 64)
	}
	return res, err
}

// runChild runs a process runWrkCompare starts: "bare" serves newBare
// on a free loopback port, "server" the server app as apps/server serves
// it. Either prints the line its parent waits for, records a CPU profile
// into cpuProfile (when set) from the line "profile" on stdin to its end,
// and runs until stdin closes or a SIGTERM or SIGINT arrives.
func runChild(kind, cpuProfile string) error {
	var stop func(context.Context) error
	switch kind {
	case "bare":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: newBare(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		fmt.Printf("bare listening on http://%s\n", ln.Addr())
		stop = func(context.Context) error { return srv.Close() }
	case "server":
		cfg, err := config.Load(os.Environ())
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		app := fx.New(fxmodules.Server(cfg), fx.StopTimeout(cfg.ShutdownTimeout))
		if err := app.Start(context.Background()); err != nil {
			return err
		}
		stop = app.Stop
	default:
		return fmt.Errorf("unknown -child %q", kind)
	}

	// Never stopped: a second SIGTERM (see child.stop) must not kill the
	// process while it writes its profile or stops.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()
	var profile *os.File
	var err error
wait:
	for err == nil {
		select {
		case <-sig:
			break wait
		case c, ok := <-cmds:
			if !ok {
				break wait
			}
			if c == "profile" && profile == nil && cpuProfile != "" {
				if profile, err = os.Create(cpuProfile); err == nil {
					err = pprof.StartCPUProfile(profile)
				}
			}
		}
	}
	if profile != nil {
		pprof.StopCPUProfile()
		err = errors.Join(err, profile.Close())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(err, stop(ctx))
}
