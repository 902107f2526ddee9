package mysqlstore

import (
	"net/url"
	"testing"
	"time"
)

// TestAPIFlowWithReplica drives the HTTP API over MySQL with a read
// replica pool (the same database, so it is never stale): posts with
// media, comments, lists, a full sync, an incremental sync with
// tombstones, and deleting the account.
func TestAPIFlowWithReplica(t *testing.T) {
	dsn := testDatabase(t, false)
	s := NewFromDB(testOpenDB(t, dsn, DefaultConfig()), testOpenDB(t, dsn, DefaultConfig()), Options{ReadYourWrites: 50 * time.Millisecond})
	en := newAPIEnv(t, s)

	type post struct {
		ID           string
		Body         string
		CommentCount int64
		Media        []struct{ ID string }
	}
	var p post
	en.mustCall("POST", "/v1/posts", map[string]any{"body": "hello 👋", "mediaIds": en.readyMedia(2)}, &p)
	if len(p.Media) != 2 || p.Body != "hello 👋" {
		t.Fatalf("created post: %+v", p)
	}
	type syncRes struct {
		Full     bool
		Cursor   string
		HasMore  bool
		Posts    []post
		Comments []struct{ ID string }
		Deleted  []struct{ Type, ID string }
	}
	var full syncRes
	en.mustCall("GET", "/v1/sync", nil, &full)
	if !full.Full || len(full.Posts) != 1 || full.Cursor == "" {
		t.Fatalf("first sync: %+v", full)
	}

	var c struct{ ID string }
	en.mustCall("POST", "/v1/posts/"+p.ID+"/comments", map[string]any{"body": "first!"}, &c)
	var got post
	en.mustCall("GET", "/v1/posts/"+p.ID, nil, &got)
	if got.CommentCount != 1 || len(got.Media) != 2 {
		t.Errorf("GET post after a comment: %+v", got)
	}
	var page struct{ Items []post }
	en.mustCall("GET", "/v1/posts?limit=10", nil, &page)
	if len(page.Items) != 1 {
		t.Errorf("list: %d posts", len(page.Items))
	}
	time.Sleep(60 * time.Millisecond) // past the read-your-writes window: reads use the reader pool

	var inc syncRes
	en.mustCall("GET", "/v1/sync?cursor="+url.QueryEscape(full.Cursor), nil, &inc)
	if inc.Full || len(inc.Comments) != 1 || inc.Comments[0].ID != c.ID || len(inc.Posts) != 1 || inc.Posts[0].CommentCount != 1 {
		t.Errorf("incremental sync after a comment: %+v", inc)
	}
	en.mustCall("DELETE", "/v1/posts/"+p.ID, nil, nil)
	var del syncRes
	en.mustCall("GET", "/v1/sync?cursor="+url.QueryEscape(inc.Cursor), nil, &del)
	tomb := map[string]bool{}
	for _, d := range del.Deleted {
		tomb[d.Type+":"+d.ID] = true
	}
	if del.Full || !tomb["post:"+p.ID] || !tomb["comment:"+c.ID] {
		t.Errorf("sync after deleting the post: %+v", del)
	}
	if res, _ := en.call("GET", "/v1/posts/"+p.ID, nil, nil); res == nil || res.StatusCode != 404 {
		t.Errorf("GET deleted post: %v", res)
	}
	en.mustCall("DELETE", "/v1/me", nil, nil)
	db := testOpenDB(t, dsn, DefaultConfig())
	if n := testCount(t, db, "SELECT COUNT(*) FROM profiles") + testCount(t, db, "SELECT COUNT(*) FROM media") +
		testCount(t, db, "SELECT COUNT(*) FROM posts") + testCount(t, db, "SELECT COUNT(*) FROM comments"); n != 0 {
		t.Errorf("%d rows left after deleting the only account", n)
	}
}
