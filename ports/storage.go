// Package ports declares the interfaces the cloudpost core needs from the
// outside world (driven ports): storage, blobs, identity, images,
// notifications, clock and ids. The core is their only consumer. Every
// method documents the domain error codes it returns; any other failure is
// Unavailable (dependency down, timeout) or Internal.
package ports

//go:generate go tool mockgen -typed -destination=../mocks/ports_mock.go -package=mocks . Profiles,Posts,Comments,MediaStore,Notifications,Outbox,Devices,PushSettings,OneTimeTokens,SyncFeed,RateCounters,Revocations,IdempotencyKeys,Storage,Blobs,Identity,TokenVerifier,Images,Push,Notifier,Clock,IDs

import (
	"context"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// Storage groups every storage port; one adapter implements all of them so
// that operations spanning entities (a comment and its notification, a post
// and its media) commit in one transaction inside the adapter.
//
// Every write that changes what a user's sync feed shows appends a Change for
// that user in the same transaction (see SyncFeed).
type Storage interface {
	Profiles
	Posts
	Comments
	MediaStore
	Notifications
	Outbox
	Devices
	PushSettings
	OneTimeTokens
	SyncFeed
	RateCounters
	Revocations
	IdempotencyKeys
	// Ping checks that the store is reachable. Returns Unavailable.
	Ping(ctx context.Context) error
}

// Profiles stores user profiles.
type Profiles interface {
	// CreateProfile inserts p with Version 1. Returns Conflict if a profile
	// with the same ID or email exists. Feed: profile change for p.ID.
	CreateProfile(ctx context.Context, p domain.Profile) (domain.Profile, error)
	// GetProfile returns the profile. Returns NotFound.
	GetProfile(ctx context.Context, id string) (domain.Profile, error)
	// UpdateProfile loads the profile in a transaction, calls fn with it and
	// saves what fn left with Version+1 (fn sets UpdatedAt; ID, Email,
	// CreatedAt and Version are not changeable). An error from fn aborts the transaction and is
	// returned unchanged. If ImageID changes, the new media must exist and be
	// owned by the profile (NotFound otherwise). Returns NotFound for an
	// unknown id. Concurrent updates are serialised: fn always sees the
	// latest committed version. Feed: profile change.
	UpdateProfile(ctx context.Context, id string, fn func(p *domain.Profile) error) (domain.Profile, error)
	// DeleteUser removes the profile and everything the user owns: posts
	// (with their comments and notifications), the user's comments on other
	// posts (decrementing those posts' counts), notifications to and from
	// the user, media rows, the user's devices, push settings, post mutes
	// and idempotency records, and everyone's mutes of the user's posts. It
	// returns the media that were removed so the caller can delete their
	// blobs. Deleting an unknown user is not an error (returns no media). Feed: tombstones for every removed entity,
	// to every user whose feed showed it.
	DeleteUser(ctx context.Context, id string) ([]domain.Media, error)
}

// PostQuery selects a page of posts, newest first.
type PostQuery struct {
	// AuthorID filters by author when not empty.
	AuthorID string
	// Before is an exclusive keyset bound: only posts with ID < Before
	// (post ids are time ordered). Empty: start at the newest.
	Before string
	// Limit is the page size (1..100).
	Limit int
}

// Posts stores posts.
type Posts interface {
	// CreatePost inserts p with Version 1 and CommentCount 0 and attaches
	// p.MediaIDs to it. Returns Invalid for a media list that
	// domain.CheckMediaIDs refuses (an id listed twice, more than
	// domain.MaxMediaPerPost ids), Conflict for a duplicate id or a media
	// item attached to another post, NotFound for a missing media item,
	// Forbidden for media owned by someone else. Nothing is written on
	// error. Feed: post change for the author.
	// With an IdempotencyClaim in ctx it also marks that record committed
	// (see IdempotencyClaim); Conflict if the claim is lost.
	CreatePost(ctx context.Context, p domain.Post) (domain.Post, error)
	// GetPost returns the post. Returns NotFound.
	GetPost(ctx context.Context, id string) (domain.Post, error)
	// GetPostWithMedia returns the post and the media items it shows (those
	// of its MediaIDs that exist, in that order): what showing a post needs
	// from the store, in one call so a store can read it its cheapest way.
	// Returns NotFound.
	GetPostWithMedia(ctx context.Context, id string) (domain.Post, []domain.Media, error)
	// GetPosts returns the posts that exist among ids, in no special order.
	GetPosts(ctx context.Context, ids []string) ([]domain.Post, error)
	// UpdatePost loads the post in a transaction, calls fn, and saves it with
	// Version+1. Media attachments follow MediaIDs: the items of the post
	// that MediaIDs no longer lists are deleted in the same transaction and
	// returned (as DeletePost returns its media) so the caller can delete
	// their blobs; none is returned when the list is unchanged. An error
	// from fn aborts and is returned unchanged. Returns NotFound, and for
	// the new media list the errors of CreatePost (Invalid, Conflict,
	// NotFound, Forbidden); nothing is written on error. Feed: post change
	// for the author.
	UpdatePost(ctx context.Context, id string, fn func(p *domain.Post) error) (domain.Post, []domain.Media, error)
	// DeletePost loads the post in a transaction and calls fn (to authorise;
	// its error aborts and is returned unchanged), then deletes the post, its
	// comments and their notifications, its media rows and its mutes. Returns the
	// deleted post and its removed media. Returns NotFound. Feed: tombstones
	// for the post (author), each comment (author and comment author) and
	// each notification (recipient).
	DeletePost(ctx context.Context, id string, fn func(p domain.Post) error) (domain.Post, []domain.Media, error)
	// ListPosts returns up to q.Limit posts newest first (by id) and whether
	// more follow. Paging with Before = last id never repeats or skips a post
	// that existed when paging started.
	ListPosts(ctx context.Context, q PostQuery) ([]domain.Post, bool, error)
}

// Comments stores comments.
type Comments interface {
	// CreateComment inserts c, increments the post's CommentCount and, when n
	// is not nil, inserts the notification n, all in one transaction.
	// postAuthorID is the post's author, as the caller read it (authors
	// never change; the stores use it to write the author's feed without
	// reading the post first). Returns NotFound if the post does not
	// exist, Invalid if postAuthorID is not its author, Conflict for a
	// duplicate id. Nothing is written on error. Feed: comment change for
	// the comment author and the post author, post change for the post
	// author, notification change for n.UserID.
	// With an IdempotencyClaim in ctx it also marks that record committed
	// (see IdempotencyClaim); Conflict if the claim is lost.
	CreateComment(ctx context.Context, c domain.Comment, postAuthorID string, n *domain.Notification) (domain.Comment, error)
	// GetComment returns the comment. Returns NotFound.
	GetComment(ctx context.Context, id string) (domain.Comment, error)
	// GetComments returns the comments that exist among ids.
	GetComments(ctx context.Context, ids []string) ([]domain.Comment, error)
	// DeleteComment loads the comment and its post in a transaction, calls fn
	// (to authorise; its error aborts and is returned unchanged), deletes the
	// comment and its notifications and decrements CommentCount. Returns
	// NotFound. Feed: tombstones as for CreateComment's changes, and a post
	// change for the post author.
	DeleteComment(ctx context.Context, id string, fn func(c domain.Comment, p domain.Post) error) (domain.Comment, error)
	// ListComments returns up to limit comments of the post oldest first
	// (by id) with ID > after, and whether more follow. Returns NotFound if
	// the post does not exist.
	ListComments(ctx context.Context, postID, after string, limit int) ([]domain.Comment, bool, error)
}

// MediaStore stores media item records (the bytes live in Blobs).
type MediaStore interface {
	// CreateMedia inserts m once admit (may be nil) allows it. admit is
	// called with how many of m.OwnerID's items are pending or processing
	// and when the oldest of them was created (zero when none), counted so
	// that concurrent creations for one owner are serialised: a cap that
	// admit enforces holds under any concurrency (admit may be called again
	// when the adapter retries its transaction). An error from admit is
	// returned unchanged and nothing is inserted. Returns Conflict for a
	// duplicate id.
	// With an IdempotencyClaim in ctx it also marks that record committed
	// (see IdempotencyClaim); Conflict if the claim is lost.
	CreateMedia(ctx context.Context, m domain.Media, admit func(inFlight int, oldest time.Time) error) (domain.Media, error)
	// GetMedia returns the item. Returns NotFound.
	GetMedia(ctx context.Context, id string) (domain.Media, error)
	// GetMediaBatch returns the items that exist among ids.
	GetMediaBatch(ctx context.Context, ids []string) ([]domain.Media, error)
	// UpdateMedia loads the item in a transaction, calls fn and saves it
	// (fn sets UpdatedAt). An error from fn aborts and is returned unchanged.
	// Returns NotFound. Feed: when the item is attached to a post, a post
	// change for the owner; when it is the owner's current avatar, a profile
	// change.
	UpdateMedia(ctx context.Context, id string, fn func(m *domain.Media) error) (domain.Media, error)
	// DeleteMedia removes the item if fn (called in the transaction, may be
	// nil) allows it. Returns NotFound, Conflict while the item is attached
	// to a post or is a profile's avatar.
	DeleteMedia(ctx context.Context, id string, fn func(m domain.Media) error) (domain.Media, error)
	// ListStaleMedia returns up to limit items that are pending or
	// processing and were last updated before before, ordered by id, with
	// ID > after (empty: from the first), and whether more follow: what the
	// media sweep visits.
	ListStaleMedia(ctx context.Context, before time.Time, after string, limit int) ([]domain.Media, bool, error)
}

// Notifications stores notifications (written by CreateComment).
type Notifications interface {
	// ListNotifications returns up to limit notifications of the user newest
	// first (by id) with ID < before (empty: from the newest), and whether
	// more follow.
	ListNotifications(ctx context.Context, userID, before string, limit int) ([]domain.Notification, bool, error)
	// GetNotifications returns the user's notifications among ids.
	GetNotifications(ctx context.Context, userID string, ids []string) ([]domain.Notification, error)
	// MarkNotificationsRead sets ReadAt = at on the user's unread
	// notifications among ids, or on all of them when all is true. Ids of
	// other users or unknown ids are ignored. Feed: notification change for
	// each one marked.
	MarkNotificationsRead(ctx context.Context, userID string, ids []string, all bool, at time.Time) error
	// NotificationsAfter returns up to limit notifications of the user
	// oldest first (by id) with ID > after (empty: from the oldest), and
	// whether more follow: what a stream that resumes replays. Returns
	// Invalid for a limit outside 1..100 or an after that is not an id.
	NotificationsAfter(ctx context.Context, userID, after string, limit int) ([]domain.Notification, bool, error)
	// NotificationsSince returns up to limit notifications of any of the
	// users created at or after since, oldest first: what a process's
	// stream poller reads for all its connected users at once. Returns
	// Invalid for more than 1000 users or a limit outside 1..1000.
	NotificationsSince(ctx context.Context, userIDs []string, since time.Time, limit int) ([]domain.Notification, error)
	// CountUnread returns the number of unread notifications of each user
	// (users with none are absent from the map). Returns Invalid for more
	// than 1000 users.
	CountUnread(ctx context.Context, userIDs []string) (map[string]int, error)
}

// Outbox is the delivery side of notifications: every notification row is
// written (by CreateComment) with its push delivery pending and due at its
// CreatedAt, and relays claim and settle it. Delivery is at least once:
// a relay that dies after sending and before recording leaves the
// notification due again once its lease ends.
type Outbox interface {
	// ClaimDeliveries takes up to limit pending notifications due at now
	// (next attempt <= now), earliest due first, counts an attempt on
	// each and hides them from every other claimer until now+lease.
	// Concurrent claimers (other processes included) never get the same
	// notification while its lease holds. Returns Invalid for a limit
	// outside 1..1000 or a lease under one second.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]domain.Delivery, error)
	// RecordDelivery settles the claim numbered attempt of notification id
	// with o: a final state, or pending again at o.NextAttemptAt (with the
	// attempt given back when o.Deferred). A claim that is not the latest
	// (its lease ended and another relay claimed it), an unknown id or a
	// notification already final is left alone and is not an error: the
	// later claim decides. Returns Invalid for an unknown state.
	RecordDelivery(ctx context.Context, id string, attempt int, o domain.DeliveryOutcome) error
	// LastPushAt returns when a push about postID last went to userID (the
	// At of the latest sent notification of that user on that post; the
	// zero time when none): what coalescing waits from.
	LastPushAt(ctx context.Context, userID, postID string) (time.Time, error)
	// DeliveryState returns the state, the attempts made and the next
	// attempt of the user's notification. Returns NotFound.
	DeliveryState(ctx context.Context, userID, id string) (domain.DeliveryState, int, time.Time, error)
}

// Devices stores the devices users receive push notifications on.
type Devices interface {
	// PutDevice registers d (UserID and ID set; SeenAt the time of the
	// call): it creates the device or replaces the user's device with that
	// id, keeping CreatedAt. Any other device with the same Address, of
	// this user or another, is removed in the same transaction, so a token
	// or subscription moves with whoever registered it last and never
	// reaches two people. Returns the stored device and whether it was
	// created. Returns Invalid for an empty user or device id, Conflict
	// when the user already has domain.MaxDevicesPerUser other devices.
	PutDevice(ctx context.Context, d domain.Device) (domain.Device, bool, error)
	// ListDevices returns the user's devices ordered by id.
	ListDevices(ctx context.Context, userID string) ([]domain.Device, error)
	// DeleteDevice removes the user's device and returns it. Returns
	// NotFound.
	DeleteDevice(ctx context.Context, userID, deviceID string) (domain.Device, error)
	// DeleteDeadDevice removes d if it still has d's address (a device
	// registered again with a new token in between is kept): what a relay
	// does when the push service says the address is gone. Returns whether
	// it removed it.
	DeleteDeadDevice(ctx context.Context, d domain.Device) (bool, error)
	// PruneDevices removes up to limit devices last seen before before and
	// returns them (so their push endpoints can be released). DeleteUser
	// removes all of a user's devices.
	PruneDevices(ctx context.Context, before time.Time, limit int) ([]domain.Device, error)
}

// PushSettings stores users' push preferences and muted posts.
type PushSettings interface {
	// GetNotificationSettings returns the user's settings, the zero value
	// when none are stored.
	GetNotificationSettings(ctx context.Context, userID string) (domain.NotificationSettings, error)
	// UpdateNotificationSettings loads the user's settings in a
	// transaction, calls fn with them and stores what fn left; concurrent
	// updates are serialised. An error from fn aborts and is returned
	// unchanged. Returns Invalid for an empty user id.
	UpdateNotificationSettings(ctx context.Context, userID string, fn func(s *domain.NotificationSettings) error) (domain.NotificationSettings, error)
	// MutePost records that userID wants no pushes about postID (muting
	// again is not an error). Returns NotFound for an unknown post.
	// Deleting the post or the user removes the mute.
	MutePost(ctx context.Context, userID, postID string, at time.Time) error
	// UnmutePost removes the mute; an absent one is not an error.
	UnmutePost(ctx context.Context, userID, postID string) error
	// IsPostMuted reports whether userID muted postID.
	IsPostMuted(ctx context.Context, userID, postID string) (bool, error)
	// ListMutedPosts returns up to limit post ids the user muted, by id
	// ascending after after (empty: from the first), and whether more
	// follow.
	ListMutedPosts(ctx context.Context, userID, after string, limit int) ([]string, bool, error)
}

// OneTimeTokens keeps short-lived single-use tokens (stream tickets) in
// storage every instance shares, so a token made on one instance is
// redeemed on any other, once.
type OneTimeTokens interface {
	// PutOneTimeToken stores t. Returns Conflict for a hash already
	// stored, Invalid for an empty hash, purpose or user id.
	PutOneTimeToken(ctx context.Context, t domain.OneTimeToken) error
	// TakeOneTimeToken removes and returns the token with hash and purpose
	// if it has not expired at now. Of concurrent takers, one gets it.
	// Returns NotFound for an unknown, used, expired or other-purpose token.
	TakeOneTimeToken(ctx context.Context, hash, purpose string, now time.Time) (domain.OneTimeToken, error)
	// PruneOneTimeTokens removes tokens that expired before before and
	// returns how many.
	PruneOneTimeTokens(ctx context.Context, before time.Time) (int, error)
}

// SyncFeed reads the per-user change feed written by the other storage ports.
//
// Guarantee: once ChangesSince has returned a change with Seq s to a reader,
// no change with Seq <= s becomes visible later. A client that resumes from
// the highest Seq it saw therefore never misses a committed change, also
// with concurrent writers.
type SyncFeed interface {
	// ChangesSince returns up to limit changes of the user with Seq > after,
	// in Seq order, and whether more follow.
	ChangesSince(ctx context.Context, userID string, after int64, limit int) ([]domain.Change, bool, error)
	// Snapshot returns everything the user's feed covers, read consistently,
	// and the feed position it reflects. Returns NotFound if the user has no
	// profile.
	Snapshot(ctx context.Context, userID string) (domain.Snapshot, error)
	// FeedHorizon returns the lowest Seq a cursor may hold and still get
	// every change: changes with Seq <= horizon may have been pruned.
	FeedHorizon(ctx context.Context) (int64, error)
	// PruneFeed removes changes older than before and advances the horizon.
	PruneFeed(ctx context.Context, before time.Time) error
}
