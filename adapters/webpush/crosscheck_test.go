package webpush_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/webpush/webpushtest"
)

// httpECEVersion is the http_ece that scripts/ci/node-webpush.sh pins.
const httpECEVersion = "1.2.1"

// installHint tells how to get http_ece.
const installHint = "run scripts/ci/node-webpush.sh (or set CLOUDPOST_NPM to an npm prefix holding node_modules/http_ece)"

// httpECE returns node and the http_ece package directory, or skips the
// test (fails it with CI=true) when either is missing.
func httpECE(t *testing.T) (node, pkg string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("http_ece cross-check is required with CI=true: "+format+"; "+installHint, args...)
		}
		t.Skipf("http_ece cross-check skipped: "+format+"; "+installHint, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	prefix := os.Getenv("CLOUDPOST_NPM")
	if prefix == "" {
		cache := os.Getenv("CLOUDPOST_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				missing("no home directory: %v", err)
			}
			cache = filepath.Join(home, ".cache", "cloudpost")
		}
		prefix = filepath.Join(cache, "npm")
	}
	pkg = filepath.Join(prefix, "node_modules", "http_ece")
	raw, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		missing("http_ece is not installed at %s", pkg)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Version != httpECEVersion {
		missing("%s holds http_ece %q, want %s", pkg, meta.Version, httpECEVersion)
	}
	return node, pkg
}

// runECE runs testdata/ece.js with req on its standard input.
func runECE(t *testing.T, node, pkg string, req, resp any) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "ece.js"), pkg)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/ece.js: %v\n%s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("node testdata/ece.js printed %q: %v", out, err)
	}
}

// TestCrossCheckHTTPECE checks the encryption both ways against http_ece,
// the Node.js implementation web-push uses: node decrypts what our
// adapter (webpush-go) sent, and our test service decrypts what node
// encrypted.
func TestCrossCheckHTTPECE(t *testing.T) {
	t.Parallel()
	node, pkg := httpECE(t)
	b64 := base64.RawURLEncoding

	t.Run("AdapterToNode", func(t *testing.T) {
		f := newFixture(t)
		d := f.device()
		m := message()
		m.Title = "Zoë 💬 «quoted» \"x\""
		if err := f.p.Send(t.Context(), d, m); err != nil {
			t.Fatal(err)
		}
		push := f.srv.Received(d.Subscription.Endpoint)[0]
		priv, auth := f.srv.Keys(d.Subscription.Endpoint)
		var resp struct{ Plaintext string }
		runECE(t, node, pkg, map[string]string{
			"op": "decrypt", "body": b64.EncodeToString(push.Body),
			"privateKey": b64.EncodeToString(priv.Bytes()), "auth": b64.EncodeToString(auth),
		}, &resp)
		plain, err := b64.DecodeString(resp.Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain, push.Payload) {
			t.Fatalf("http_ece decrypted %q, our service %q", plain, push.Payload)
		}
		if w := decode(t, webpushtest.Push{Payload: plain}); w.Title != m.Title || w.CollapseID != m.CollapseID {
			t.Errorf("http_ece decrypted %+v, want the message sent", w)
		}
	})

	t.Run("NodeToService", func(t *testing.T) {
		f := newFixture(t)
		sub := f.srv.NewSubscription()
		priv, auth := f.srv.Keys(sub.Endpoint)
		for _, pad := range []int{0, 1, 700} {
			msg := []byte(`{"title":"Şükrü 李 👩‍👩‍👧","pad":` + strconv.Itoa(pad) + `}`)
			var resp struct{ Body string }
			runECE(t, node, pkg, map[string]any{
				"op": "encrypt", "plaintext": b64.EncodeToString(msg),
				"publicKey": sub.P256dh, "auth": sub.Auth, "pad": pad,
			}, &resp)
			body, err := b64.DecodeString(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := webpushtest.Decrypt(body, priv, auth)
			if err != nil {
				t.Fatalf("pad %d: decrypting http_ece's body: %v", pad, err)
			}
			if !bytes.Equal(got, msg) {
				t.Errorf("pad %d: decrypted %q, want %q", pad, got, msg)
			}
		}
	})
}
