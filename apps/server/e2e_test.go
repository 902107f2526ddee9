package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth/cognitolocal"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest"
	"github.com/cloudpost/cloudpost/adapters/s3blob/s3test"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/httpapi/openapitest"
	"github.com/cloudpost/cloudpost/apps/wire"
)

// client talks to the running server; every exchange is validated against
// the OpenAPI document.
type client struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string
	// code returns the latest mailed confirmation code for email.
	code func(email string) string
}

func (c *client) do(method, path string, body any, want int, out any) http.Header {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	if res.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return res.Header
}

type tokens struct {
	AccessToken, IDToken, RefreshToken, TokenType string
	ExpiresIn                                     int
}

type mediaDTO struct {
	ID, Purpose, Status, ContentType string
	Size                             int64
	URLs                             map[string]string `json:"urls"`
}

type postDTO struct {
	ID, AuthorID, Body string
	Media              []mediaDTO
	CommentCount       int64
	Version            int64
}

type page[T any] struct {
	Items      []T
	NextCursor string
}

func signUpAndIn(c *client, email, name string) tokens {
	c.t.Helper()
	var su struct {
		UserID               string
		ConfirmationRequired bool
	}
	c.do("POST", "/v1/auth/signup", map[string]string{"email": email, "password": "s3cret-pass", "displayName": name}, 201, &su)
	if su.UserID == "" || !su.ConfirmationRequired {
		c.t.Fatalf("signup: %+v", su)
	}
	c.do("POST", "/v1/auth/signin", map[string]string{"email": email, "password": "s3cret-pass"}, 403, nil)
	c.do("POST", "/v1/auth/confirm", map[string]string{"email": email, "code": c.code(email)}, 204, nil)
	var tk tokens
	c.do("POST", "/v1/auth/signin", map[string]string{"email": email, "password": "s3cret-pass"}, 200, &tk)
	if tk.AccessToken == "" || tk.RefreshToken == "" || tk.TokenType != "Bearer" {
		c.t.Fatalf("signin: %+v", tk)
	}
	return tk
}

// devMailCode reads the code from the local identity provider's outbox.
func devMailCode(c *client) func(string) string {
	return func(email string) string {
		var mail struct {
			Messages []struct{ To, Subject, Code string }
		}
		c.do("GET", "/v1/dev/mail?to="+email, nil, 200, &mail)
		if len(mail.Messages) == 0 {
			c.t.Fatalf("no mail for %s", email)
		}
		return mail.Messages[0].Code
	}
}

func pngImage(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload runs the presigned upload flow and waits until the media is ready.
func upload(c *client, purpose string, data []byte) mediaDTO {
	c.t.Helper()
	var up struct {
		MediaID string
		Upload  struct {
			Method, URL string
			Headers     map[string]string
		}
	}
	c.do("POST", "/v1/uploads", map[string]any{"purpose": purpose, "contentType": "image/png", "size": len(data)}, 201, &up)
	req, _ := http.NewRequest(up.Upload.Method, up.Upload.URL, bytes.NewReader(data))
	for k, v := range up.Upload.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req) // no bearer token: the URL carries the grant
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		c.t.Fatalf("upload PUT: %d", res.StatusCode)
	}
	c.do("POST", "/v1/media/"+up.MediaID+"/complete", nil, 202, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var m mediaDTO
		c.do("GET", "/v1/media/"+up.MediaID, nil, 200, &m)
		if m.Status == "ready" {
			return m
		}
		if m.Status == "failed" || time.Now().After(deadline) {
			c.t.Fatalf("media not ready: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	cognitolocal.StopShared()
	os.Exit(code)
}

func TestEndToEnd(t *testing.T) {
	t.Run("memory", func(t *testing.T) { runEndToEnd(t, nil, nil) })
	t.Run("cognito", func(t *testing.T) {
		srv := cognitolocal.Shared(t)
		ctx := context.Background()
		pool, err := srv.CreatePool(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		runEndToEnd(t, []string{
			"CLOUDPOST_AUTH=cognito", "CLOUDPOST_COGNITO_REGION=" + pool.Region,
			"CLOUDPOST_COGNITO_USER_POOL_ID=" + pool.UserPoolID, "CLOUDPOST_COGNITO_CLIENT_ID=" + pool.ClientID,
			"CLOUDPOST_COGNITO_ENDPOINT=" + pool.Endpoint,
		}, func(email string) string {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			code, err := srv.Code(ctx, email, cognitolocal.TargetSignUp)
			if err != nil {
				t.Fatalf("no code for %s: %v", email, err)
			}
			return code
		})
	})
	t.Run("mysql", func(t *testing.T) {
		runEndToEnd(t, []string{"CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN=" + mysqltest.NewDatabase(t)}, nil)
	})
	t.Run("s3", func(t *testing.T) {
		bin, err := s3test.Find()
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v (CI=true: run scripts/ci/versitygw.sh)", err)
			}
			t.Skipf("%v; run scripts/ci/versitygw.sh to install it", err)
		}
		srv, err := s3test.Start(bin, http.DefaultClient, "http")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		t.Setenv("AWS_ACCESS_KEY_ID", s3test.Access)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.Secret)
		runEndToEnd(t, []string{
			"CLOUDPOST_BLOB=s3", "CLOUDPOST_S3_BUCKET=" + srv.Bucket, "CLOUDPOST_S3_REGION=" + s3test.Region,
			"CLOUDPOST_S3_ENDPOINT=" + srv.Endpoint, "CLOUDPOST_S3_PATH_STYLE=true",
		}, nil)
	})
}

// runEndToEnd drives the whole API of a server app configured by env;
// code reads mailed codes (nil: the local dev mailbox).
func runEndToEnd(t *testing.T, env []string, code func(email string) string) {
	cfg, err := config.Load(append([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=warn"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	var ep *wire.Endpoint
	app := fx.New(wire.Server(cfg), fx.Populate(&ep), fx.NopLogger)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := app.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	v := openapitest.New(t)
	httpc := &http.Client{Transport: v.Transport(t, nil), Timeout: 30 * time.Second}
	ada := &client{t: t, base: ep.BaseURL(), http: httpc, code: code}
	bob := &client{t: t, base: ep.BaseURL(), http: httpc, code: code}
	if code == nil {
		ada.code, bob.code = devMailCode(ada), devMailCode(bob)
	}
	suffix := time.Now().UnixNano()
	adaTokens := signUpAndIn(ada, fmt.Sprintf("ada-%d@example.com", suffix), "Ada")
	ada.token = adaTokens.AccessToken
	bob.token = signUpAndIn(bob, fmt.Sprintf("bob-%d@example.com", suffix), "Bob").AccessToken

	// Profile with an avatar uploaded through the presigned URL.
	var me struct {
		ID, DisplayName string
		Image           *mediaDTO
		Version         int64
	}
	h := ada.do("GET", "/v1/me", nil, 200, &me)
	if h.Get("ETag") == "" || me.DisplayName != "Ada" {
		t.Fatalf("me: %+v etag %q", me, h.Get("ETag"))
	}
	avatar := upload(ada, "avatar", pngImage(t, 400, 300))
	for _, v := range []string{"original", "thumb", "small"} {
		if avatar.URLs[v] == "" {
			t.Fatalf("avatar urls: %+v", avatar.URLs)
		}
	}
	res, err := http.Get(avatar.URLs["thumb"])
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("thumb download: %v %v", res, err)
	}
	thumb, _, err := image.DecodeConfig(res.Body)
	res.Body.Close()
	if err != nil || thumb.Width != 128 || thumb.Height != 128 {
		t.Fatalf("thumb: %+v %v", thumb, err)
	}
	ada.do("PATCH", "/v1/me", map[string]any{"displayName": "Ada L.", "imageId": avatar.ID}, 200, &me)
	if me.Image == nil || me.Image.ID != avatar.ID || me.DisplayName != "Ada L." {
		t.Fatalf("patched me: %+v", me)
	}

	// A first sync: full snapshot.
	var snap struct {
		Full    bool
		Profile *struct{ ID string }
		Posts   []postDTO
		Cursor  string
	}
	ada.do("GET", "/v1/sync", nil, 200, &snap)
	if !snap.Full || snap.Profile == nil || snap.Profile.ID != me.ID || snap.Cursor == "" {
		t.Fatalf("snapshot: %+v", snap)
	}

	// A post with an image, a comment by Bob, Ada's notification.
	img := upload(ada, "post", pngImage(t, 2000, 1000))
	var post postDTO
	h = ada.do("POST", "/v1/posts", map[string]any{"body": "Hello world", "mediaIds": []string{img.ID}}, 201, &post)
	if h.Get("Location") == "" || len(post.Media) != 1 || post.Media[0].URLs["medium"] == "" {
		t.Fatalf("post: %+v location %q", post, h.Get("Location"))
	}
	var comment struct{ ID, PostID, AuthorID, Body string }
	bob.do("POST", "/v1/posts/"+post.ID+"/comments", map[string]string{"body": "Nice!"}, 201, &comment)
	bob.do("PATCH", "/v1/posts/"+post.ID, map[string]string{"body": "hijacked"}, 403, nil)
	var notes page[struct{ ID, Type, ActorID, PostID, CommentID string }]
	ada.do("GET", "/v1/notifications", nil, 200, &notes)
	if len(notes.Items) != 1 || notes.Items[0].Type != "comment" || notes.Items[0].CommentID != comment.ID {
		t.Fatalf("notifications: %+v", notes)
	}
	ada.do("POST", "/v1/notifications/read", map[string]any{"all": true}, 204, nil)

	// Paging through Ada's posts never repeats or skips.
	for i := range 5 {
		ada.do("POST", "/v1/posts", map[string]any{"body": fmt.Sprintf("post %d", i)}, 201, nil)
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		var pg page[postDTO]
		ada.do("GET", "/v1/posts?author="+me.ID+"&limit=2&cursor="+cursor, nil, 200, &pg)
		for _, p := range pg.Items {
			if seen[p.ID] {
				t.Fatalf("post %s repeated", p.ID)
			}
			seen[p.ID] = true
		}
		if pg.NextCursor == "" {
			break
		}
		cursor = pg.NextCursor
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 6 {
		t.Fatalf("paged %d posts, want 6", len(seen))
	}

	// Edits and deletes after the snapshot come through the cursor.
	var edited postDTO
	ada.do("PATCH", "/v1/posts/"+post.ID, map[string]any{"body": "Hello, edited"}, 200, &edited)
	ada.do("PATCH", "/v1/posts/"+post.ID, map[string]any{"body": "stale"}, 200, nil)
	var last page[postDTO]
	ada.do("GET", "/v1/posts?author="+me.ID+"&limit=1", nil, 200, &last)
	ada.do("DELETE", "/v1/posts/"+last.Items[0].ID, nil, 204, nil)
	var delta struct {
		Full     bool
		Posts    []postDTO
		Comments []struct{ ID string }
		Deleted  []struct{ Type, ID string }
		Cursor   string
	}
	ada.do("GET", "/v1/sync?cursor="+snap.Cursor, nil, 200, &delta)
	if delta.Full || delta.Cursor == snap.Cursor {
		t.Fatalf("delta: %+v", delta)
	}
	gotPost, gotTomb := false, false
	for _, p := range delta.Posts {
		gotPost = gotPost || (p.ID == post.ID && p.Body == "stale" && p.CommentCount == 1)
	}
	for _, d := range delta.Deleted {
		gotTomb = gotTomb || (d.Type == "post" && d.ID == last.Items[0].ID)
	}
	if !gotPost || !gotTomb || len(delta.Comments) != 1 {
		t.Fatalf("delta misses changes: %+v", delta)
	}
	bob.do("GET", "/v1/sync?cursor="+delta.Cursor, nil, 400, nil) // another user's cursor

	// Refresh, then sign out: the refresh token is refused afterwards.
	var refreshed tokens
	ada.do("POST", "/v1/auth/refresh", map[string]string{"refreshToken": adaTokens.RefreshToken}, 200, &refreshed)
	ada.token = refreshed.AccessToken
	ada.do("GET", "/v1/me", nil, 200, nil)
	ada.do("POST", "/v1/auth/signout", map[string]string{"refreshToken": adaTokens.RefreshToken}, 204, nil)
	ada.token = ""
	ada.do("POST", "/v1/auth/refresh", map[string]string{"refreshToken": adaTokens.RefreshToken}, 401, nil)
}
