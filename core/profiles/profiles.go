// Package profiles runs the profile use cases: reading and editing the
// caller's profile, public profiles, and deleting an account with all its
// data.
package profiles

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/core/media"
	"github.com/cloudpost/cloudpost/ports"
)

// Service implements the profile use cases.
type Service struct {
	store    ports.Storage
	identity ports.Identity
	media    *media.Service
	clock    ports.Clock
	log      *slog.Logger
}

// New returns a profile service. log may be nil (slog.Default).
func New(store ports.Storage, identity ports.Identity, mediaSvc *media.Service, clock ports.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, identity: identity, media: mediaSvc, clock: clock, log: log}
}

// Ensure returns the caller's profile, creating it from the identity when
// the identity exists but the row does not (a missed sign-up trigger, or a
// social login). Returns Unauthenticated when the identity is gone.
func (s *Service) Ensure(ctx context.Context, p domain.Principal) (domain.Profile, error) {
	prof, err := s.store.GetProfile(ctx, p.UserID)
	if !domain.IsCode(err, domain.NotFound) {
		return prof, err
	}
	id, err := s.identity.GetIdentity(ctx, p.UserID)
	if domain.IsCode(err, domain.NotFound) {
		return domain.Profile{}, domain.Errorf(domain.Unauthenticated, "the account no longer exists")
	}
	if err != nil {
		return domain.Profile{}, err
	}
	return s.CreateFromIdentity(ctx, id)
}

// CreateFromIdentity creates the profile of a confirmed identity; it is
// idempotent (an existing profile is returned), so sign-up triggers may be
// delivered twice.
func (s *Service) CreateFromIdentity(ctx context.Context, id domain.Identity) (domain.Profile, error) {
	now := s.clock.Now()
	name := domain.NormalizeDisplayName(id.DisplayName)
	if domain.ValidateText("displayName", name, 1, domain.MaxDisplayName, false) != nil {
		name, _, _ = strings.Cut(id.Email, "@")
		if r := []rune(name); len(r) > domain.MaxDisplayName {
			name = string(r[:domain.MaxDisplayName])
		}
		if name == "" {
			name = "user"
		}
	}
	prof, err := s.store.CreateProfile(ctx, domain.Profile{
		ID: id.UserID, Email: id.Email, DisplayName: name, CreatedAt: now, UpdatedAt: now,
	})
	if domain.IsCode(err, domain.Conflict) {
		return s.store.GetProfile(ctx, id.UserID)
	}
	return prof, err
}

// Get returns anyone's profile. Returns NotFound.
func (s *Service) Get(ctx context.Context, id string) (domain.Profile, error) {
	return s.store.GetProfile(ctx, id)
}

// Update is a partial profile change; nil fields stay as they are.
type Update struct {
	DisplayName *string
	Bio         *string
	// ImageID sets the avatar; a pointer to "" removes it.
	ImageID *string
	// IfMatch, when not nil, is the version the client last saw.
	IfMatch *int64
}

// Update changes the caller's profile. Returns Invalid for bad fields or an
// unusable image, NotFound/Forbidden for an unknown or foreign image,
// PreconditionFailed when IfMatch is stale. The previous avatar's media is
// deleted when it is replaced.
func (s *Service) Update(ctx context.Context, p domain.Principal, u Update) (domain.Profile, error) {
	if u.DisplayName != nil {
		name := domain.NormalizeDisplayName(*u.DisplayName)
		u.DisplayName = &name
		if err := domain.ValidateText("displayName", *u.DisplayName, 1, domain.MaxDisplayName, false); err != nil {
			return domain.Profile{}, err
		}
	}
	if u.Bio != nil {
		if err := domain.ValidateText("bio", *u.Bio, 0, domain.MaxBio, true); err != nil {
			return domain.Profile{}, err
		}
	}
	if u.ImageID != nil && *u.ImageID != "" {
		if err := s.media.CheckAttachable(ctx, p, []string{*u.ImageID}, domain.PurposeAvatar); err != nil {
			return domain.Profile{}, err
		}
	}
	if _, err := s.Ensure(ctx, p); err != nil {
		return domain.Profile{}, err
	}
	var oldImage string
	prof, err := s.store.UpdateProfile(ctx, p.UserID, func(prof *domain.Profile) error {
		if u.IfMatch != nil && *u.IfMatch != prof.Version {
			return domain.Errorf(domain.PreconditionFailed, "profile was changed (version %d, not %d)", prof.Version, *u.IfMatch)
		}
		oldImage = prof.ImageID
		if u.DisplayName != nil {
			prof.DisplayName = strings.TrimSpace(*u.DisplayName)
		}
		if u.Bio != nil {
			prof.Bio = *u.Bio
		}
		if u.ImageID != nil {
			prof.ImageID = *u.ImageID
		}
		prof.UpdatedAt = s.clock.Now()
		return nil
	})
	if err != nil {
		return domain.Profile{}, err
	}
	if oldImage != "" && oldImage != prof.ImageID {
		if m, err := s.store.DeleteMedia(ctx, oldImage, nil); err == nil {
			s.media.DeleteObjects(ctx, []domain.Media{m})
		} else if !domain.IsCode(err, domain.NotFound) {
			s.log.WarnContext(ctx, "old avatar not deleted", "mediaId", oldImage, "err", err)
		}
	}
	return prof, nil
}

// Delete removes the caller's account: profile, posts, comments,
// notifications, media rows and objects, then the identity. It is
// idempotent, so a failed attempt can be retried.
func (s *Service) Delete(ctx context.Context, p domain.Principal) error {
	removed, err := s.store.DeleteUser(ctx, p.UserID)
	if err != nil {
		return err
	}
	s.media.DeleteObjects(ctx, removed)
	return s.identity.DeleteIdentity(ctx, p.UserID)
}
