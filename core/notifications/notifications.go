// Package notifications runs the notification use cases: listing the
// caller's notifications and marking them read.
package notifications

import (
	"context"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/pagecursor"
	"github.com/cloudpost/cloudpost/ports"
)

// MaxMarkIDs is how many ids one MarkRead call accepts.
const MaxMarkIDs = 100

// Service implements the notification use cases.
type Service struct {
	store ports.Notifications
	clock ports.Clock
}

// New returns a notification service.
func New(store ports.Notifications, clock ports.Clock) *Service {
	return &Service{store: store, clock: clock}
}

// Page is one page of notifications and the cursor of the next ("" at the end).
type Page struct {
	Items      []domain.Notification
	NextCursor string
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
	page := Page{Items: items}
	if more && len(items) > 0 {
		page.NextCursor = pagecursor.Encode(items[len(items)-1].ID, scope)
	}
	return page, nil
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
	return s.store.MarkNotificationsRead(ctx, p.UserID, ids, all, s.clock.Now())
}
