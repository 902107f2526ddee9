package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/adapters/cognitoauth/cognitolocal"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest"
	"github.com/cloudpost/cloudpost/adapters/s3blob/s3test"
	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/fxmodules"
	"github.com/cloudpost/cloudpost/apps/httpapi/openapitest"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
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
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegWithGPS is a w x h JPEG photo with an EXIF block holding a GPS
// position and porttest.ImagesGPSMarker, which must never reach anyone but
// the owner.
func jpegWithGPS(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 120, 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return porttest.ImagesJPEGWithEXIF(enc.Bytes(), porttest.ImagesEXIF(1))
}

// uploadTarget is the presigned request of POST /v1/uploads.
type uploadTarget struct {
	MediaID string
	Upload  struct {
		Method, URL string
		Headers     map[string]string
	}
}

// startUpload asks for an upload of data's size and type.
func startUpload(c *client, purpose, contentType string, size int) uploadTarget {
	c.t.Helper()
	var up uploadTarget
	c.do("POST", "/v1/uploads", map[string]any{"purpose": purpose, "contentType": contentType, "size": size}, 201, &up)
	return up
}

// send sends data with the presigned request as a client does (no bearer
// token: the URL carries the grant) and returns the status.
func (up uploadTarget) send(t *testing.T, data []byte) int {
	t.Helper()
	req, err := http.NewRequest(up.Upload.Method, up.Upload.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range up.Upload.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// upload runs the presigned upload flow and waits until the media is ready.
func upload(c *client, purpose string, data []byte) mediaDTO {
	c.t.Helper()
	up := startUpload(c, purpose, http.DetectContentType(data), len(data))
	if st := up.send(c.t, data); st != 200 {
		c.t.Fatalf("upload PUT: %d", st)
	}
	c.do("POST", "/v1/media/"+up.MediaID+"/complete", nil, 202, nil)
	return waitReady(c, up.MediaID, readyWithin)
}

// readyWithin bounds the wait for an image to be processed: generous, so
// that it fails a pipeline that hangs, not one on a busy machine (a
// race-enabled run beside other packages' tests).
const readyWithin = 2 * time.Minute

// fastHashes is the test apps' bcrypt cost: at the default (10) password
// hashing under the race detector is most of these tests' CPU time.
const fastHashes = "CLOUDPOST_LOCAL_BCRYPT_COST=4"

// waitReady polls the item until it is ready.
func waitReady(c *client, id string, timeout time.Duration) mediaDTO {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var m mediaDTO
		c.do("GET", "/v1/media/"+id, nil, 200, &m)
		if m.Status == "ready" {
			return m
		}
		if m.Status == "failed" || time.Now().After(deadline) {
			c.t.Fatalf("media not ready: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// download GETs a presigned URL.
func download(t *testing.T, url string) (http.Header, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, res.StatusCode, err)
	}
	return res.Header, data
}

func TestMain(m *testing.M) {
	code := m.Run()
	cognitolocal.StopShared()
	os.Exit(code)
}

// The photos the modes post: the 2048 px cap of the large rendition is the
// pipeline's, the same in every mode, so one mode posts a photo wider than
// that and the others a smaller one (processing it is most of a mode's
// time under the race detector, bcrypt aside). Both are twice as wide as
// high.
var (
	widePhoto  = image.Pt(2100, 1050)
	smallPhoto = image.Pt(800, 400)
)

func TestEndToEnd(t *testing.T) {
	t.Run("memory", func(t *testing.T) { runEndToEnd(t, nil, nil, widePhoto) })
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
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			code, err := srv.Code(ctx, email, cognitolocal.TargetSignUp)
			if err != nil {
				t.Fatalf("no code for %s: %v", email, err)
			}
			return code
		}, smallPhoto)
	})
	t.Run("mysql", func(t *testing.T) {
		runEndToEnd(t, []string{"CLOUDPOST_STORAGE=mysql", "CLOUDPOST_MYSQL_DSN=" + mysqltest.NewDatabase(t)}, nil, smallPhoto)
	})
	t.Run("s3", func(t *testing.T) { runEndToEnd(t, s3Env(t), nil, smallPhoto) })
}

// startServer starts the server app configured by env (and opts, added to
// the app's options) for the test and returns two clients of it that
// validate every exchange against the OpenAPI document, and its storage;
// code reads mailed codes (nil: the local dev mailbox).
func startServer(t *testing.T, env []string, code func(email string) string, opts ...fx.Option) (ada, bob *client, store ports.Storage) {
	t.Helper()
	cfg, err := config.Load(append([]string{"CLOUDPOST_HTTP_ADDR=127.0.0.1:0", "CLOUDPOST_LOG_LEVEL=warn", fastHashes}, env...))
	if err != nil {
		t.Fatal(err)
	}
	var ep *fxmodules.Endpoint
	app := fx.New(fxmodules.Server(cfg), fx.Populate(&ep, &store), fx.NopLogger, fx.Options(opts...))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The clients (all on http.DefaultTransport) may hold a connection
		// they dialed for a request another connection served: the server
		// counts it new, not idle, and its shutdown waits 5 s for it.
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	v := openapitest.New(t)
	httpc := &http.Client{Transport: v.Transport(t, nil), Timeout: 30 * time.Second}
	ada = &client{t: t, base: ep.BaseURL(), http: httpc, code: code}
	bob = &client{t: t, base: ep.BaseURL(), http: httpc, code: code}
	if code == nil {
		ada.code, bob.code = devMailCode(ada), devMailCode(bob)
	}
	return ada, bob, store
}

// runEndToEnd drives the whole API of a server app configured by env;
// code reads mailed codes (nil: the local dev mailbox); the post's photo is
// size.X x size.Y.
func runEndToEnd(t *testing.T, env []string, code func(email string) string, size image.Point) {
	ada, bob, _ := startServer(t, env, code)
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

	// A post with a photo carrying a GPS position, a comment by Bob, Ada's
	// notification.
	photo := jpegWithGPS(t, size.X, size.Y)
	img := upload(ada, "post", photo)
	var post postDTO
	h = ada.do("POST", "/v1/posts", map[string]any{"body": "Hello world", "mediaIds": []string{img.ID}}, 201, &post)
	if h.Get("Location") == "" || len(post.Media) != 1 || post.Media[0].URLs["medium"] == "" {
		t.Fatalf("post: %+v location %q", post, h.Get("Location"))
	}
	// The large rendition: the photo's size, the longer side capped at
	// 2048 px.
	large := size
	if size.X > 2048 {
		large = image.Pt(2048, size.Y*2048/size.X)
	}
	checkMediaTrust(t, ada, bob, post.ID, photo, large)
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

// checkMediaTrust: only the owner receives the raw upload (with its GPS
// position), as a download of the verified type; everyone else gets
// renditions without metadata, the large one of size large (the photo's,
// capped at 2048 px long); the upload URL writes once; completing an
// upload that never arrived is a conflict.
func checkMediaTrust(t *testing.T, owner, viewer *client, postID string, photo []byte, large image.Point) {
	var mine, theirs postDTO
	owner.do("GET", "/v1/posts/"+postID, nil, 200, &mine)
	viewer.do("GET", "/v1/posts/"+postID, nil, 200, &theirs)
	if _, ok := theirs.Media[0].URLs["original"]; ok {
		t.Fatalf("another user receives the raw upload: %v", theirs.Media[0].URLs)
	}
	for name, u := range theirs.Media[0].URLs {
		hdr, data := download(t, u)
		if bytes.Contains(data, []byte(porttest.ImagesGPSMarker)) || bytes.Contains(data, []byte("Exif\x00\x00")) {
			t.Errorf("rendition %s carries the upload's EXIF block", name)
		}
		if !strings.HasPrefix(hdr.Get("Cache-Control"), "private") || !strings.Contains(hdr.Get("Cache-Control"), "max-age=") {
			t.Errorf("rendition %s: Cache-Control %q, want private with a max-age", name, hdr.Get("Cache-Control"))
		}
		if name == "large" {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
			if err != nil || cfg.Width != large.X || cfg.Height != large.Y {
				t.Errorf("large rendition: %+v %v, want %dx%d", cfg, err, large.X, large.Y)
			}
		}
	}
	orig := mine.Media[0].URLs["original"]
	if orig == "" {
		t.Fatalf("the owner lost the raw upload: %v", mine.Media[0].URLs)
	}
	hdr, data := download(t, orig)
	if !bytes.Equal(data, photo) || hdr.Get("Content-Type") != "image/jpeg" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") {
		t.Errorf("owner's original: %d bytes (want %d), type %q, disposition %q", len(data), len(photo),
			hdr.Get("Content-Type"), hdr.Get("Content-Disposition"))
	}

	// Write once: a replay of a used upload URL with HTML of the same size
	// and declared type is refused and changes nothing.
	img := pngImage(t, 64, 64)
	up := startUpload(owner, "post", "image/png", len(img))
	owner.do("POST", "/v1/media/"+up.MediaID+"/complete", nil, 409, nil) // nothing sent yet
	if st := up.send(t, img); st != 200 {
		t.Fatalf("upload: %d", st)
	}
	html := append([]byte("<!doctype html><script>alert(document.domain)</script>"), bytes.Repeat([]byte(" "), len(img))...)[:len(img)]
	if st := up.send(t, html); st != http.StatusPreconditionFailed {
		t.Errorf("replayed upload before processing: %d, want 412", st)
	}
	owner.do("POST", "/v1/media/"+up.MediaID+"/complete", nil, 202, nil)
	m := waitReady(owner, up.MediaID, readyWithin)
	if st := up.send(t, html); st != http.StatusPreconditionFailed {
		t.Errorf("replayed upload after processing: %d, want 412", st)
	}
	owner.do("GET", "/v1/media/"+m.ID, nil, 200, &m)
	if _, data := download(t, m.URLs["original"]); m.Status != "ready" || !bytes.Equal(data, img) {
		t.Errorf("after replays: status %s, original %q..., want the first bytes", m.Status, data[:min(len(data), 16)])
	}
}

// TestUploadFlood: Ada floods the API with 200 upload+complete calls that
// never send bytes, then sends real images for the uploads she was given,
// while Bob uploads one image. Ada gets 4xx answers only for the flood (201
// up to the in-flight cap, then 429 with Retry-After; every early complete
// 409, at once); her images fill the queue, yet Bob's image is ready within
// a few seconds: users take turns.
//
// The queue is full when Bob uploads because no image is processed until
// his is queued (gatedImages), not because hers are slow to process, so
// small images show it, without depending on the machine's speed.
func TestUploadFlood(t *testing.T) {
	t.Run("memory", func(t *testing.T) { runUploadFlood(t, nil) })
	t.Run("s3", func(t *testing.T) { runUploadFlood(t, s3Env(t)) })
}

// startS3 starts a versitygw server for the test (with its credentials in
// the environment), or skips (fails with CI=true) when it is not installed.
func startS3(t *testing.T) *s3test.Server {
	t.Helper()
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
	return srv
}

// s3Env starts a versitygw server with a prepared bucket and returns the
// settings of S3 mode against it.
func s3Env(t *testing.T) []string {
	t.Helper()
	srv := startS3(t)
	return []string{
		"CLOUDPOST_BLOB=s3", "CLOUDPOST_S3_BUCKET=" + srv.Bucket, "CLOUDPOST_S3_REGION=" + s3test.Region,
		"CLOUDPOST_S3_ENDPOINT=" + srv.Endpoint, "CLOUDPOST_S3_PATH_STYLE=true",
	}
}

// gatedImages holds every MakeVariants call until open is closed (or the
// call's context ends), then lets the pipeline run.
type gatedImages struct {
	ports.Images
	open <-chan struct{}
}

func (g gatedImages) MakeVariants(ctx context.Context, src io.Reader, contentType string, maxBytes int64) ([]domain.Variant, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	return g.Images.MakeVariants(ctx, src, contentType, maxBytes)
}

func runUploadFlood(t *testing.T, env []string) {
	open := make(chan struct{})
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(open) }) }
	ada, bob, store := startServer(t, env, nil, fx.Decorate(func(img ports.Images) ports.Images {
		return gatedImages{Images: img, open: open}
	}))
	t.Cleanup(openGate) // on failure, before the app stops: cleanups run last first
	suffix := time.Now().UnixNano()
	ada.token = signUpAndIn(ada, fmt.Sprintf("ada-%d@example.com", suffix), "Ada").AccessToken
	bob.token = signUpAndIn(bob, fmt.Sprintf("bob-%d@example.com", suffix), "Bob").AccessToken

	// raw sends one request and returns its status, the upload of a 201
	// and the Retry-After header.
	raw := func(c *client, method, path string, body any) (int, uploadTarget, string) {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, c.base+path, r)
		req.Header.Set("Authorization", "Bearer "+c.token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.http.Do(req)
		if err != nil {
			t.Error(err)
			return 0, uploadTarget{}, ""
		}
		defer res.Body.Close()
		var up uploadTarget
		if res.StatusCode == 201 {
			_ = json.NewDecoder(res.Body).Decode(&up)
		}
		return res.StatusCode, up, res.Header.Get("Retry-After")
	}

	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		noRetry  int
	)
	count := func(what string, status int) {
		mu.Lock()
		statuses[fmt.Sprintf("%s %d", what, status)]++
		mu.Unlock()
	}
	adaImg := pngImage(t, 200, 150)

	// The flood: 200 uploads asked for, each completed at once without bytes.
	given := make(chan uploadTarget, 200)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				st, up, retry := raw(ada, "POST", "/v1/uploads", map[string]any{"purpose": "post", "contentType": "image/png", "size": len(adaImg)})
				count("create", st)
				switch st {
				case 201:
					given <- up
					st, _, _ := raw(ada, "POST", "/v1/media/"+up.MediaID+"/complete", nil)
					count("early complete", st)
				case 429:
					if retry == "" {
						mu.Lock()
						noRetry++
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	close(given)
	want := map[string]int{"create 201": 20, "create 429": 180, "early complete 409": 20}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("ada's answers %v, want %v", statuses, want)
	}
	if noRetry > 0 {
		t.Errorf("%d answers 429 without Retry-After", noRetry)
	}

	// Ada's 20 images go in first and fill the queue (the gate holds the
	// pipeline); Bob's comes right after them.
	var adaIDs []string
	for up := range given {
		adaIDs = append(adaIDs, up.MediaID)
		wg.Go(func() {
			if st := up.send(t, adaImg); st != 200 {
				t.Errorf("ada's upload: %d", st)
				return
			}
			if st, _, _ := raw(ada, "POST", "/v1/media/"+up.MediaID+"/complete", nil); st != 202 {
				t.Errorf("ada's complete: %d", st)
			}
		})
	}
	wg.Wait()
	// waiting counts ada's images not processed yet, read from storage in
	// one call so that the count is of one instant.
	waiting := func() int {
		items, err := store.GetMediaBatch(context.Background(), adaIDs)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range items {
			if m.Status != domain.MediaReady {
				n++
			}
		}
		return n
	}
	img := pngImage(t, 160, 120)
	up := startUpload(bob, "post", "image/png", len(img))
	before := waiting()
	if before != len(adaIDs) {
		t.Fatalf("%d of ada's %d images waiting before any was let through: the gate does not hold the pipeline", before, len(adaIDs))
	}
	start := time.Now()
	if st := up.send(t, img); st != 200 {
		t.Fatalf("bob's upload: %d", st)
	}
	bob.do("POST", "/v1/media/"+up.MediaID+"/complete", nil, 202, nil)
	openGate() // bob's image is queued behind all of ada's
	var left int
	for deadline := time.Now().Add(readyWithin); ; time.Sleep(time.Millisecond) {
		m, err := store.GetMedia(context.Background(), up.MediaID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == domain.MediaReady {
			left = waiting()
			break
		}
		if m.Status == domain.MediaFailed || time.Now().After(deadline) {
			t.Fatalf("bob's image: %+v", m)
		}
	}
	took := time.Since(start)
	t.Logf("bob's image ready %v after its upload; ada's images waiting: %d when bob uploaded, %d when his was ready; ada's answers: %v",
		took.Round(time.Millisecond), before, left, statuses)
	// Two workers: two of ada's in flight and one turn of hers before
	// bob's, one more beside his own (the exact order is
	// TestOwnersTakeTurns in apps/mediaqueue). In arrival order bob would wait
	// for all of them.
	if before-left > 5 {
		t.Errorf("%d of ada's %d waiting images were processed before bob's: he waited for her queue", before-left, before)
	}
	for _, id := range adaIDs {
		waitReady(ada, id, readyWithin) // none of ada's is dropped
	}
}
