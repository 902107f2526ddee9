package httpapi

import (
	"context"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/feed"
	"github.com/cloudpost/cloudpost/core/media"
)

// The DTOs below are the JSON shapes of the API (see openapi.yaml). They are
// separate from the domain types and mapped explicitly, so a domain change
// never silently changes the wire format.

// timeLayout is RFC 3339 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// --- requests ---

type signUpRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"displayName"`
}

type confirmRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

type emailRequest struct {
	Email string `json:"email"`
}

type resetRequest struct {
	Email    string `json:"email"`
	Code     string `json:"code"`
	Password string `json:"password"`
}

type signOutRequest struct {
	RefreshToken string `json:"refreshToken"`
}

type patchMeRequest struct {
	DisplayName optional[string] `json:"displayName"`
	Bio         optional[string] `json:"bio"`
	// ImageID null or "" removes the avatar.
	ImageID optional[string] `json:"imageId"`
}

type uploadRequest struct {
	Purpose     string `json:"purpose"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

type createPostRequest struct {
	Body     string   `json:"body"`
	MediaIDs []string `json:"mediaIds"`
}

type patchPostRequest struct {
	Body     optional[string]   `json:"body"`
	MediaIDs optional[[]string] `json:"mediaIds"`
}

type createCommentRequest struct {
	Body string `json:"body"`
}

type markReadRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

// --- responses ---

type signUpResponse struct {
	UserID               string `json:"userId"`
	ConfirmationRequired bool   `json:"confirmationRequired"`
}

type tokensResponse struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int64  `json:"expiresIn"`
	TokenType string `json:"tokenType"`
}

func toTokens(t domain.Tokens, withRefresh bool) tokensResponse {
	r := tokensResponse{
		AccessToken: t.AccessToken, IDToken: t.IDToken,
		ExpiresIn: int64(t.ExpiresIn / time.Second), TokenType: "Bearer",
	}
	if withRefresh {
		r.RefreshToken = t.RefreshToken
	}
	return r
}

// mediaDTO is a media item as profiles, posts and GET /v1/media/{id} show it.
type mediaDTO struct {
	ID          string `json:"id"`
	Purpose     string `json:"purpose"`
	Status      string `json:"status"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	// FailureReason says why processing failed (status "failed" only).
	FailureReason string `json:"failureReason,omitempty"`
	// URLs maps "original" and each existing variant to a short-lived URL.
	URLs map[string]string `json:"urls"`
}

func toMedia(v media.View) mediaDTO {
	status := v.Status
	if status == domain.MediaProcessing {
		status = domain.MediaPending // processing is internal
	}
	urls := v.URLs
	if urls == nil {
		urls = map[string]string{}
	}
	d := mediaDTO{
		ID: v.ID, Purpose: string(v.Purpose), Status: string(status),
		ContentType: v.ContentType, Size: v.Size, URLs: urls,
	}
	if status == domain.MediaFailed {
		d.FailureReason = v.FailureReason
	}
	return d
}

type profileDTO struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"displayName"`
	Bio         string    `json:"bio"`
	Image       *mediaDTO `json:"image"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
	Version     int64     `json:"version"`
}

// publicProfileDTO is someone's profile as other users see it: no email.
type publicProfileDTO struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Bio         string    `json:"bio"`
	Image       *mediaDTO `json:"image"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
	Version     int64     `json:"version"`
}

type postDTO struct {
	ID           string     `json:"id"`
	AuthorID     string     `json:"authorId"`
	Body         string     `json:"body"`
	Media        []mediaDTO `json:"media"`
	CommentCount int64      `json:"commentCount"`
	CreatedAt    string     `json:"createdAt"`
	UpdatedAt    string     `json:"updatedAt"`
	Version      int64      `json:"version"`
}

type commentDTO struct {
	ID        string `json:"id"`
	PostID    string `json:"postId"`
	AuthorID  string `json:"authorId"`
	Body      string `json:"body"`
	CreatedAt string `json:"createdAt"`
}

type notificationDTO struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	ActorID   string  `json:"actorId"`
	PostID    string  `json:"postId"`
	CommentID string  `json:"commentId"`
	CreatedAt string  `json:"createdAt"`
	ReadAt    *string `json:"readAt"`
}

type uploadTargetDTO struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Fields  map[string]string `json:"fields"`
}

type uploadResponse struct {
	MediaID   string          `json:"mediaId"`
	Upload    uploadTargetDTO `json:"upload"`
	ExpiresAt string          `json:"expiresAt"`
}

// page is a list answer; NextCursor is null on the last page.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func newPage[T any](items []T, next string) page[T] {
	if items == nil {
		items = []T{}
	}
	p := page[T]{Items: items}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

type tombstoneDTO struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type syncResponse struct {
	Full          bool              `json:"full"`
	Profile       *profileDTO       `json:"profile"`
	Posts         []postDTO         `json:"posts"`
	Comments      []commentDTO      `json:"comments"`
	Notifications []notificationDTO `json:"notifications"`
	Deleted       []tombstoneDTO    `json:"deleted"`
	Cursor        string            `json:"cursor"`
	// HasMore says more changes are waiting: sync again at once.
	HasMore bool `json:"hasMore"`
}

type devMailResponse struct {
	Messages []devMessageDTO `json:"messages"`
}

type devMessageDTO struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Code    string `json:"code"`
	SentAt  string `json:"sentAt"`
}

type statusResponse struct {
	Status string `json:"status"`
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// --- mapping ---

// mediaResolver collects the media ids a response embeds and resolves them
// all with one media.Service.Views call, as the viewer may see them (only
// an owner gets the URL of their raw upload).
type mediaResolver struct {
	viewer domain.Principal
	ids    []string
	views  map[string]media.View
}

func (r *mediaResolver) add(ids ...string) {
	for _, id := range ids {
		if id != "" {
			r.ids = append(r.ids, id)
		}
	}
}

func (r *mediaResolver) resolve(ctx context.Context, svc *media.Service) error {
	if len(r.ids) == 0 {
		r.views = map[string]media.View{}
		return nil
	}
	v, err := svc.Views(ctx, r.viewer, r.ids)
	if err != nil {
		return err
	}
	r.views = v
	return nil
}

// one returns the media object of id, nil when there is none (no id, or the
// item is gone).
func (r *mediaResolver) one(id string) *mediaDTO {
	v, ok := r.views[id]
	if !ok {
		return nil
	}
	d := toMedia(v)
	return &d
}

// list returns the media objects of ids in order, leaving out missing ones.
func (r *mediaResolver) list(ids []string) []mediaDTO {
	out := make([]mediaDTO, 0, len(ids))
	for _, id := range ids {
		if v, ok := r.views[id]; ok {
			out = append(out, toMedia(v))
		}
	}
	return out
}

func (r *mediaResolver) profile(p domain.Profile) profileDTO {
	return profileDTO{
		ID: p.ID, Email: p.Email, DisplayName: p.DisplayName, Bio: p.Bio, Image: r.one(p.ImageID),
		CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt), Version: p.Version,
	}
}

func (r *mediaResolver) publicProfile(p domain.Profile) publicProfileDTO {
	return publicProfileDTO{
		ID: p.ID, DisplayName: p.DisplayName, Bio: p.Bio, Image: r.one(p.ImageID),
		CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt), Version: p.Version,
	}
}

func (r *mediaResolver) post(p domain.Post) postDTO {
	return postDTO{
		ID: p.ID, AuthorID: p.AuthorID, Body: p.Body, Media: r.list(p.MediaIDs),
		CommentCount: p.CommentCount, CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt),
		Version: p.Version,
	}
}

func (r *mediaResolver) posts(items []domain.Post) []postDTO {
	out := make([]postDTO, 0, len(items))
	for _, p := range items {
		out = append(out, r.post(p))
	}
	return out
}

func toComment(c domain.Comment) commentDTO {
	return commentDTO{ID: c.ID, PostID: c.PostID, AuthorID: c.AuthorID, Body: c.Body, CreatedAt: formatTime(c.CreatedAt)}
}

func toComments(items []domain.Comment) []commentDTO {
	out := make([]commentDTO, 0, len(items))
	for _, c := range items {
		out = append(out, toComment(c))
	}
	return out
}

func toNotification(n domain.Notification) notificationDTO {
	return notificationDTO{
		ID: n.ID, Type: string(n.Type), ActorID: n.ActorID, PostID: n.PostID, CommentID: n.CommentID,
		CreatedAt: formatTime(n.CreatedAt), ReadAt: formatTimePtr(n.ReadAt),
	}
}

func toNotifications(items []domain.Notification) []notificationDTO {
	out := make([]notificationDTO, 0, len(items))
	for _, n := range items {
		out = append(out, toNotification(n))
	}
	return out
}

func toTombstones(items []feed.Tombstone) []tombstoneDTO {
	out := make([]tombstoneDTO, 0, len(items))
	for _, t := range items {
		out = append(out, tombstoneDTO{Type: string(t.Type), ID: t.ID})
	}
	return out
}

func toUpload(u media.Upload) uploadResponse {
	headers := u.Target.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	fields := u.Target.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	return uploadResponse{
		MediaID:   u.Media.ID,
		Upload:    uploadTargetDTO{Method: u.Target.Method, URL: u.Target.URL, Headers: headers, Fields: fields},
		ExpiresAt: formatTime(u.Target.ExpiresAt),
	}
}
