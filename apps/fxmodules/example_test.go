package fxmodules_test

import (
	"context"
	"fmt"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/adapters/memory/localauth"
	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/adapters/memory/memnotify"
	"github.com/cloudpost/cloudpost/adapters/memory/memstore"
	"github.com/cloudpost/cloudpost/adapters/system"
	"github.com/cloudpost/cloudpost/core/comments"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/core/posts"
	"github.com/cloudpost/cloudpost/core/profiles"
)

// Example_library uses the core as a plain Go library over the memory
// adapters, without fx or HTTP: what a unit test of a service that imports
// cloudpost does.
func Example_library() {
	ctx := context.Background()
	ids, clock := system.IDs{}, system.Clock{}
	store := memstore.New(clock)
	blobs := memblob.New(memblob.Config{BaseURL: func() string { return "http://localhost" }, Clock: clock})
	identity := localauth.New(localauth.Config{IDs: ids, Clock: clock})
	notifier := memnotify.New(nil)

	mediaSvc := media.New(store, blobs, imaging.New(imaging.Config{}), ids, clock, nil, media.Config{})
	profileSvc := profiles.New(store, identity, mediaSvc, clock, nil)
	postSvc := posts.New(store, mediaSvc, profileSvc, ids, clock)
	commentSvc := comments.New(store, profileSvc, notifier, ids, clock, nil)

	ada, bob := domain.Principal{UserID: "ada"}, domain.Principal{UserID: "bob"}
	for _, p := range []domain.Profile{{ID: "ada", Email: "ada@example.com", DisplayName: "Ada"}, {ID: "bob", Email: "bob@example.com", DisplayName: "Bob"}} {
		if _, err := profileSvc.CreateFromIdentity(ctx, domain.Identity{UserID: p.ID, Email: p.Email, DisplayName: p.DisplayName}); err != nil {
			panic(err)
		}
	}
	post, err := postSvc.Create(ctx, ada, "Hello from the library", nil)
	if err != nil {
		panic(err)
	}
	if _, err := commentSvc.Create(ctx, bob, post.ID, "Nice post!"); err != nil {
		panic(err)
	}
	post, _ = postSvc.Get(ctx, post.ID)
	fmt.Println(post.Body, "- comments:", post.CommentCount)
	fmt.Println("notifications sent to ada:", len(notifier.Sent("ada")))

	_, err = postSvc.Update(ctx, bob, post.ID, posts.Update{})
	fmt.Println("bob edits ada's post:", domain.ErrorCode(err))
	// Output:
	// Hello from the library - comments: 1
	// notifications sent to ada: 1
	// bob edits ada's post: Forbidden
}
