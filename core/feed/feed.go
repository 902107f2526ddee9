// Package feed runs the sync use case: a mobile client asks for everything
// that changed for its user since its cursor and gets the changed entities,
// tombstones for deleted ones, and the next cursor. An empty cursor, or one
// older than the tombstone retention, returns a full snapshot.
package feed

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/profiles"
	"github.com/cloudpost/cloudpost/ports"
)

// Config holds the sync rules.
type Config struct {
	// Retention is how long tombstones (and changes) are kept (default 30 days).
	Retention time.Duration
	// PageSize is how many changes one sync call reads at most (default 500).
	PageSize int
}

// Service implements the sync use case.
type Service struct {
	store    ports.Storage
	profiles *profiles.Service
	clock    ports.Clock
	cfg      Config
}

// New returns a sync service.
func New(store ports.Storage, profileSvc *profiles.Service, clock ports.Clock, cfg Config) *Service {
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	return &Service{store: store, profiles: profileSvc, clock: clock, cfg: cfg}
}

// Tombstone names a deleted entity.
type Tombstone struct {
	Type domain.EntityType
	ID   string
}

// Result is one sync answer.
type Result struct {
	// Full is true for a snapshot: the client replaces its store.
	Full          bool
	Profile       *domain.Profile
	Posts         []domain.Post
	Comments      []domain.Comment
	Notifications []domain.Notification
	Deleted       []Tombstone
	// Cursor is what the client sends next time.
	Cursor string
	// HasMore says that more changes are waiting: call again at once.
	HasMore bool
}

// Sync returns what changed for the caller since cursor. Returns Invalid for
// a malformed cursor or one issued to another user.
func (s *Service) Sync(ctx context.Context, p domain.Principal, cursor string) (Result, error) {
	var after int64
	full := cursor == ""
	if !full {
		var err error
		if after, err = decodeCursor(cursor, p.UserID); err != nil {
			return Result{}, err
		}
		horizon, err := s.store.FeedHorizon(ctx)
		if err != nil {
			return Result{}, err
		}
		full = after < horizon
	}
	if _, err := s.profiles.Ensure(ctx, p); err != nil {
		return Result{}, err
	}
	if full {
		return s.snapshot(ctx, p.UserID)
	}
	return s.changes(ctx, p.UserID, after)
}

func (s *Service) snapshot(ctx context.Context, userID string) (Result, error) {
	snap, err := s.store.Snapshot(ctx, userID)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Full: true, Profile: snap.Profile, Posts: snap.Posts, Comments: snap.Comments,
		Notifications: snap.Notifications, Cursor: encodeCursor(userID, snap.Seq),
	}, nil
}

func (s *Service) changes(ctx context.Context, userID string, after int64) (Result, error) {
	changes, more, err := s.store.ChangesSince(ctx, userID, after, s.cfg.PageSize)
	if err != nil {
		return Result{}, err
	}
	// A prune that ran between the first horizon check and this read may
	// have removed changes after the cursor: check again, now that the read
	// is done (stores raise the horizon before deleting).
	horizon, err := s.store.FeedHorizon(ctx)
	if err != nil {
		return Result{}, err
	}
	if after < horizon {
		return s.snapshot(ctx, userID)
	}
	res := Result{Cursor: encodeCursor(userID, after), HasMore: more}
	if len(changes) == 0 {
		return res, nil
	}
	res.Cursor = encodeCursor(userID, changes[len(changes)-1].Seq)

	// The latest change of each entity wins; entities are then read in
	// their current state, and whatever no longer exists is a tombstone.
	type key struct {
		t  domain.EntityType
		id string
	}
	latest := make(map[key]bool, len(changes)) // value: deleted
	var order []key
	for _, c := range changes {
		k := key{c.Entity, c.ID}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = c.Deleted
	}
	ids := map[domain.EntityType][]string{}
	for _, k := range order {
		if latest[k] {
			res.Deleted = append(res.Deleted, Tombstone{Type: k.t, ID: k.id})
		} else {
			ids[k.t] = append(ids[k.t], k.id)
		}
	}
	found := map[key]bool{}
	if len(ids[domain.EntityProfile]) > 0 {
		prof, err := s.store.GetProfile(ctx, userID)
		switch {
		case err == nil:
			res.Profile = &prof
			found[key{domain.EntityProfile, prof.ID}] = true
		case !domain.IsCode(err, domain.NotFound):
			return Result{}, err
		}
	}
	if len(ids[domain.EntityPost]) > 0 {
		if res.Posts, err = s.store.GetPosts(ctx, ids[domain.EntityPost]); err != nil {
			return Result{}, err
		}
		for _, x := range res.Posts {
			found[key{domain.EntityPost, x.ID}] = true
		}
	}
	if len(ids[domain.EntityComment]) > 0 {
		if res.Comments, err = s.store.GetComments(ctx, ids[domain.EntityComment]); err != nil {
			return Result{}, err
		}
		for _, x := range res.Comments {
			found[key{domain.EntityComment, x.ID}] = true
		}
	}
	if len(ids[domain.EntityNotification]) > 0 {
		if res.Notifications, err = s.store.GetNotifications(ctx, userID, ids[domain.EntityNotification]); err != nil {
			return Result{}, err
		}
		for _, x := range res.Notifications {
			found[key{domain.EntityNotification, x.ID}] = true
		}
	}
	for t, list := range ids {
		for _, id := range list {
			if !found[key{t, id}] {
				res.Deleted = append(res.Deleted, Tombstone{Type: t, ID: id})
			}
		}
	}
	return res, nil
}

// Prune drops changes and tombstones older than the retention. Run it
// periodically (a ticker on a server, a schedule on Lambda).
func (s *Service) Prune(ctx context.Context) error {
	return s.store.PruneFeed(ctx, s.clock.Now().Add(-s.cfg.Retention))
}

const cursorPrefix = "c1."

func encodeCursor(userID string, seq int64) string {
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(userID+":"+strconv.FormatInt(seq, 10)))
}

func decodeCursor(cursor, userID string) (int64, error) {
	bad := domain.Errorf(domain.Invalid, "cursor is malformed")
	rest, ok := strings.CutPrefix(cursor, cursorPrefix)
	if !ok || len(cursor) > 256 {
		return 0, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != rest {
		return 0, bad
	}
	i := strings.LastIndexByte(string(raw), ':')
	if i < 0 {
		return 0, bad
	}
	owner, seqText := string(raw[:i]), string(raw[i+1:])
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil || seq < 0 {
		return 0, bad
	}
	if owner != userID {
		return 0, domain.Errorf(domain.Invalid, "cursor belongs to another user")
	}
	return seq, nil
}
