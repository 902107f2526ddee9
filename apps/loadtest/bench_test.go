package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
)

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
