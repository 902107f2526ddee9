package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

type mediaJSON struct {
	ID, Purpose, Status, ContentType, FailureReason string
	Size                                            int64
	URLs                                            map[string]string
}

type profileJSON struct {
	ID, Email, DisplayName, Bio, CreatedAt, UpdatedAt string
	Image                                             *mediaJSON
	Version                                           int64
}

type postJSON struct {
	ID, AuthorID, Body, CreatedAt, UpdatedAt string
	Media                                    []mediaJSON
	CommentCount, Version                    int64
}

func TestProfiles(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("fay")

	var me profileJSON
	r := en.do(req{method: "GET", path: "/v1/me", token: u.token}).want(t, http.StatusOK)
	r.json(t, &me)
	if me.ID != u.id || me.Email != u.email || me.DisplayName != "Fay" || me.Image != nil || me.Version != 1 || !timeRE.MatchString(me.CreatedAt) {
		t.Fatalf("profile %s", r.body)
	}
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}

	// Stale If-Match: 412; current (quoted or bare): applied.
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"bio": "x"}, header: map[string]string{"If-Match": `"7"`}}).
		problem(t, http.StatusPreconditionFailed, domain.PreconditionFailed)
	r = en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"bio": "Hello\nthere", "displayName": " Fay F "}, header: map[string]string{"If-Match": `"1"`}}).
		want(t, http.StatusOK)
	r.json(t, &me)
	if me.Bio != "Hello\nthere" || me.DisplayName != "Fay F" || me.Version != 2 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("patched %s (ETag %s)", r.body, r.header.Get("ETag"))
	}
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"bio": "again"}, header: map[string]string{"If-Match": "2"}}).
		want(t, http.StatusOK)
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"bio": "any"}, header: map[string]string{"If-Match": "*"}}).
		want(t, http.StatusOK)
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"displayName": strings.Repeat("é", 51)}}).
		problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"bio": strings.Repeat("b", 501)}}).
		problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"imageId": "0190a0a0-0000-7000-8000-000000000000"}}).
		problem(t, http.StatusNotFound, domain.NotFound)

	// Public profile: no email.
	v := en.signUp("gus")
	r = en.do(req{method: "GET", path: "/v1/users/" + u.id, token: v.token}).want(t, http.StatusOK)
	if m := r.obj(t); m["displayName"] != "Fay F" || m["email"] != nil || m["id"] != u.id {
		t.Fatalf("public profile %s", r.body)
	}
	en.do(req{method: "GET", path: "/v1/users/0190a0a0-0000-7000-8000-000000000000", token: v.token}).problem(t, http.StatusNotFound, domain.NotFound)

	// Delete: the account is gone, its token no longer works for /v1/me
	// and its profile is gone for others.
	en.do(req{method: "DELETE", path: "/v1/me", token: u.token}).want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/users/" + u.id, token: v.token}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "GET", path: "/v1/me", token: u.token}).problem(t, http.StatusUnauthorized, domain.Unauthenticated)
	en.do(req{method: "POST", path: "/v1/auth/signin", body: map[string]any{"email": u.email, "password": u.password}}).
		problem(t, http.StatusUnauthorized, domain.Unauthenticated)
}

func TestMediaFlow(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("hal")
	other := en.signUp("ida")
	img := pngBytes(t, 400, 300)

	id := en.upload(u, "avatar", img)
	var m mediaJSON
	en.do(req{method: "GET", path: "/v1/media/" + id, token: u.token}).want(t, http.StatusOK).json(t, &m)
	if m.Status != "ready" || m.Purpose != "avatar" || m.ContentType != "image/png" || m.Size != int64(len(img)) {
		t.Fatalf("media %+v", m)
	}
	for _, k := range []string{"original", "thumb", "small", "medium"} {
		if m.URLs[k] == "" {
			t.Fatalf("no %s URL: %+v", k, m.URLs)
		}
	}
	// The signed URLs work without a token; tampering breaks them.
	res, err := http.Get(m.URLs["thumb"])
	if err != nil {
		t.Fatal(err)
	}
	thumb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || http.DetectContentType(thumb) == "" || len(thumb) == 0 {
		t.Fatalf("thumb: %d %d bytes", res.StatusCode, len(thumb))
	}
	res, err = http.Get(strings.Replace(m.URLs["thumb"], "thumb", "small", 1))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered URL: %d", res.StatusCode)
	}

	// Complete is idempotent and owner only; others cannot see a loose item.
	for range 2 {
		r := en.do(req{method: "POST", path: "/v1/media/" + id + "/complete", token: u.token}).want(t, http.StatusAccepted)
		if r.obj(t)["status"] != "ready" {
			t.Fatalf("complete %s", r.body)
		}
	}
	en.do(req{method: "POST", path: "/v1/media/" + id + "/complete", token: other.token}).problem(t, http.StatusForbidden, domain.Forbidden)
	en.do(req{method: "POST", path: "/v1/media/0190a0a0-0000-7000-8000-000000000000/complete", token: u.token}).problem(t, http.StatusNotFound, domain.NotFound)

	// Set as avatar: the profile embeds the media object, others see it.
	var me profileJSON
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"imageId": id}}).want(t, http.StatusOK).json(t, &me)
	if me.Image == nil || me.Image.ID != id || me.Image.Status != "ready" || me.Image.URLs["medium"] == "" {
		t.Fatalf("profile image %+v", me.Image)
	}
	en.do(req{method: "GET", path: "/v1/media/" + id, token: other.token}).want(t, http.StatusOK)
	// Someone else's media cannot be attached; a post item is not an avatar.
	en.do(req{method: "PATCH", path: "/v1/me", token: other.token, body: map[string]any{"imageId": id}}).problem(t, http.StatusForbidden, domain.Forbidden)
	postMedia := en.upload(u, "post", img)
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"imageId": postMedia}}).problem(t, http.StatusBadRequest, domain.Invalid)
	// null removes the avatar.
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"imageId": nil}}).want(t, http.StatusOK).json(t, &me)
	if me.Image != nil {
		t.Fatalf("avatar not removed: %+v", me.Image)
	}

	// Pending: created but never uploaded; cannot be attached yet.
	r := en.do(req{method: "POST", path: "/v1/uploads", token: u.token, body: map[string]any{"purpose": "post", "contentType": "image/png", "size": 10}}).
		want(t, http.StatusCreated)
	pending := r.obj(t)["mediaId"].(string)
	m = mediaJSON{}
	en.do(req{method: "GET", path: "/v1/media/" + pending, token: u.token}).want(t, http.StatusOK).json(t, &m)
	if m.Status != "pending" || len(m.URLs) != 0 {
		t.Fatalf("pending %+v", m)
	}
	en.do(req{method: "GET", path: "/v1/media/" + pending, token: other.token}).problem(t, http.StatusNotFound, domain.NotFound)
	// Completing it before sending the bytes is refused at once.
	if p := en.do(req{method: "POST", path: "/v1/media/" + pending + "/complete", token: u.token}).problem(t, http.StatusConflict, domain.Conflict); !strings.Contains(p.Detail, "not arrived") {
		t.Errorf("complete without bytes: %q", p.Detail)
	}
	en.do(req{method: "POST", path: "/v1/posts", token: u.token, body: map[string]any{"body": "x", "mediaIds": []string{pending}}}).
		problem(t, http.StatusBadRequest, domain.Invalid)

	// Bytes that are not a PNG: the item fails with a reason.
	junk := bytes.Repeat([]byte("not an image "), 20)
	bad := en.upload(u, "post", junk)
	m = mediaJSON{}
	en.do(req{method: "GET", path: "/v1/media/" + bad, token: u.token}).want(t, http.StatusOK).json(t, &m)
	if m.Status != "failed" || m.FailureReason == "" {
		t.Fatalf("junk upload %+v", m)
	}
}

func TestPostsAndComments(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	img := pngBytes(t, 64, 48)
	m1, m2 := en.upload(ann, "post", img), en.upload(ann, "post", img)

	r := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": " First! ", "mediaIds": []string{m2, m1}}}).
		want(t, http.StatusCreated)
	var p postJSON
	r.json(t, &p)
	if p.AuthorID != ann.id || p.Body != "First!" || p.Version != 1 || len(p.Media) != 2 || p.Media[0].ID != m2 || p.Media[1].ID != m1 {
		t.Fatalf("post %s", r.body)
	}
	if r.header.Get("Location") != "/v1/posts/"+p.ID || r.header.Get("ETag") != `"1"` {
		t.Fatalf("headers %v", r.header)
	}
	// Media of one post cannot go on another; nor can someone else's.
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "again", "mediaIds": []string{m1}}}).
		problem(t, http.StatusConflict, domain.Conflict)
	en.do(req{method: "POST", path: "/v1/posts", token: bob.token, body: map[string]any{"body": "mine", "mediaIds": []string{m1}}}).
		problem(t, http.StatusForbidden, domain.Forbidden)

	en.do(req{method: "GET", path: "/v1/posts/" + p.ID, token: bob.token}).want(t, http.StatusOK)

	// Only the author edits or deletes.
	en.do(req{method: "PATCH", path: "/v1/posts/" + p.ID, token: bob.token, body: map[string]any{"body": "hijack"}}).problem(t, http.StatusForbidden, domain.Forbidden)
	en.do(req{method: "DELETE", path: "/v1/posts/" + p.ID, token: bob.token}).problem(t, http.StatusForbidden, domain.Forbidden)
	en.do(req{method: "PATCH", path: "/v1/posts/0190a0a0-0000-7000-8000-000000000000", token: ann.token, body: map[string]any{"body": "x"}}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "DELETE", path: "/v1/posts/0190a0a0-0000-7000-8000-000000000000", token: ann.token}).problem(t, http.StatusNotFound, domain.NotFound)

	// If-Match on posts.
	en.do(req{method: "PATCH", path: "/v1/posts/" + p.ID, token: ann.token, body: map[string]any{"body": "v2"}, header: map[string]string{"If-Match": `"2"`}}).
		problem(t, http.StatusPreconditionFailed, domain.PreconditionFailed)
	r = en.do(req{method: "PATCH", path: "/v1/posts/" + p.ID, token: ann.token, body: map[string]any{"body": "v2", "mediaIds": []string{m1}}, header: map[string]string{"If-Match": `"1"`}}).
		want(t, http.StatusOK)
	r.json(t, &p)
	if p.Body != "v2" || p.Version != 2 || len(p.Media) != 1 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("patched %s", r.body)
	}

	// Comments: Bob's comment notifies Ann; Ann's own does not notify.
	r = en.do(req{method: "POST", path: "/v1/posts/" + p.ID + "/comments", token: bob.token, body: map[string]any{"body": "nice"}}).want(t, http.StatusCreated)
	c1 := r.obj(t)
	if c1["postId"] != p.ID || c1["authorId"] != bob.id || r.header.Get("Location") != "/v1/comments/"+c1["id"].(string) {
		t.Fatalf("comment %s %v", r.body, r.header)
	}
	en.do(req{method: "POST", path: "/v1/posts/" + p.ID + "/comments", token: ann.token, body: map[string]any{"body": "thanks"}}).want(t, http.StatusCreated)
	en.do(req{method: "POST", path: "/v1/posts/0190a0a0-0000-7000-8000-000000000000/comments", token: ann.token, body: map[string]any{"body": "x"}}).
		problem(t, http.StatusNotFound, domain.NotFound)
	if n := en.notifier.Sent(ann.id); len(n) != 1 || n[0].ActorID != bob.id {
		t.Fatalf("dispatched %+v", n)
	}
	var cp struct {
		Items      []map[string]any
		NextCursor *string
	}
	en.do(req{method: "GET", path: "/v1/posts/" + p.ID + "/comments?limit=1", token: bob.token}).want(t, http.StatusOK).json(t, &cp)
	if len(cp.Items) != 1 || cp.Items[0]["body"] != "nice" || cp.NextCursor == nil {
		t.Fatalf("comments page 1 %+v", cp)
	}
	en.do(req{method: "GET", path: "/v1/posts/" + p.ID + "/comments?limit=1&cursor=" + *cp.NextCursor, token: bob.token}).want(t, http.StatusOK).json(t, &cp)
	if len(cp.Items) != 1 || cp.Items[0]["body"] != "thanks" || cp.NextCursor != nil {
		t.Fatalf("comments page 2 %+v", cp)
	}
	en.do(req{method: "GET", path: "/v1/posts/" + p.ID, token: ann.token}).want(t, http.StatusOK).json(t, &p)
	if p.CommentCount != 2 {
		t.Fatalf("commentCount %d", p.CommentCount)
	}

	// Notifications: list, mark read.
	var np struct {
		Items []struct {
			ID, Type, ActorID, PostID, CommentID, CreatedAt string
			ReadAt                                          *string
		}
		NextCursor *string
	}
	en.do(req{method: "GET", path: "/v1/notifications", token: ann.token}).want(t, http.StatusOK).json(t, &np)
	if len(np.Items) != 1 || np.Items[0].Type != "comment" || np.Items[0].CommentID != c1["id"] || np.Items[0].ReadAt != nil {
		t.Fatalf("notifications %+v", np)
	}
	en.do(req{method: "POST", path: "/v1/notifications/read", token: ann.token, body: map[string]any{"ids": []string{np.Items[0].ID}}}).want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/notifications", token: ann.token}).want(t, http.StatusOK).json(t, &np)
	if np.Items[0].ReadAt == nil || !timeRE.MatchString(*np.Items[0].ReadAt) {
		t.Fatalf("not read: %+v", np.Items[0])
	}
	en.do(req{method: "POST", path: "/v1/notifications/read", token: ann.token, body: map[string]any{"all": true}}).want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/notifications", token: bob.token}).want(t, http.StatusOK).json(t, &np)
	if len(np.Items) != 0 {
		t.Fatalf("bob's notifications %+v", np)
	}

	// Deleting comments: a stranger may not; the post author may.
	carl := en.signUp("carl")
	en.do(req{method: "DELETE", path: "/v1/comments/" + c1["id"].(string), token: carl.token}).problem(t, http.StatusForbidden, domain.Forbidden)
	en.do(req{method: "DELETE", path: "/v1/comments/" + c1["id"].(string), token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "DELETE", path: "/v1/comments/" + c1["id"].(string), token: ann.token}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "GET", path: "/v1/posts/" + p.ID, token: ann.token}).want(t, http.StatusOK).json(t, &p)
	if p.CommentCount != 1 {
		t.Fatalf("commentCount after delete %d", p.CommentCount)
	}

	// Delete the post: gone for everyone, with its comments.
	en.do(req{method: "DELETE", path: "/v1/posts/" + p.ID, token: ann.token}).want(t, http.StatusNoContent)
	en.do(req{method: "GET", path: "/v1/posts/" + p.ID, token: bob.token}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "GET", path: "/v1/posts/" + p.ID + "/comments", token: bob.token}).problem(t, http.StatusNotFound, domain.NotFound)
	en.do(req{method: "GET", path: "/v1/media/" + m1, token: ann.token}).problem(t, http.StatusNotFound, domain.NotFound)
}

func TestListPostsPaging(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	var want []string // newest first
	for i := range 7 {
		u := ann
		if i%3 == 2 {
			u = bob
		}
		var p postJSON
		en.do(req{method: "POST", path: "/v1/posts", token: u.token, body: map[string]any{"body": fmt.Sprint("post ", i)}}).want(t, http.StatusCreated).json(t, &p)
		want = append([]string{p.ID}, want...)
	}
	collect := func(query string, limit int) []string {
		var ids []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			path := fmt.Sprintf("/v1/posts?limit=%d%s", limit, query)
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var pg struct {
				Items      []postJSON
				NextCursor *string
			}
			en.do(req{method: "GET", path: path, token: bob.token}).want(t, http.StatusOK).json(t, &pg)
			if len(pg.Items) > limit {
				t.Fatalf("page of %d with limit %d", len(pg.Items), limit)
			}
			for _, p := range pg.Items {
				ids = append(ids, p.ID)
			}
			if pg.NextCursor == nil {
				return ids
			}
			cursor = *pg.NextCursor
			// A write while paging neither repeats nor skips anything.
			en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "late"}}).want(t, http.StatusCreated)
		}
	}
	if got := collect("", 3); !slices.Equal(got, want) {
		t.Fatalf("all posts\n got %v\nwant %v", got, want)
	}
	if got := collect("&author="+bob.id, 1); len(got) != 2 {
		t.Fatalf("bob's posts %v", got)
	}
	var pg struct{ Items []postJSON }
	en.do(req{method: "GET", path: "/v1/posts?limit=100&author=" + ann.id, token: bob.token}).want(t, http.StatusOK).json(t, &pg)
	if len(pg.Items) < 5 {
		t.Fatalf("ann has %d posts", len(pg.Items))
	}
	for _, p := range pg.Items {
		if p.AuthorID != ann.id {
			t.Fatalf("author filter returned %+v", p)
		}
	}
}

// TestUploadsInFlightAreCapped: a user may have 20 uploads pending (the
// default); the 21st is 429 with a Retry-After of when the oldest expires,
// other users are unaffected.
func TestUploadsInFlightAreCapped(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	body := map[string]any{"purpose": "post", "contentType": "image/png", "size": 10}
	for range 20 {
		en.do(req{method: "POST", path: "/v1/uploads", token: ann.token, body: body}).want(t, http.StatusCreated)
	}
	en.clock.Advance(time.Minute)
	r := en.do(req{method: "POST", path: "/v1/uploads", token: ann.token, body: body})
	if p := r.problem(t, http.StatusTooManyRequests, domain.TooManyRequests); !strings.Contains(p.Detail, "uploads in progress") {
		t.Errorf("detail %q", p.Detail)
	}
	// The oldest expires 15 min (URL) + 5 min (grace) after its creation.
	if ra := r.header.Get("Retry-After"); ra != "1140" {
		t.Errorf("Retry-After %q, want 1140", ra)
	}
	en.do(req{method: "POST", path: "/v1/uploads", token: bob.token, body: body}).want(t, http.StatusCreated)
}

// TestDisplayNamesLoseBidiControls: direction overrides and isolates are
// removed from display names (they would reorder the text around them
// wherever the name is shown); a name of nothing else is refused.
func TestDisplayNamesLoseBidiControls(t *testing.T) {
	en := newEnv(t)
	u := en.signUp("ann")
	var me struct{ DisplayName string }
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"displayName": "Ann\u202e\u2066 L."}}).
		want(t, http.StatusOK).json(t, &me)
	if me.DisplayName != "Ann L." {
		t.Errorf("display name %q, want %q", me.DisplayName, "Ann L.")
	}
	en.do(req{method: "PATCH", path: "/v1/me", token: u.token, body: map[string]any{"displayName": "\u202e\u200f"}}).
		problem(t, http.StatusBadRequest, domain.Invalid)
}
