package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/core/domain"
)

func probeCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func probeRun(b *testing.B, body func(ctx context.Context) error) {
	b.SetParallelism(benchParallelism)
	c0 := probeCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// shaped like a request context: cancellable, with a value
			ctx, cancel := context.WithCancel(context.Background())
			ctx = context.WithValue(ctx, probeKey{}, "x")
			err := body(ctx)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(probeCPU()-c0)/float64(b.N), "cpu-ns/op")
}

type probeKey struct{}

const probeQ = "SELECT id, author_id, body, comment_count, created_at, updated_at, version FROM posts WHERE id = ?"

func BenchmarkProbe(b *testing.B) {
	dsn := testDatabase(b, false)
	c := DefaultConfig()
	n := benchParallelism * 4
	c.MaxOpenConns, c.MaxIdleConns = n, n
	db := testOpenDB(b, dsn, c)
	s := NewFromDB(db, nil, Options{})
	p, err := s.CreatePost(context.Background(), domain.Post{ID: system.IDs{}.NewID(), AuthorID: system.IDs{}.NewID(), Body: "probe"})
	if err != nil {
		b.Fatal(err)
	}
	id := p.ID
	c2 := c
	c2.QueryTimeout = 0
	scan := func(r interface{ Scan(...any) error }) error {
		var id, author, body string
		var count, version int64
		var created, updated sql.NullTime
		return r.Scan(&id, &author, &body, &count, &created, &updated, &version)
	}
	b.Run("bare-bg", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error { return scan(db.QueryRowContext(ctx, probeQ, id)) })
	})
	b.Run("bare-timeout", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return scan(db.QueryRowContext(ctx, probeQ, id))
		})
	})
	b.Run("bare-cancel", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			return scan(db.QueryRowContext(ctx, probeQ, id))
		})
	})
	nort, err := driverConfig(c, dsn, true)
	if err != nil {
		b.Fatal(err)
	}
	nort.ReadTimeout, nort.WriteTimeout = 0, 0
	connector, _ := mysql.NewConnector(nort)
	dbNoRT := sql.OpenDB(connector)
	dbNoRT.SetMaxOpenConns(n)
	dbNoRT.SetMaxIdleConns(n)
	b.Cleanup(func() { dbNoRT.Close() })
	b.Run("bare-timeout-nort", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return scan(dbNoRT.QueryRowContext(ctx, probeQ, id))
		})
	})
	b.Run("store-GetPost", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error { _, err := s.GetPost(ctx, id); return err })
	})
	mem := memstore.New(nil)
	for _, tg := range []struct {
		name  string
		store ports.Storage
	}{{"mysql", s}, {"memstore", mem}} {
		en := newAPIEnv(b, tg.store)
		en.client = &http.Client{Transport: &http.Transport{MaxIdleConns: n * 4, MaxIdleConnsPerHost: n * 4}, Timeout: 10 * time.Second}
		var p struct{ ID string }
		en.mustCall("POST", "/v1/posts", map[string]any{"body": "benchmark post", "mediaIds": []string{}}, &p)
		url := en.srv.URL + "/v1/posts/" + p.ID
		b.Run("http-"+tg.name, func(b *testing.B) {
			probeRun(b, func(ctx context.Context) error {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+en.token)
				res, err := en.client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					return fmt.Errorf("status %d", res.StatusCode)
				}
				return nil
			})
		})
	}
	b.Run("raw-timeout", func(b *testing.B) {
		probeRun(b, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			return conn.Raw(func(dc any) error {
				rows, err := dc.(driver.QueryerContext).QueryContext(ctx, probeQ, []driver.NamedValue{{Ordinal: 1, Value: id}})
				if err != nil {
					return err
				}
				defer rows.Close()
				dest := make([]driver.Value, 7)
				if err := rows.Next(dest); err != nil {
					return err
				}
				if err := rows.Next(dest); err != io.EOF {
					return err
				}
				return nil
			})
		})
	})
}

// TestProbeInterleaved runs each variant in short alternating slices so that
// the other load on the machine hits all variants alike.
func TestProbeInterleaved(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip("PROBE not set")
	}
	dsn := testDatabase(t, false)
	c := DefaultConfig()
	n := benchParallelism * 4
	c.MaxOpenConns, c.MaxIdleConns = n, n
	db := testOpenDB(t, dsn, c)
	s := NewFromDB(db, nil, Options{})
	bare := testOpenDB(t, dsn, c)
	p, err := s.CreatePost(context.Background(), domain.Post{ID: system.IDs{}.NewID(), AuthorID: system.IDs{}.NewID(), Body: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	id := p.ID
	scan := func(r interface{ Scan(...any) error }) error {
		var id, author, body string
		var count, version int64
		var created, updated sql.NullTime
		return r.Scan(&id, &author, &body, &count, &created, &updated, &version)
	}
	type variant struct {
		name string
		fn   func(ctx context.Context) error
	}
	vs := []variant{
		{"bare-bg", func(context.Context) error { return scan(bare.QueryRowContext(context.Background(), probeQ, id)) }},
		{"bare-timeout", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return scan(bare.QueryRowContext(ctx, probeQ, id))
		}},
		{"bare-reqctx", func(ctx context.Context) error { return scan(bare.QueryRowContext(ctx, probeQ, id)) }},
		{"raw-bg", func(ctx context.Context) error { return probeRaw(context.Background(), bare, id) }},
		{"raw-timeout", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return probeRaw(ctx, bare, id)
		}},
		{"store-GetPost", func(ctx context.Context) error { _, err := s.GetPost(ctx, id); return err }},
	}
	mem := memstore.New(nil)
	for _, tg := range []struct {
		name  string
		store ports.Storage
	}{{"mysql", s}, {"memstore", mem}} {
		if os.Getenv("PROBE_ONLY_DB") != "" {
			break
		}
		en := newAPIEnv(t, tg.store)
		en.client = &http.Client{Transport: &http.Transport{MaxIdleConns: n * 4, MaxIdleConnsPerHost: n * 4}, Timeout: 10 * time.Second}
		var p struct{ ID string }
		en.mustCall("POST", "/v1/posts", map[string]any{"body": "benchmark post", "mediaIds": []string{}}, &p)
		url := en.srv.URL + "/v1/posts/" + p.ID
		if tg.name == "mysql" {
			var p2 struct{ ID string }
			en.mustCall("POST", "/v1/posts", map[string]any{"body": "benchmark post", "mediaIds": en.readyMedia(2)}, &p2)
			url2 := en.srv.URL + "/v1/posts/" + p2.ID
			vs = append(vs, variant{"http-2media-mysql", probeHTTP(en, url2)})
		}
		vs = append(vs, variant{"http-" + tg.name, probeHTTP(en, url)})
	}
	slice := 300 * time.Millisecond
	rounds := 12
	if r := os.Getenv("PROBE_ROUNDS"); r != "" {
		fmt.Sscan(r, &rounds)
	}
	conc := benchParallelism * runtime.GOMAXPROCS(0)
	mdb := probeMariaPID()
	totOps := map[string]int64{}
	totM := map[string]float64{}
	totC := map[string]float64{}
	wall := map[string][]float64{}
	cpu := map[string][]float64{}
	for round := -1; round < rounds; round++ {
		for _, v := range vs {
			var ops atomic.Int64
			var failed atomic.Value
			stop := time.Now().Add(slice)
			c0 := probeCPU()
			m0 := probeProcCPU(mdb)
			t0 := time.Now()
			var wg sync.WaitGroup
			for range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						ctx, cancel := context.WithCancel(context.Background())
						ctx = context.WithValue(ctx, probeKey{}, "x")
						err := v.fn(ctx)
						cancel()
						if err != nil {
							failed.Store(err)
							return
						}
						ops.Add(1)
					}
				}()
			}
			wg.Wait()
			el := time.Since(t0)
			if e := failed.Load(); e != nil {
				t.Fatal(v.name, e)
			}
			if round < 0 {
				continue // warm-up
			}
			totOps[v.name] += ops.Load()
			totM[v.name] += float64(probeProcCPU(mdb) - m0)
			totC[v.name] += float64(probeCPU() - c0)
			wall[v.name] = append(wall[v.name], float64(el.Nanoseconds())/float64(ops.Load()))
			cpu[v.name] = append(cpu[v.name], float64((probeCPU()-c0).Nanoseconds())/float64(ops.Load()))
		}
	}
	med := func(x []float64) float64 { y := slices.Clone(x); slices.Sort(y); return y[len(y)/2] }
	for _, v := range vs {
		var ratio []float64
		for i := range wall[v.name] {
			ratio = append(ratio, wall["bare-bg"][i]/wall[v.name][i])
		}
		t.Logf("%-20s wall %7.0f ns/op  cpu %7.0f ns/op (total: go %6.0f mariadb %6.0f)  ops/s vs bare-bg: median %.3f  (min %.3f max %.3f)", v.name, med(wall[v.name]), med(cpu[v.name]),
			totC[v.name]/float64(totOps[v.name]), totM[v.name]/float64(totOps[v.name]), med(ratio), slices.Min(ratio), slices.Max(ratio))
	}
}

func probeHTTP(en *apiEnv, url string) func(context.Context) error {
	return func(context.Context) error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+en.token)
		res, err := en.client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
}

func probeRaw(ctx context.Context, db *sql.DB, id string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, probeQ, []driver.NamedValue{{Ordinal: 1, Value: id}})
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 7)
		if err := rows.Next(dest); err != nil {
			return err
		}
		if err := rows.Next(dest); err != io.EOF {
			return err
		}
		return nil
	})
}

func probeMariaPID() string {
	out, _ := exec.Command("pgrep", "-x", "mariadbd").Output()
	return strings.TrimSpace(string(out))
}

// probeProcCPU returns the CPU time of process pid (0 if unknown).
func probeProcCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var u, s int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &s)
	return time.Duration(u+s) * 10 * time.Millisecond
}
