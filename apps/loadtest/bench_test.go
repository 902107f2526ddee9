package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
)

// TestMain lets runWrkCompare start this test binary as its children, as
// it starts the loadtest binary (-child=bare|server).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-child=") {
		fs := flag.NewFlagSet("child", flag.ExitOnError)
		kind := fs.String("child", "", "")
		profile := fs.String("cpuprofile", "", "")
		_ = fs.Parse(os.Args[1:])
		if err := runChild(*kind, *profile); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkHTTP measures each target over real loopback connections with
// b.N requests; ns/op and allocs/op (client + server, same process) are
// comparable between the sub-benchmarks of one run.
func BenchmarkHTTP(b *testing.B) {
	env, err := Start()
	if err != nil {
		b.Fatal(err)
	}
	defer env.Stop()
	client := NewClient(8)
	for _, t := range env.Targets() {
		b.Run(t.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Do(t.New())
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != t.WantStatus {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkServeHTTP runs each target in process (handler.ServeHTTP, no
// network), so allocs/op is the server's cost per request.
func BenchmarkServeHTTP(b *testing.B) {
	env, err := Start()
	if err != nil {
		b.Fatal(err)
	}
	defer env.Stop()
	for _, t := range env.Targets() {
		handler := http.Handler(env.Echo)
		if t.Name == "bare" {
			handler = env.Bare
		}
		b.Run(t.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := t.New()
				req.URL = &url.URL{Path: req.URL.Path}
				req.RequestURI = req.URL.Path
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != t.WantStatus {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestLoadSmoke runs one short round so the load tool keeps working.
func TestLoadSmoke(t *testing.T) {
	env, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	client := NewClient(2)
	for _, target := range env.Targets() {
		if rps, err := Measure(client, target, 2, 100*time.Millisecond); err != nil || rps <= 0 {
			t.Errorf("%s: %v rps, %v", target.Name, rps, err)
		}
	}
}

// TestLoadMySQLSmoke runs one short round of `make load-mysql` (the MySQL
// server of scripts/ci/mariadb.sh, wrk of scripts/ci/wrk.sh) so the
// measurement keeps working.
func TestLoadMySQLSmoke(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk is not installed: run scripts/ci/wrk.sh")
		}
		t.Skip("wrk is not installed: run scripts/ci/wrk.sh")
	}
	if err := runMySQL(scratch.ServerDSN(t), 1, time.Second, 4); err != nil {
		t.Fatal(err)
	}
}

// TestLoadWrkSmoke runs one short round of the -wrk comparison (wrk of
// scripts/ci/wrk.sh) so the measurement keeps working, with CPU profiles.
func TestLoadWrkSmoke(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk is not installed: run scripts/ci/wrk.sh")
		}
		t.Skip("wrk is not installed: run scripts/ci/wrk.sh")
	}
	// One run, with the CPU profiles (the run without them differs only by
	// not writing them).
	profile := t.TempDir() + "/cpu.out"
	if err := runWrkCompare(wrkOptions{rounds: 1, duration: time.Second, conns: 4, threads: 1, cpuProfile: profile}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{profile, profile + ".bare"} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", p, err)
		}
	}
}
