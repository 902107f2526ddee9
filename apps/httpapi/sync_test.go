package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
)

type syncJSON struct {
	Full          bool
	Profile       *profileJSON
	Posts         []postJSON
	Comments      []struct{ ID, PostID, AuthorID, Body string }
	Notifications []struct{ ID, CommentID string }
	Deleted       []struct{ Type, ID string }
	Cursor        string
	HasMore       bool
}

func TestSync(t *testing.T) {
	en := newEnv(t)
	ann, bob := en.signUp("ann"), en.signUp("bob")
	img := pngBytes(t, 32, 32)
	avatar := en.upload(ann, "avatar", img)
	en.do(req{method: "PATCH", path: "/v1/me", token: ann.token, body: map[string]any{"imageId": avatar}}).want(t, http.StatusOK)
	var p1, p2 postJSON
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "one", "mediaIds": []string{en.upload(ann, "post", img)}}}).
		want(t, http.StatusCreated).json(t, &p1)
	en.do(req{method: "POST", path: "/v1/posts", token: ann.token, body: map[string]any{"body": "two"}}).want(t, http.StatusCreated).json(t, &p2)
	c := en.do(req{method: "POST", path: "/v1/posts/" + p2.ID + "/comments", token: bob.token, body: map[string]any{"body": "hey"}}).
		want(t, http.StatusCreated).obj(t)

	var s syncJSON
	en.do(req{method: "GET", path: "/v1/sync", token: ann.token}).want(t, http.StatusOK).json(t, &s)
	if !s.Full || s.Profile == nil || s.Profile.ID != ann.id || s.Profile.Image == nil || s.Profile.Image.ID != avatar ||
		len(s.Posts) != 2 || len(s.Comments) != 1 || len(s.Notifications) != 1 || s.Cursor == "" || len(s.Deleted) != 0 {
		t.Fatalf("full sync %+v", s)
	}
	if s.Posts[0].ID != p1.ID || len(s.Posts[0].Media) != 1 || s.Posts[0].Media[0].Status != "ready" {
		t.Fatalf("synced posts %+v", s.Posts)
	}

	// Nothing changed: an empty delta with a usable cursor.
	cursor := s.Cursor
	s = syncJSON{}
	en.do(req{method: "GET", path: "/v1/sync?cursor=" + cursor, token: ann.token}).want(t, http.StatusOK).json(t, &s)
	if s.Full || len(s.Posts)+len(s.Comments)+len(s.Notifications)+len(s.Deleted) != 0 || s.Profile != nil {
		t.Fatalf("empty delta %+v", s)
	}

	// Edit one post, delete the other (with its comment and notification).
	en.do(req{method: "PATCH", path: "/v1/posts/" + p1.ID, token: ann.token, body: map[string]any{"body": "one, edited"}}).want(t, http.StatusOK)
	en.do(req{method: "DELETE", path: "/v1/posts/" + p2.ID, token: ann.token}).want(t, http.StatusNoContent)
	s = syncJSON{}
	en.do(req{method: "GET", path: "/v1/sync?cursor=" + cursor, token: ann.token}).want(t, http.StatusOK).json(t, &s)
	if s.Full || len(s.Posts) != 1 || s.Posts[0].Body != "one, edited" || s.Cursor == cursor {
		t.Fatalf("delta %+v", s)
	}
	deleted := map[string]string{}
	for _, d := range s.Deleted {
		deleted[d.ID] = d.Type
	}
	if deleted[p2.ID] != "post" || deleted[c["id"].(string)] != "comment" || len(deleted) != 3 {
		t.Fatalf("tombstones %+v", s.Deleted)
	}

	// A cursor is bound to its user.
	en.do(req{method: "GET", path: "/v1/sync?cursor=" + s.Cursor, token: bob.token}).problem(t, http.StatusBadRequest, domain.Invalid)
}
