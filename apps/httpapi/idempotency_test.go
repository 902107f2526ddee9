package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/idempotency"
	"github.com/cloudpost/cloudpost/ports"
)

// TestIdempotencyKeyReplaysCreates: a creating request sent again with the
// same Idempotency-Key and body gets the first response back and creates
// nothing more, on each creating route.
func TestIdempotencyKeyReplaysCreates(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	key := map[string]string{"Idempotency-Key": `"post-1"`}
	first := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hello"}, header: key}).want(t, http.StatusCreated)
	again := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "hello"}, header: key}).want(t, http.StatusCreated)
	if string(again.body) != string(first.body) || again.header.Get("Location") != first.header.Get("Location") || again.header.Get("ETag") != first.header.Get("ETag") {
		t.Fatalf("replay differs:\n first %s %v\n again %s %v", first.body, first.header, again.body, again.header)
	}
	if again.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed: first %q, replay %q", first.header.Get("Idempotent-Replayed"), again.header.Get("Idempotent-Replayed"))
	}
	page := en.do(req{method: "GET", path: "/v1/posts?author=" + ann.id, token: ann.token}).want(t, http.StatusOK).obj(t)
	if n := len(page["items"].([]any)); n != 1 {
		t.Fatalf("ann has %d posts after a replayed create, want 1", n)
	}
	postID := first.obj(t)["id"].(string)

	// Comments: the key is bound to the post (path) and the body.
	ck := map[string]string{"Idempotency-Key": "c-1"} // bare keys are accepted too
	c1 := en.do(req{method: "POST", path: "/v1/posts/" + postID + "/comments", token: bob.token, body: map[string]any{"body": "nice"}, header: ck}).want(t, http.StatusCreated)
	c2 := en.do(req{method: "POST", path: "/v1/posts/" + postID + "/comments", token: bob.token, body: map[string]any{"body": "nice"}, header: ck}).want(t, http.StatusCreated)
	if string(c1.body) != string(c2.body) {
		t.Fatalf("comment replay differs: %s vs %s", c1.body, c2.body)
	}
	if got := en.do(req{method: "GET", path: "/v1/posts/" + postID, token: ann.token}).want(t, http.StatusOK).obj(t)["commentCount"]; got != float64(1) {
		t.Errorf("commentCount = %v after a replayed comment, want 1", got)
	}
	notes := en.do(req{method: "GET", path: "/v1/notifications", token: ann.token}).want(t, http.StatusOK).obj(t)
	if n := len(notes["items"].([]any)); n != 1 {
		t.Errorf("ann has %d notifications, want 1", n)
	}

	// Uploads.
	uk := map[string]string{"Idempotency-Key": "u-1"}
	upBody := map[string]any{"purpose": "post", "contentType": "image/png", "size": 100}
	u1 := en.do(req{method: "POST", path: "/v1/uploads", token: ann.token, body: upBody, header: uk}).want(t, http.StatusCreated)
	u2 := en.do(req{method: "POST", path: "/v1/uploads", token: ann.token, body: upBody, header: uk}).want(t, http.StatusCreated)
	if string(u1.body) != string(u2.body) {
		t.Fatalf("upload replay differs: %s vs %s", u1.body, u2.body)
	}

	// Keys are the caller's: bob's "post-1" is another key.
	en.do(req{method: "POST", path: "/v1/posts", token: bob.token, body: map[string]any{"body": "hello"}, header: key}).want(t, http.StatusCreated)
	if got := en.do(req{method: "GET", path: "/v1/posts?author=" + bob.id, token: bob.token}).want(t, http.StatusOK).obj(t); len(got["items"].([]any)) != 1 {
		t.Errorf("bob's post with ann's key: %v", got)
	}
}

// TestIdempotencyKeyMisuse: another body under a used key is 422, a bad
// key 400, and a request that failed frees its key.
func TestIdempotencyKeyMisuse(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	key := map[string]string{"Idempotency-Key": "k"}
	p := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "one"}, header: key}).want(t, http.StatusCreated).obj(t)
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "two"}, header: key}).problem(t, http.StatusUnprocessableEntity, domain.Unprocessable)
	// The same key on another route is another request too.
	en.do(req{method: "POST", path: "/v1/posts/" + p["id"].(string) + "/comments", token: ann.token, body: map[string]any{"body": "one"}, header: key}).
		problem(t, http.StatusUnprocessableEntity, domain.Unprocessable)
	for _, bad := range []string{strings.Repeat("x", 256), "\"unterminated", "tab\there", `"x\q"`} {
		en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "one"}, header: map[string]string{"Idempotency-Key": bad}}).
			problem(t, http.StatusBadRequest, domain.Invalid)
	}
	// A refused request (bad body) writes nothing and frees the key: the
	// corrected request with the same key runs.
	fk := map[string]string{"Idempotency-Key": "fix-me"}
	en.do(req{method: "POST", path: "/v1/posts", token: bob.token, body: map[string]any{"body": ""}, header: fk}).problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "POST", path: "/v1/posts", token: bob.token, body: map[string]any{"body": ""}, header: fk}).problem(t, http.StatusBadRequest, domain.Invalid)
	en.do(req{method: "POST", path: "/v1/posts", token: bob.token, body: map[string]any{"body": "fixed"}, header: fk}).want(t, http.StatusCreated)
}

// TestIdempotencyKeyConcurrentRetries: requests with one key sent at once
// create one post; the others get it replayed or 409 (in progress).
func TestIdempotencyKeyConcurrentRetries(t *testing.T) {
	en := newEnv(t)
	ann := en.signUp("ann")
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "once"}, header: map[string]string{"Idempotency-Key": "same"}})
			statuses[i] = r.status
			if r.status == http.StatusConflict && r.header.Get("Retry-After") == "" {
				t.Errorf("409 without Retry-After")
			}
		})
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusCreated && s != http.StatusConflict {
			t.Errorf("statuses %v: want 201 or 409 only", statuses)
			break
		}
	}
	page := en.do(req{method: "GET", path: "/v1/posts?author=" + ann.id, token: ann.token}).want(t, http.StatusOK).obj(t)
	if got := len(page["items"].([]any)); got != 1 {
		t.Errorf("%d posts from %d concurrent requests with one key, want 1", got, n)
	}
}

// TestIdempotencyKeyCommittedWithoutResponse: when the first request's
// write committed but its response was never stored (the process died in
// between), a retry answers with the resource it created.
func TestIdempotencyKeyCommittedWithoutResponse(t *testing.T) {
	en := newEnv(t)
	ann := en.signUp("ann")
	ctx := t.Context()
	// What a request that died after its commit leaves: its claim, and the
	// post its write created with the claim (marked committed), no response.
	fp := idempotency.Fingerprint("POST", "/v1/posts", []byte(`{"body":"x"}`))
	rec, ok, err := en.store.ClaimIdempotencyKey(ctx, domain.IdempotencyRecord{UserID: ann.id, Key: "lost", Fingerprint: fp, Token: "t1",
		CreatedAt: en.clock.Now(), LeaseUntil: en.clock.Now().Add(idempotency.DefaultLease)})
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	claim := ports.IdempotencyClaim{UserID: ann.id, Key: "lost", Token: rec.Token}
	post, err := en.deps.Posts.Create(ports.WithIdempotencyClaim(ctx, claim), domain.Principal{UserID: ann.id}, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: `{"body":"x"}`, header: map[string]string{"Idempotency-Key": "lost"}}).want(t, http.StatusCreated)
	if got := r.obj(t)["id"]; got != post.ID || r.header.Get("Location") != "/v1/posts/"+post.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay of a committed request: %s %v", r.body, r.header)
	}
	page := en.do(req{method: "GET", path: "/v1/posts?author=" + ann.id, token: ann.token}).want(t, http.StatusOK).obj(t)
	if got := len(page["items"].([]any)); got != 1 {
		t.Errorf("%d posts, want 1", got)
	}
}
