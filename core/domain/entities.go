// Package domain holds cloudpost's entities, value objects, validation rules
// and its single error type. It imports only the standard library.
package domain

import "time"

// Principal is the authenticated caller of an operation.
type Principal struct {
	// UserID is the stable user id (Cognito `sub`).
	UserID string
	// Email is known when the token carried it (id tokens) or the identity was looked up.
	Email string
	// Groups are the caller's groups (Cognito `cognito:groups`).
	Groups []string
	// ClientID is the app client the token was issued to.
	ClientID string
	// TokenID is the token's `jti` (for logs and revocation), may be empty.
	TokenID string
	// ExpiresAt is the token expiry.
	ExpiresAt time.Time
	// AuthTime is when the user signed in to get the session the token
	// belongs to (`auth_time`, which refreshed tokens keep; `iat` when the
	// token has none): revocations compare it (ports.Revocations).
	AuthTime time.Time
}

// Profile is a user's public face. Its ID is the identity's user id.
type Profile struct {
	ID          string
	Email       string
	DisplayName string
	Bio         string
	// ImageID is the media id of the avatar, "" when none.
	ImageID   string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increases by one on every change (optimistic concurrency, ETag).
	Version int64
}

// MediaPurpose says what an uploaded media item is for.
type MediaPurpose string

// Media purposes.
const (
	PurposeAvatar MediaPurpose = "avatar"
	PurposePost   MediaPurpose = "post"
)

// MediaStatus is the processing state of a media item.
type MediaStatus string

// Media states. Processing is internal: clients see it as pending.
const (
	MediaPending    MediaStatus = "pending"
	MediaProcessing MediaStatus = "processing"
	MediaReady      MediaStatus = "ready"
	MediaFailed     MediaStatus = "failed"
)

// Variant names produced by the image pipeline.
const (
	VariantThumb  = "thumb"
	VariantSmall  = "small"
	VariantMedium = "medium"
	// VariantLarge is the full-size rendition (long edge capped, never
	// upscaled): what everyone but the owner gets instead of the upload.
	VariantLarge = "large"
)

// VariantNames lists every variant in the order they are made.
var VariantNames = []string{VariantThumb, VariantSmall, VariantMedium, VariantLarge}

// ReasonExpired is the FailureReason of an upload whose bytes never arrived
// before its upload URL (plus a grace period) expired.
const ReasonExpired = "expired"

// Media is an uploaded file (an image) owned by a user.
type Media struct {
	ID          string
	OwnerID     string
	Purpose     MediaPurpose
	ContentType string
	// Size is the declared size in bytes; the upload must match it exactly.
	Size   int64
	Status MediaStatus
	// FailureReason says why processing failed (client-safe).
	FailureReason string
	// Variants are the names of the variants that exist (see VariantNames).
	Variants []string
	// PostID is the post the item is attached to ("" when none).
	PostID string
	// ETag is the blob ETag of the upload the pipeline processed, and
	// Checksum the hex SHA-256 of its bytes ("" until processed): the bytes
	// served are the bytes verified, and a later mismatch fails the item.
	ETag     string
	Checksum string
	// ClaimedAt is when processing was last claimed (zero when never).
	ClaimedAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Post is a user's post with optional images.
type Post struct {
	ID       string
	AuthorID string
	Body     string
	// MediaIDs are the attached media, in display order.
	MediaIDs     []string
	CommentCount int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64
}

// Comment is a comment on a post.
type Comment struct {
	ID        string
	PostID    string
	AuthorID  string
	Body      string
	CreatedAt time.Time
}

// NotificationType says what a notification is about.
type NotificationType string

// Notification types.
const (
	NotificationComment NotificationType = "comment"
)

// Notification tells a user that someone acted on their content.
type Notification struct {
	ID string
	// UserID is the recipient.
	UserID    string
	Type      NotificationType
	ActorID   string
	PostID    string
	CommentID string
	CreatedAt time.Time
	// ReadAt is nil while unread.
	ReadAt *time.Time
}

// EntityType names the kinds of entity the sync feed carries.
type EntityType string

// Entity types of the sync feed.
const (
	EntityProfile      EntityType = "profile"
	EntityPost         EntityType = "post"
	EntityComment      EntityType = "comment"
	EntityNotification EntityType = "notification"
)

// Change is one entry of a user's change feed: entity (type, id) changed or was
// deleted at position Seq. Seq is strictly increasing per feed.
type Change struct {
	Seq     int64
	UserID  string
	Entity  EntityType
	ID      string
	Deleted bool
	At      time.Time
}

// Snapshot is everything the sync feed holds for one user, read consistently,
// with Seq the feed position it reflects: every change with a higher Seq
// happened after the snapshot.
type Snapshot struct {
	Profile       *Profile
	Posts         []Post
	Comments      []Comment
	Notifications []Notification
	Seq           int64
}

// UploadTarget is a presigned request that lets a client send bytes straight to
// blob storage without credentials.
type UploadTarget struct {
	// Method is PUT (send Headers) or POST (multipart form with Fields then the file).
	Method    string
	URL       string
	Headers   map[string]string
	Fields    map[string]string
	ExpiresAt time.Time
}

// ObjectInfo describes a stored blob.
type ObjectInfo struct {
	Key         string
	Size        int64
	ContentType string
	ETag        string
}

// Variant is one encoded output of the image pipeline.
type Variant struct {
	Name        string
	ContentType string
	Width       int
	Height      int
	Data        []byte
}

// Tokens is what a successful sign-in or refresh returns.
type Tokens struct {
	AccessToken string
	IDToken     string
	// RefreshToken is empty on refresh unless the provider rotated it.
	RefreshToken string
	ExpiresIn    time.Duration
}

// SignUpResult is what a sign-up returns.
type SignUpResult struct {
	UserID               string
	ConfirmationRequired bool
}

// Identity is an account of the identity provider.
type Identity struct {
	UserID      string
	Email       string
	DisplayName string
	Confirmed   bool
}
