package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/core/domain"
)

type sse struct{ id, name, data string }

// stream opens the notification stream of c's user (bearer) with
// Last-Event-ID last ("" for none); events arrive on the channel, which
// closes when the server ends the stream.
func stream(t *testing.T, c *client, last string) (<-chan sse, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/notifications/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("stream: %d", res.StatusCode)
	}
	out := make(chan sse, 100)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sse
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if ev.name != "" {
					out <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return out, cancel
}

func nextNotification(t *testing.T, events <-chan sse, within time.Duration) sse {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.name == "notification" {
				return ev
			}
		case <-deadline:
			t.Fatalf("no notification within %s", within)
		}
	}
}

// TestNotificationsAcrossInstances runs two servers on one MySQL database
// and one user pool: a comment made through one instance reaches a stream
// held on the other within a second, the relay pushes it once to the
// recipient's device, and a stream that resumes with Last-Event-ID gets
// every notification it missed.
func TestNotificationsAcrossInstances(t *testing.T) {
	env, code := instancesEnv(t, "CLOUDPOST_PUSH_COALESCE_WINDOW=0")
	var pushA, pushB *mempush.Push
	ann, _, _ := startServer(t, env, code, fx.Populate(&pushA))
	bob, _, _ := startServer(t, env, code, fx.Populate(&pushB))
	suffix := time.Now().UnixNano()
	ann.token = signUpAndIn(ann, fmt.Sprintf("ann-%d@example.com", suffix), "Ann").AccessToken
	bob.token = signUpAndIn(bob, fmt.Sprintf("bob-%d@example.com", suffix), "Bob").AccessToken

	device := domain.Device{ID: "phone", Platform: domain.PlatformFCM, Token: fmt.Sprintf("fcm-%d", suffix)}
	ann.do("PUT", "/v1/devices/phone", map[string]string{"platform": "fcm", "token": device.Token}, 201, nil)
	var post struct{ ID string }
	ann.do("POST", "/v1/posts", map[string]string{"body": "hello"}, 201, &post)

	events, closeStream := stream(t, ann, "")
	start := time.Now()
	bob.do("POST", "/v1/posts/"+post.ID+"/comments", map[string]string{"body": "hi from B"}, 201, nil)
	first := nextNotification(t, events, time.Second)
	t.Logf("the comment made on B reached the stream on A in %s", time.Since(start).Round(time.Millisecond))

	// One push, by one of the two relays, carrying the notification id.
	deadline := time.Now().Add(10 * time.Second)
	for pushA.Total()+pushB.Total() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second push, if any, would show
	sent := append(pushA.Sent(device), pushB.Sent(device)...)
	if len(sent) != 1 || sent[0].CollapseID != first.id || sent[0].Title != "Bob commented on your post" || sent[0].Unread != 1 {
		t.Fatalf("pushes %+v, want one for %s", sent, first.id)
	}

	// Away for three comments; back with Last-Event-ID: all three.
	closeStream()
	for i := range 3 {
		bob.do("POST", "/v1/posts/"+post.ID+"/comments", map[string]string{"body": fmt.Sprint("missed ", i)}, 201, nil)
	}
	resumed, _ := stream(t, ann, first.id)
	last := first.id
	for range 3 {
		ev := nextNotification(t, resumed, 2*time.Second)
		if ev.id <= last {
			t.Fatalf("replayed %s after %s", ev.id, last)
		}
		last = ev.id
	}
}

// TestOpenStreamsDoNotHoldUpShutdown: stopping the server ends its
// streams at once.
func TestOpenStreamsDoNotHoldUpShutdown(t *testing.T) {
	cfg, err := config.Load([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=warn", fastHashes})
	if err != nil {
		t.Fatal(err)
	}
	var ep *fxmodules.Endpoint
	app := fx.New(fxmodules.Server(cfg), fx.Populate(&ep), fx.NopLogger)
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, base: ep.BaseURL(), http: http.DefaultClient}
	c.code = devMailCode(c)
	c.token = signUpAndIn(c, "ann@example.com", "Ann").AccessToken
	var streams []<-chan sse
	for range 5 {
		s, _ := stream(t, c, "")
		streams = append(streams, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop took %s with open streams", took)
	}
	for _, s := range streams {
		for range s { // drains until the server closed it
		}
	}
}
