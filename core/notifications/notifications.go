// Package notifications runs the notification use cases: the caller's
// inbox (list, unread count, mark read), push preferences (types, quiet
// hours, muted posts) and the single-use tickets that open the live
// stream for clients that cannot send headers (EventSource).
package notifications

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/pagecursor"
	"github.com/cloudpost/cloudpost/ports"
)

// MaxMarkIDs is how many ids one MarkRead call accepts.
const MaxMarkIDs = 100

// Service implements the notification use cases.
type Service struct {
	store  ports.Storage
	clock  ports.Clock
	onRead func(userID string)
}

// New returns a notification service.
func New(store ports.Storage, clock ports.Clock) *Service {
	return &Service{store: store, clock: clock}
}

// Page is one page of notifications, the cursor of the next ("" at the
// end) and the caller's unread count.
type Page struct {
	Items      []domain.Notification
	NextCursor string
	Unread     int
}

// List returns the caller's notifications newest first. Returns Invalid for
// a bad limit or cursor.
func (s *Service) List(ctx context.Context, p domain.Principal, limit int, cursor string) (Page, error) {
	limit, err := domain.ClampLimit(limit)
	if err != nil {
		return Page{}, err
	}
	scope := "notifications:" + p.UserID
	before, err := pagecursor.Decode(cursor, scope)
	if err != nil {
		return Page{}, err
	}
	items, more, err := s.store.ListNotifications(ctx, p.UserID, before, limit)
	if err != nil {
		return Page{}, err
	}
	unread, err := s.Unread(ctx, p)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items, Unread: unread}
	if more && len(items) > 0 {
		page.NextCursor = pagecursor.Encode(items[len(items)-1].ID, scope)
	}
	return page, nil
}

// After returns up to limit of the user's notifications newer than the
// notification id after, oldest first, and whether more follow: what a
// resuming stream replays. Returns Invalid for a bad id or limit.
func (s *Service) After(ctx context.Context, userID, after string, limit int) ([]domain.Notification, bool, error) {
	return s.store.NotificationsAfter(ctx, userID, after, limit)
}

// Unread returns the caller's unread count.
func (s *Service) Unread(ctx context.Context, p domain.Principal) (int, error) {
	counts, err := s.store.CountUnread(ctx, []string{p.UserID})
	return counts[p.UserID], err
}

// MarkRead marks the caller's notifications among ids as read, or all of
// them. Returns Invalid when neither ids nor all is given, or for more than
// MaxMarkIDs ids.
func (s *Service) MarkRead(ctx context.Context, p domain.Principal, ids []string, all bool) error {
	if !all && len(ids) == 0 {
		return domain.Errorf(domain.Invalid, "give ids or all: true")
	}
	if len(ids) > MaxMarkIDs {
		return domain.Errorf(domain.Invalid, "at most %d ids per call", MaxMarkIDs)
	}
	if err := s.store.MarkNotificationsRead(ctx, p.UserID, ids, all, s.clock.Now()); err != nil {
		return err
	}
	if s.onRead != nil {
		s.onRead(p.UserID)
	}
	return nil
}

// OnRead sets a function called with the user id after the user marked
// notifications read (the live stream sends the new unread count). Call
// it before serving.
func (s *Service) OnRead(fn func(userID string)) { s.onRead = fn }

// Settings returns the caller's push preferences.
func (s *Service) Settings(ctx context.Context, p domain.Principal) (domain.NotificationSettings, error) {
	return s.store.GetNotificationSettings(ctx, p.UserID)
}

// SettingsPatch changes some preferences; nil fields stay as they are.
type SettingsPatch struct {
	// Push turns pushes of a type on or off.
	Push map[domain.NotificationType]bool
	// Quiet sets the quiet hours; ClearQuiet removes them.
	Quiet      *domain.QuietHours
	ClearQuiet bool
}

// knownTypes are the notification types a setting may name.
var knownTypes = []domain.NotificationType{domain.NotificationComment}

// UpdateSettings applies patch to the caller's preferences and returns
// them. Returns Invalid for an unknown type or bad quiet hours.
func (s *Service) UpdateSettings(ctx context.Context, p domain.Principal, patch SettingsPatch) (domain.NotificationSettings, error) {
	for t := range patch.Push {
		if !slices.Contains(knownTypes, t) {
			return domain.NotificationSettings{}, domain.Errorf(domain.Invalid, "push.%s: unknown notification type (known: comment)", t)
		}
	}
	if patch.Quiet != nil {
		if err := domain.ValidateQuietHours(*patch.Quiet); err != nil {
			return domain.NotificationSettings{}, err
		}
	}
	return s.store.UpdateNotificationSettings(ctx, p.UserID, func(st *domain.NotificationSettings) error {
		for _, t := range knownTypes {
			on, ok := patch.Push[t]
			if !ok {
				continue
			}
			off := st.PushOff[:0:0]
			for _, x := range st.PushOff {
				if x != t {
					off = append(off, x)
				}
			}
			if !on {
				off = append(off, t)
			}
			st.PushOff = off
		}
		switch {
		case patch.ClearQuiet:
			st.Quiet = nil
		case patch.Quiet != nil:
			q := *patch.Quiet
			st.Quiet = &q
		}
		return nil
	})
}

// Mute stops pushes about a post to the caller (the inbox and the stream
// still show them). Returns NotFound for an unknown post.
func (s *Service) Mute(ctx context.Context, p domain.Principal, postID string) error {
	return s.store.MutePost(ctx, p.UserID, postID, s.clock.Now())
}

// Unmute undoes Mute; unmuting a post that is not muted is not an error.
func (s *Service) Unmute(ctx context.Context, p domain.Principal, postID string) error {
	return s.store.UnmutePost(ctx, p.UserID, postID)
}

// MutedPosts returns up to limit ids of the posts the caller muted.
func (s *Service) MutedPosts(ctx context.Context, p domain.Principal, limit int) ([]string, error) {
	ids, _, err := s.store.ListMutedPosts(ctx, p.UserID, "", limit)
	return ids, err
}

// Stream tickets.
const (
	// TicketTTL is how long a stream ticket can be redeemed.
	TicketTTL     = 30 * time.Second
	ticketPurpose = "stream"
	ticketPrefix  = "st_"
)

// StreamTicket makes a single-use ticket that opens the caller's live
// stream once within TicketTTL: what an EventSource, which cannot send
// an Authorization header, puts in its URL instead of a token. Only a
// hash is stored. Returns the ticket and when it expires.
func (s *Service) StreamTicket(ctx context.Context, p domain.Principal) (string, time.Time, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", time.Time{}, domain.Wrap(err, domain.Internal, "internal error")
	}
	ticket := ticketPrefix + base64.RawURLEncoding.EncodeToString(secret)
	exp := s.clock.Now().Add(TicketTTL)
	err := s.store.PutOneTimeToken(ctx, domain.OneTimeToken{Hash: ticketHash(ticket), Purpose: ticketPurpose, UserID: p.UserID, AuthTime: p.AuthTime, ExpiresAt: exp})
	if err != nil {
		return "", time.Time{}, err
	}
	return ticket, exp, nil
}

// RedeemStreamTicket uses up ticket and returns the principal it was made
// for (user id and session start, so revocation still applies; no token
// expiry: the stream's own maximum age bounds it). Returns Unauthenticated for an unknown, used or
// expired ticket.
func (s *Service) RedeemStreamTicket(ctx context.Context, ticket string) (domain.Principal, error) {
	if !strings.HasPrefix(ticket, ticketPrefix) || len(ticket) > 100 {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, "the stream ticket is not valid: get a new one from POST /v1/notifications/stream-ticket")
	}
	t, err := s.store.TakeOneTimeToken(ctx, ticketHash(ticket), ticketPurpose, s.clock.Now())
	if domain.IsCode(err, domain.NotFound) {
		return domain.Principal{}, domain.Errorf(domain.Unauthenticated, "the stream ticket is unknown, used or expired: get a new one from POST /v1/notifications/stream-ticket")
	}
	if err != nil {
		return domain.Principal{}, err
	}
	return domain.Principal{UserID: t.UserID, AuthTime: t.AuthTime}, nil
}

func ticketHash(ticket string) string {
	h := sha256.Sum256([]byte(ticket))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
