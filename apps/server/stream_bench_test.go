package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/core/live"
)

// BenchmarkStreamMemory opens b.N notification streams (ten per user, the
// most one server takes from one user) on a server in this process and reports what each costs
// the server: heap and stack bytes, and goroutines. The clients are bare
// TCP connections that only read the response head, so almost all of the
// growth is the server's (connection, buffers, handler, subscription).
//
//	go test -run '^$' -bench BenchmarkStreamMemory -benchtime 1000x ./apps/server/
func BenchmarkStreamMemory(b *testing.B) {
	cfg, err := config.Load([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=error", fastHashes,
		"CLOUDPOST_LIMIT_SIGNUP_ADDR=off", "CLOUDPOST_LIMIT_SIGNIN_ADDR=off", "CLOUDPOST_LIMIT_CODES_ADDR=off", "CLOUDPOST_LIMIT_NOTIFICATIONS_ADDR=off"})
	if err != nil {
		b.Fatal(err)
	}
	var (
		ep  *fxmodules.Endpoint
		hub *live.Hub
	)
	app := fx.New(fxmodules.Server(cfg), fx.Populate(&ep, &hub), fx.NopLogger)
	if err := app.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = app.Stop(context.Background()) }()
	base, _ := url.Parse(ep.BaseURL())
	c := &client{t: &testing.T{}, base: ep.BaseURL(), http: http.DefaultClient}
	tokens := make([]string, (b.N+live.DefaultMaxPerUser-1)/live.DefaultMaxPerUser)
	for i := range tokens {
		c.code = devMailCode(c)
		tokens[i] = signUpAndIn(c, fmt.Sprintf("u%d-%d@example.com", i, time.Now().UnixNano()), "U").AccessToken
	}
	conns := make([]net.Conn, 0, b.N)
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	b.ResetTimer()
	for i := range b.N {
		cn, err := net.Dial("tcp", base.Host)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, cn)
		fmt.Fprintf(cn, "GET /v1/notifications/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", base.Host, tokens[i/live.DefaultMaxPerUser])
		status, err := bufio.NewReader(cn).ReadString('\n')
		if err != nil || !strings.Contains(status, " 200 ") {
			b.Fatalf("stream %d: %q %v", i, status, err)
		}
	}
	b.StopTimer()
	for hub.Connected() < b.N {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := float64((after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse))
	b.ReportMetric(grown/float64(b.N), "bytes/stream")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(b.N), "goroutines/stream")
}
