package porttest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// RunStorage runs the contract suite of ports.Storage: every rule its doc
// comments state (error codes, transactions and rollback, cascades, counts,
// keyset paging, the change feed each write appends, snapshots, pruning) and
// its behaviour under concurrent callers (run it with -race).
//
// newStore is called once per subtest and must return an empty store that
// shares no data with any other store it returned: most subtests run in
// parallel. It may register cleanups on t. The store must stamp feed changes
// with the time of the write (the pruning test lets real time pass).
func RunStorage(t *testing.T, newStore func(t *testing.T) ports.Storage) {
	groups := []struct {
		name  string
		cases []storageCase
	}{
		{"Profiles", storageProfileCases},
		{"Posts", storagePostCases},
		{"Comments", storageCommentCases},
		{"Media", storageMediaCases},
		{"Notifications", storageNotificationCases},
		{"Outbox", storageOutboxCases},
		{"Devices", storageDeviceCases},
		{"PushSettings", storagePushSettingsCases},
		{"OneTimeTokens", storageTokenCases},
		{"Feed", storageFeedCases},
		{"Idempotency", storageIdempotencyCases},
		{"Concurrency", storageConcurrencyCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					if !c.serial {
						t.Parallel()
					}
					s := newStore(t)
					if s == nil {
						t.Fatal("newStore returned nil")
					}
					c.run(t, &storageFix{t: t, ctx: t.Context(), s: s})
				})
			}
		})
	}
}

// storageCase is one subtest of RunStorage. Serial cases run alone (before
// the parallel cases of their group).
type storageCase struct {
	name   string
	run    func(t *testing.T, f *storageFix)
	serial bool
}

// storageFix is the fresh store of one subtest with helpers that build
// fixtures and fail the test on unexpected errors. Its methods call
// t.Fatal, so use them only from the test goroutine.
type storageFix struct {
	t   *testing.T
	ctx context.Context
	s   ports.Storage
}

// storageNow is the time entities are stamped with: millisecond precision
// survives every database.
func storageNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// storageErrRefused is what authorising and update callbacks return in the
// rollback tests; errors.Is must find it in what the store returns.
var storageErrRefused = domain.Errorf(domain.Forbidden, "porttest: callback refused")

func storageNewProfile() domain.Profile {
	id, now := NewID(), storageNow()
	return domain.Profile{
		ID: id, Email: "user-" + id + "@example.com", DisplayName: "User " + id[len(id)-4:],
		Bio: "bio", CreatedAt: now, UpdatedAt: now,
	}
}

func storageNewMedia(owner string, purpose domain.MediaPurpose) domain.Media {
	now := storageNow()
	return domain.Media{
		ID: NewID(), OwnerID: owner, Purpose: purpose, ContentType: "image/jpeg",
		Size: 12345, Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now,
	}
}

func storageNewPost(author string, mediaIDs ...string) domain.Post {
	now := storageNow()
	return domain.Post{
		ID: NewID(), AuthorID: author, Body: "post body", MediaIDs: mediaIDs,
		CreatedAt: now, UpdatedAt: now,
	}
}

func storageNewComment(postID, author string) domain.Comment {
	return domain.Comment{ID: NewID(), PostID: postID, AuthorID: author, Body: "comment body", CreatedAt: storageNow()}
}

func storageNewNotification(to string, c domain.Comment) *domain.Notification {
	return &domain.Notification{
		ID: NewID(), UserID: to, Type: domain.NotificationComment, ActorID: c.AuthorID,
		PostID: c.PostID, CommentID: c.ID, CreatedAt: storageNow(),
	}
}

// profile creates a new profile.
func (f *storageFix) profile() domain.Profile {
	f.t.Helper()
	p, err := f.s.CreateProfile(f.ctx, storageNewProfile())
	if err != nil {
		f.t.Fatalf("CreateProfile: %v", err)
	}
	return p
}

// media creates a new unattached media item of owner.
func (f *storageFix) media(owner string, purpose domain.MediaPurpose) domain.Media {
	f.t.Helper()
	return f.createMedia(storageNewMedia(owner, purpose))
}

// createMedia creates m (with no admit function) and returns what the
// store returned.
func (f *storageFix) createMedia(m domain.Media) domain.Media {
	f.t.Helper()
	got, err := f.s.CreateMedia(f.ctx, m, nil)
	if err != nil {
		f.t.Fatalf("CreateMedia: %v", err)
	}
	return got
}

// post creates a new post of author with the media attached.
func (f *storageFix) post(author string, mediaIDs ...string) domain.Post {
	f.t.Helper()
	p, err := f.s.CreatePost(f.ctx, storageNewPost(author, mediaIDs...))
	if err != nil {
		f.t.Fatalf("CreatePost: %v", err)
	}
	return p
}

// comment creates a comment of author on p, with a notification to p's
// author when notify is set (nil otherwise).
func (f *storageFix) comment(p domain.Post, author string, notify bool) (domain.Comment, *domain.Notification) {
	f.t.Helper()
	c := storageNewComment(p.ID, author)
	var n *domain.Notification
	if notify {
		n = storageNewNotification(p.AuthorID, c)
	}
	got, err := f.s.CreateComment(f.ctx, c, p.AuthorID, n)
	if err != nil {
		f.t.Fatalf("CreateComment: %v", err)
	}
	return got, n
}

// setAvatar makes m the avatar of its owner.
func (f *storageFix) setAvatar(m domain.Media) domain.Profile {
	f.t.Helper()
	p, err := f.s.UpdateProfile(f.ctx, m.OwnerID, func(p *domain.Profile) error {
		p.ImageID = m.ID
		return nil
	})
	if err != nil {
		f.t.Fatalf("UpdateProfile(ImageID): %v", err)
	}
	return p
}

func (f *storageFix) getPost(id string) domain.Post {
	f.t.Helper()
	p, err := f.s.GetPost(f.ctx, id)
	if err != nil {
		f.t.Fatalf("GetPost: %v", err)
	}
	return p
}

func (f *storageFix) getMedia(id string) domain.Media {
	f.t.Helper()
	m, err := f.s.GetMedia(f.ctx, id)
	if err != nil {
		f.t.Fatalf("GetMedia: %v", err)
	}
	return m
}

// changes reads the whole feed of user after the cursor, checking the page
// rules on the way: Seq strictly increasing and above after, UserID set,
// pages no longer than the limit, non-empty while more is reported.
func (f *storageFix) changes(user string, after int64) []domain.Change {
	f.t.Helper()
	var all []domain.Change
	last := after
	for range 10000 {
		page, more, err := f.s.ChangesSince(f.ctx, user, last, 50)
		if err != nil {
			f.t.Fatalf("ChangesSince(%d): %v", last, err)
		}
		if len(page) > 50 {
			f.t.Fatalf("ChangesSince returned %d changes for limit 50", len(page))
		}
		for _, c := range page {
			if c.Seq <= last {
				f.t.Fatalf("ChangesSince(after %d) returned Seq %d after Seq %d", after, c.Seq, last)
			}
			if c.UserID != user {
				f.t.Fatalf("ChangesSince(%s) returned a change of user %s", user, c.UserID)
			}
			last = c.Seq
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			f.t.Fatal("ChangesSince returned an empty page with more = true")
		}
	}
	f.t.Fatal("ChangesSince never reported the end of the feed")
	return nil
}

// cursor returns the highest Seq in the user's feed (0 when empty).
func (f *storageFix) cursor(user string) int64 {
	f.t.Helper()
	chs := f.changes(user, 0)
	if len(chs) == 0 {
		return 0
	}
	return chs[len(chs)-1].Seq
}

// storageChange is an expected feed entry, without Seq and time.
type storageChange struct {
	Entity  domain.EntityType
	ID      string
	Deleted bool
}

func (c storageChange) String() string {
	if c.Deleted {
		return fmt.Sprintf("-%s:%s", c.Entity, c.ID)
	}
	return fmt.Sprintf("+%s:%s", c.Entity, c.ID)
}

func storageUpsert(e domain.EntityType, id string) storageChange { return storageChange{e, id, false} }
func storageTomb(e domain.EntityType, id string) storageChange   { return storageChange{e, id, true} }

// expectFeed checks that the distinct entries of user's feed after the
// cursor are exactly want (in any order; a write may report an entity once
// per user or more often).
func (f *storageFix) expectFeed(user string, after int64, want ...storageChange) {
	f.t.Helper()
	got := map[storageChange]bool{}
	for _, c := range f.changes(user, after) {
		got[storageChange{c.Entity, c.ID, c.Deleted}] = true
	}
	wantSet := map[storageChange]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	var missing, extra []string
	for w := range wantSet {
		if !got[w] {
			missing = append(missing, w.String())
		}
	}
	for g := range got {
		if !wantSet[g] {
			extra = append(extra, g.String())
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		f.t.Errorf("feed of %s after %d: missing [%s], unexpected [%s]",
			user, after, strings.Join(missing, " "), strings.Join(extra, " "))
	}
}

// storageWantCode fails unless err carries the domain code.
func storageWantCode(t *testing.T, err error, code domain.Code, what string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Errorf("%s: got error %v (code %q), want code %s", what, err, got, code)
	}
}

// storageWantRefused fails unless err is storageErrRefused, returned unchanged.
func storageWantRefused(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, storageErrRefused) {
		t.Errorf("%s: got error %v, want the callback's error", what, err)
	}
}

// storageNorm makes values comparable with reflect.DeepEqual across
// adapters: times in UTC, empty slices nil, slices of entities (and of
// strings) sorted, so they compare as sets.
func storageNorm(v any) any {
	utc := func(t time.Time) time.Time { return t.UTC() }
	ids := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	switch x := v.(type) {
	case domain.Profile:
		x.CreatedAt, x.UpdatedAt = utc(x.CreatedAt), utc(x.UpdatedAt)
		return x
	case *domain.Profile:
		if x == nil {
			return x
		}
		p := storageNorm(*x).(domain.Profile)
		return &p
	case domain.Post:
		x.MediaIDs = ids(x.MediaIDs)
		x.CreatedAt, x.UpdatedAt = utc(x.CreatedAt), utc(x.UpdatedAt)
		return x
	case domain.Comment:
		x.CreatedAt = utc(x.CreatedAt)
		return x
	case domain.Media:
		x.Variants = ids(x.Variants)
		x.ClaimedAt, x.CreatedAt, x.UpdatedAt = utc(x.ClaimedAt), utc(x.CreatedAt), utc(x.UpdatedAt)
		return x
	case domain.Notification:
		x.CreatedAt = utc(x.CreatedAt)
		if x.ReadAt != nil {
			at := utc(*x.ReadAt)
			x.ReadAt = &at
		}
		return x
	case *domain.Notification:
		if x == nil {
			return x
		}
		n := storageNorm(*x).(domain.Notification)
		return &n
	case domain.Device:
		x.CreatedAt, x.SeenAt = utc(x.CreatedAt), utc(x.SeenAt)
		if x.Subscription != nil {
			sub := *x.Subscription
			x.Subscription = &sub
		}
		return x
	case domain.NotificationSettings:
		if len(x.PushOff) == 0 {
			x.PushOff = nil
		}
		if x.Quiet != nil {
			q := *x.Quiet
			x.Quiet = &q
		}
		return x
	case domain.OneTimeToken:
		x.AuthTime, x.ExpiresAt = utc(x.AuthTime), utc(x.ExpiresAt)
		return x
	case []string:
		out := slices.Clone(x)
		slices.Sort(out)
		return ids(out)
	case []domain.Post:
		return storageNormSlice(x, func(p domain.Post) string { return p.ID })
	case []domain.Comment:
		return storageNormSlice(x, func(c domain.Comment) string { return c.ID })
	case []domain.Media:
		return storageNormSlice(x, func(m domain.Media) string { return m.ID })
	case []domain.Notification:
		return storageNormSlice(x, func(n domain.Notification) string { return n.ID })
	case []domain.Device:
		return storageNormSlice(x, func(d domain.Device) string { return d.UserID + "/" + d.ID })
	}
	panic(fmt.Sprintf("porttest: storageNorm: unexpected %T", v))
}

func storageNormSlice[T any](s []T, id func(T) string) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = storageNorm(v).(T)
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return out
}

// storageSame fails unless got and want are equal after storageNorm (slices
// of entities compare as sets).
func storageSame(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := storageNorm(got), storageNorm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

// storageIDs returns the ids of entities in their order.
func storageIDs[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = id(v)
	}
	return out
}

func storagePostID(p domain.Post) string                 { return p.ID }
func storageCommentID(c domain.Comment) string           { return c.ID }
func storageMediaID(m domain.Media) string               { return m.ID }
func storageNotificationID(n domain.Notification) string { return n.ID }
