package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/core/domain"
)

// rawConn is a TCP client that writes requests byte by byte as a test
// wants: whole bodies before reading, chunked, or dripping.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, en *env) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", en.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Nothing here may take long: a hanging server fails the test, not the run.
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	return &rawConn{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *rawConn) write(s string) error {
	_, err := io.WriteString(c.conn, s)
	return err
}

// mustWrite writes s and fails the test if the server reset the connection.
func (c *rawConn) mustWrite(s string) {
	c.t.Helper()
	if err := c.write(s); err != nil {
		c.t.Fatalf("writing the request: %v", err)
	}
}

// paced writes s in 64 KiB pieces, 25 ms apart: 2 MiB take most of a
// second, as on a real network, so a server that closes the connection
// soon after answering resets it under the writer's feet.
func (c *rawConn) paced(s string) {
	c.t.Helper()
	const piece = 64 << 10
	for s != "" {
		n := min(piece, len(s))
		c.mustWrite(s[:n])
		s = s[n:]
		time.Sleep(25 * time.Millisecond)
	}
}

// head writes a request line and headers.
func (c *rawConn) head(method, path string, header map[string]string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: test\r\n", method, path)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	c.mustWrite(b.String())
}

// response reads one response and its whole body.
func (c *rawConn) response() (*http.Response, []byte) {
	c.t.Helper()
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading the response body: %v", err)
	}
	return res, body
}

// closedCleanly checks that the server closed the connection with a FIN,
// not a reset: the client read everything the server had to say.
func (c *rawConn) closedCleanly() {
	c.t.Helper()
	n, err := c.br.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		c.t.Errorf("after the answer: %d bytes, %v; want a clean end of stream", n, err)
	}
}

func checkProblem(t *testing.T, res *http.Response, body []byte, status int, code domain.Code) {
	t.Helper()
	if res.StatusCode != status || res.Header.Get("Content-Type") != httpapi.ProblemContentType {
		t.Fatalf("status %d %q, want %d problem; body %s", res.StatusCode, res.Header.Get("Content-Type"), status, body)
	}
	var p httpapi.ProblemDetails
	if err := json.Unmarshal(body, &p); err != nil || p.Status != status || p.Code != code || p.RequestID == "" {
		t.Fatalf("problem %s (%v), want status %d code %s", body, err, status, code)
	}
}

const twoMiB = 2 << 20

// TestOversizedBodyIsAnsweredNotReset: a client that writes its whole 2 MiB
// body before reading (as mobile HTTP stacks do), at network speed, reads
// the 413 problem, declared or chunked, and then a clean end of the
// connection.
func TestOversizedBodyIsAnsweredNotReset(t *testing.T) {
	en := newEnv(t)
	body := `{"email":"` + strings.Repeat("a", twoMiB-20) + `"}`

	t.Run("Content-Length", func(t *testing.T) {
		c := dialRaw(t, en)
		c.head("POST", "/v1/auth/signup", map[string]string{
			"Content-Type": "application/json", "Content-Length": strconv.Itoa(len(body)),
		})
		c.paced(body)
		res, data := c.response()
		checkProblem(t, res, data, http.StatusRequestEntityTooLarge, domain.TooLarge)
		if !res.Close {
			t.Error("no Connection: close")
		}
		c.closedCleanly()
	})

	t.Run("chunked", func(t *testing.T) {
		c := dialRaw(t, en)
		c.head("POST", "/v1/auth/signup", map[string]string{
			"Content-Type": "application/json", "Transfer-Encoding": "chunked",
		})
		const chunk = 32 << 10
		var b strings.Builder
		for rest := body; rest != ""; {
			n := min(chunk, len(rest))
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
		c.paced(b.String())
		res, data := c.response()
		checkProblem(t, res, data, http.StatusRequestEntityTooLarge, domain.TooLarge)
		if !res.Close {
			t.Error("no Connection: close")
		}
		c.closedCleanly()
	})

	t.Run("Expect 100-continue", func(t *testing.T) {
		// The client waits for a go-ahead it never gets, sends nothing, and
		// gets the 413 at once.
		c := dialRaw(t, en)
		c.head("POST", "/v1/auth/signup", map[string]string{
			"Content-Type": "application/json", "Content-Length": strconv.Itoa(len(body)), "Expect": "100-continue",
		})
		res, data := c.response()
		checkProblem(t, res, data, http.StatusRequestEntityTooLarge, domain.TooLarge)
		if !res.Close {
			t.Error("no Connection: close")
		}
	})

	t.Run("Go client", func(t *testing.T) {
		en.do(req{method: "POST", path: "/v1/auth/signup", body: body}).problem(t, http.StatusRequestEntityTooLarge, domain.TooLarge)
		en.do(req{method: "POST", path: "/v1/auth/signup", body: chunked{strings.NewReader(body)}}).
			problem(t, http.StatusRequestEntityTooLarge, domain.TooLarge)
	})
}

// TestSlowBodyIsCutOff: a JSON body that drips in gets a 408 problem when
// the read deadline (Config.JSONReadTimeout, not the server's two minutes)
// passes, while an upload to the blob route, dripping alongside, keeps
// going and succeeds, and a handler that got its body in time may run past
// the deadline.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	// A route whose handler outlives the read deadline after reading its
	// body in time: it must not see its context cancelled.
	slow := routeSet(func(e *echo.Echo) {
		h := func(c echo.Context) error {
			if _, err := io.ReadAll(c.Request().Body); err != nil {
				return err
			}
			select {
			case <-c.Request().Context().Done():
				return c.String(http.StatusOK, "cancelled")
			case <-time.After(timeout + time.Second):
				return c.String(http.StatusOK, "waited")
			}
		}
		e.POST("/test/slow", h)
		e.GET("/test/slow", h)
	})
	en := newEnv(t, func(d *httpapi.Deps) {
		d.Routes = append(d.Routes, slow)
		d.Config.JSONReadTimeout = timeout
	})
	u := en.signUp("drip")
	img := pngBytes(t, 64, 64)
	var up struct {
		Upload struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"upload"`
	}
	en.do(req{method: "POST", path: "/v1/uploads", token: u.token, body: map[string]any{
		"purpose": "post", "contentType": "image/png", "size": len(img),
	}}).want(t, http.StatusCreated).json(t, &up)
	blobURL, err := url.Parse(up.Upload.URL)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	slowPost := dialRaw(t, en)
	slowPost.head("POST", "/test/slow", map[string]string{"Content-Type": "application/json", "Content-Length": "2"})
	slowPost.mustWrite("{}")
	slowGet := dialRaw(t, en)
	slowGet.head("GET", "/test/slow", nil)

	const tick = 200 * time.Millisecond
	// The JSON request: a post whose body never finishes arriving.
	jsonConn := dialRaw(t, en)
	jsonConn.head("POST", "/v1/posts", map[string]string{
		"Content-Type": "application/json", "Content-Length": "1000", "Authorization": "Bearer " + u.token,
	})
	jsonConn.mustWrite(`{"body":"`)
	go func() {
		for jsonConn.write("x") == nil {
			time.Sleep(tick)
		}
	}()
	// The upload: dripping until well after the JSON deadline, then the rest.
	blobConn := dialRaw(t, en)
	h := map[string]string{"Content-Length": strconv.Itoa(len(img))}
	for k, v := range up.Upload.Headers {
		h[k] = v
	}
	blobConn.head("PUT", blobURL.RequestURI(), h)
	blobDone := make(chan error, 1)
	go func() {
		i := 0
		for ; time.Since(start) < timeout+2*time.Second; i++ {
			if err := blobConn.write(string(img[i : i+1])); err != nil {
				blobDone <- err
				return
			}
			time.Sleep(tick)
		}
		blobDone <- blobConn.write(string(img[i:]))
	}()

	res, data := jsonConn.response()
	took := time.Since(start)
	checkProblem(t, res, data, http.StatusRequestTimeout, domain.Invalid)
	// The deadline cannot pass early; a busy machine only answers later,
	// so the upper bound only catches a request the deadline never ended.
	if took < timeout-500*time.Millisecond || took > time.Minute {
		t.Errorf("answered after %v, want %v or a little more", took, timeout)
	}
	if !res.Close {
		t.Error("no Connection: close")
	}

	if err := <-blobDone; err != nil {
		t.Fatalf("the upload was cut off after %v: %v", time.Since(start), err)
	}
	res, data = blobConn.response()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", res.StatusCode, data)
	}
	if took := time.Since(start); took < timeout+2*time.Second {
		t.Errorf("the upload finished after %v: it did not drip past the JSON deadline", took)
	}

	for _, c := range []*rawConn{slowPost, slowGet} {
		res, data = c.response()
		if res.StatusCode != http.StatusOK || string(data) != "waited" {
			t.Errorf("slow handler: %d %s", res.StatusCode, data)
		}
	}

	// The access log shows the 408, not a 499 hang-up.
	if !strings.Contains(en.logs.String(), `"status":408`) {
		t.Errorf("no 408 in the access log:\n%s", en.logs.String())
	}
}

type routeSet func(e *echo.Echo)

func (f routeSet) Register(e *echo.Echo) { f(e) }

// TestBodyOnTimeKeepsTheConnection: a body sent in time lifts the read
// deadline, so a slow handler is not cut off and the connection is reused.
func TestBodyOnTimeKeepsTheConnection(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("keep")
	c := dialRaw(t, en)
	for i := range 3 {
		body := fmt.Sprintf(`{"body":"post %d"}`, i)
		c.head("POST", "/v1/posts", map[string]string{
			"Content-Type": "application/json", "Content-Length": strconv.Itoa(len(body)), "Authorization": "Bearer " + u.token,
		})
		c.mustWrite(body)
		res, data := c.response()
		if res.StatusCode != http.StatusCreated || res.Close {
			t.Fatalf("post %d: %d close=%v %s", i, res.StatusCode, res.Close, data)
		}
	}
}

// TestMalformedRequestsOverTCP: what Go's client will not send.
func TestMalformedRequestsOverTCP(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("raw")
	for _, tc := range []struct{ path, detail string }{
		{"/v1/posts?cursor=%%%garbage", `invalid URL escape "%%%"`},
		{"/v1/posts?limit=5;cursor=x", "semicolon"},
	} {
		c := dialRaw(t, en)
		c.head("GET", tc.path, map[string]string{"Authorization": "Bearer " + u.token})
		res, data := c.response()
		checkProblem(t, res, data, http.StatusBadRequest, domain.Invalid)
		if !bytes.Contains(data, []byte(strings.ReplaceAll(tc.detail, `"`, `\"`))) {
			t.Errorf("%s: %s does not mention %s", tc.path, data, tc.detail)
		}
	}
}
