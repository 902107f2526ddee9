package webpushtest_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/webpush"
	"github.com/cloudpost/cloudpost/adapters/webpush/webpushtest"
	"github.com/cloudpost/cloudpost/core/domain"
)

var b64 = base64.RawURLEncoding

// rewrite is a transport that changes each request before it leaves.
type rewrite struct {
	base http.RoundTripper
	edit func(r *http.Request)
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	rw.edit(r)
	return rw.base.RoundTrip(r)
}

// token signs a VAPID token with key.
func token(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	h := b64.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := h + "." + b64.EncodeToString(c)
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + b64.EncodeToString(sig)
}

func ecdsaKey(t *testing.T, k webpush.VAPIDKeys) *ecdsa.PrivateKey {
	t.Helper()
	raw, err := b64.DecodeString(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestChecks sends pushes through the adapter, each request changed in
// one way, and expects the service to refuse each change with the right
// status (and to accept the unchanged one).
func TestChecks(t *testing.T) {
	keys, err := webpush.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	other, err := webpush.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	key, otherKey := ecdsaKey(t, keys), ecdsaKey(t, other)
	// vapid replaces the Authorization header by one signed by k with the
	// claims changed by edit.
	vapid := func(k *ecdsa.PrivateKey, pub string, edit func(aud string, c map[string]any)) func(r *http.Request) {
		return func(r *http.Request) {
			aud := "https://" + r.URL.Host
			c := map[string]any{"aud": aud, "exp": time.Now().Add(12 * time.Hour).Unix(), "sub": "mailto:ops@cloudpost.example"}
			edit(aud, c)
			r.Header.Set("Authorization", "vapid t="+token(t, k, c)+", k="+pub)
		}
	}
	keep := func(string, map[string]any) {}
	for _, c := range []struct {
		name    string
		edit    func(r *http.Request)
		status  int // the service's answer; 0: accepted
		problem string
	}{
		{"unchanged", func(*http.Request) {}, 0, ""},
		{"hand-made token", vapid(key, keys.PublicKey, keep), 0, ""},
		{"https subject", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { c["sub"] = "https://cloudpost.example" }), 0, ""},
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, 401, "not the vapid scheme"},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, 401, "not the vapid scheme"},
		{"no k", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Split(r.Header.Get("Authorization"), ",")[0])
		}, 401, "needs t and k"},
		{"another server's key", vapid(otherKey, other.PublicKey, keep), 403, "not the application server key"},
		{"signed by another key", vapid(otherKey, keys.PublicKey, keep), 401, "does not verify"},
		{"tampered claims", func(r *http.Request) {
			vapid(key, keys.PublicKey, keep)(r)
			h := r.Header.Get("Authorization")
			parts := strings.Split(strings.TrimPrefix(strings.Split(h, ",")[0], "vapid t="), ".")
			parts[1] = b64.EncodeToString([]byte(`{"aud":"https://` + r.URL.Host + `","exp":9999999999,"sub":"mailto:x@y.example"}`))
			r.Header.Set("Authorization", "vapid t="+strings.Join(parts, ".")+", k="+keys.PublicKey)
		}, 401, "does not verify"},
		{"other audience", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { c["aud"] = "https://fcm.googleapis.com" }), 401, "aud"},
		{"audience with path", vapid(key, keys.PublicKey, func(aud string, c map[string]any) { c["aud"] = aud + "/push" }), 401, "aud"},
		{"expired", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), 401, "expired"},
		{"exp too far", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { c["exp"] = time.Now().Add(25 * time.Hour).Unix() }), 401, "24 hours"},
		{"no exp", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { delete(c, "exp") }), 401, "exp"},
		{"no sub", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { delete(c, "sub") }), 401, "sub"},
		{"mailto twice", vapid(key, keys.PublicKey, func(_ string, c map[string]any) { c["sub"] = "mailto:mailto:ops@cloudpost.example" }), 401, "not a mailto: URI"},
		{"no TTL", func(r *http.Request) { r.Header.Del("TTL") }, 400, "TTL"},
		{"bad TTL", func(r *http.Request) { r.Header.Set("TTL", "1h") }, 400, "TTL"},
		{"long Topic", func(r *http.Request) { r.Header.Set("Topic", strings.Repeat("a", 33)) }, 400, "Topic"},
		{"Topic with hyphens", func(r *http.Request) { r.Header.Set("Topic", "a b") }, 400, "Topic"},
		{"bad Urgency", func(r *http.Request) { r.Header.Set("Urgency", "urgent") }, 400, "Urgency"},
		{"old encoding", func(r *http.Request) { r.Header.Set("Content-Encoding", "aesgcm") }, 400, "Content-Encoding"},
		{"tampered body", func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body[len(body)-1] ^= 1
			r.Body = io.NopCloser(bytes.NewReader(body))
		}, 400, "authentication failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := webpushtest.New(t, keys.PublicKey)
			client := srv.Client()
			client.Transport = rewrite{base: client.Transport, edit: c.edit}
			p, err := webpush.New(webpush.Config{
				VAPIDPublicKey: keys.PublicKey, VAPIDPrivateKey: keys.PrivateKey, Subject: "mailto:ops@cloudpost.example",
				HTTPClient: client, AllowedHosts: []string{srv.Host()},
			})
			if err != nil {
				t.Fatal(err)
			}
			sub := srv.NewSubscription()
			d := domain.Device{ID: "b1", UserID: "u1", Platform: domain.PlatformWebPush, Subscription: &sub}
			err = p.Send(t.Context(), d, domain.PushMessage{CollapseID: "c1", Title: "hi"})
			problems := srv.TakeProblems()
			if c.status == 0 {
				if err != nil || len(problems) != 0 || len(srv.Received(sub.Endpoint)) != 1 {
					t.Fatalf("want the push accepted: err %v, problems %q", err, problems)
				}
				return
			}
			if err == nil {
				t.Fatal("Send succeeded, want the service to refuse")
			}
			if len(problems) != 1 || !strings.HasPrefix(problems[0], strconv.Itoa(c.status)+" ") || !strings.Contains(problems[0], c.problem) {
				t.Errorf("problems %q, want one %d saying %q", problems, c.status, c.problem)
			}
			if n := len(srv.Received(sub.Endpoint)); n != 0 {
				t.Errorf("%d pushes recorded, want none", n)
			}
		})
	}
}

func TestStatusAndUnknownEndpoint(t *testing.T) {
	keys, err := webpush.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := webpushtest.New(t, keys.PublicKey)
	p, err := webpush.New(webpush.Config{
		VAPIDPublicKey: keys.PublicKey, VAPIDPrivateKey: keys.PrivateKey, Subject: "mailto:ops@cloudpost.example",
		HTTPClient: srv.Client(), AllowedHosts: []string{srv.Host()},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := srv.NewSubscription()
	d := domain.Device{ID: "b1", UserID: "u1", Platform: domain.PlatformWebPush, Subscription: &sub}
	srv.SetStatus(sub.Endpoint, http.StatusTooManyRequests, "42")
	err = p.Send(t.Context(), d, domain.PushMessage{Title: "hi"})
	if !domain.IsCode(err, domain.TooManyRequests) || domain.RetryAfter(err) != 42*time.Second {
		t.Errorf("got %v (retry %s), want TooManyRequests after 42s", err, domain.RetryAfter(err))
	}
	srv.SetStatus(sub.Endpoint, 0, "")
	if err := p.Send(t.Context(), d, domain.PushMessage{Title: "hi"}); err != nil {
		t.Errorf("after clearing the status: %v", err)
	}
	if n := len(srv.Received(sub.Endpoint)); n != 1 {
		t.Errorf("received %d, want 1 (a refused push is not recorded)", n)
	}
	gone := sub
	gone.Endpoint = strings.TrimSuffix(sub.Endpoint, sub.Endpoint[len(sub.Endpoint)-4:]) + "zzzz"
	d.Subscription = &gone
	if err := p.Send(t.Context(), d, domain.PushMessage{Title: "hi"}); !domain.IsCode(err, domain.NotFound) {
		t.Errorf("unknown endpoint: got %v, want NotFound", err)
	}
	if srv.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3", srv.Requests())
	}
}

// seal encrypts plain for the receiver like an application server, with
// the record size, padding and delimiter given, as one record (or more
// when the record size asks for it): the test's own encrypter, to feed
// Decrypt what webpush-go never sends.
func seal(t *testing.T, plain []byte, receiver *ecdh.PublicKey, auth []byte, rs uint32, pad int, delim byte) []byte {
	t.Helper()
	sender, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := sender.ECDH(receiver)
	if err != nil {
		t.Fatal(err)
	}
	info := append(append([]byte("WebPush: info\x00"), receiver.Bytes()...), sender.PublicKey().Bytes()...)
	ikm, _ := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	prk, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	out := append([]byte{}, salt...)
	out = binary.BigEndian.AppendUint32(out, rs)
	out = append(out, 65)
	out = append(out, sender.PublicKey().Bytes()...)
	data := append(append(append([]byte{}, plain...), delim), make([]byte, pad)...)
	// Records of rs-16 bytes of plaintext; the nonce XORs the sequence number.
	for seq := 0; len(data) > 0; seq++ {
		n := min(len(data), int(rs)-16)
		nn := append([]byte{}, nonce...)
		nn[11] ^= byte(seq)
		out = gcm.Seal(out, nn, data[:n], nil)
		data = data[n:]
	}
	return out
}

func TestDecrypt(t *testing.T) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	msg := []byte(`{"title":"Zoë 💬"}`)
	for _, c := range []struct {
		name  string
		body  []byte
		auth  []byte
		want  []byte
		error string // "" when it must open
	}{
		{"plain", seal(t, msg, priv.PublicKey(), auth, 4096, 0, 2), auth, msg, ""},
		{"padded", seal(t, msg, priv.PublicKey(), auth, 4096, 300, 2), auth, msg, ""},
		{"empty message", seal(t, nil, priv.PublicKey(), auth, 4096, 0, 2), auth, nil, ""},
		{"wrong auth", seal(t, msg, priv.PublicKey(), auth, 4096, 0, 2), make([]byte, 16), nil, "authentication failed"},
		{"not-last delimiter", seal(t, msg, priv.PublicKey(), auth, 4096, 0, 1), auth, nil, "0x02"},
		{"two records", seal(t, msg, priv.PublicKey(), auth, 24, 0, 2), auth, nil, "one record"},
		{"short", []byte("tiny"), auth, nil, "shorter"},
	} {
		got, err := webpushtest.Decrypt(c.body, priv, c.auth)
		switch {
		case c.error == "" && (err != nil || !bytes.Equal(got, c.want)):
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		case c.error != "" && (err == nil || !strings.Contains(err.Error(), c.error)):
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.error)
		}
	}
}
