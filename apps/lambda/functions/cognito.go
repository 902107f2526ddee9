package functions

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/core/accounts"
	"github.com/cloudpost/cloudpost/core/domain"
)

// CognitoHandler serves the user pool's post-confirmation trigger (the
// `cognito` handler): it creates the confirmed user's profile.
type CognitoHandler struct {
	accounts *accounts.Service
	log      *slog.Logger
}

// NewCognitoHandler returns the Cognito trigger handler.
func NewCognitoHandler(a *accounts.Service, log *slog.Logger) *CognitoHandler {
	return &CognitoHandler{accounts: a, log: log}
}

// Handle creates the profile of the user a PostConfirmation_* event names
// (request.userAttributes.sub); creating it again is a no-op. Other
// trigger sources are left alone. It returns the profile error for the
// caller to log; Invoke never fails the trigger because of it.
func (h *CognitoHandler) Handle(ctx context.Context, ev *events.CognitoEventUserPoolsPostConfirmation) error {
	if !strings.HasPrefix(ev.TriggerSource, "PostConfirmation_") {
		h.log.InfoContext(ctx, "cognito trigger ignored", "triggerSource", ev.TriggerSource)
		return nil
	}
	userID := ev.Request.UserAttributes["sub"]
	if userID == "" {
		return domain.Errorf(domain.Invalid, "the post-confirmation event names no user (userAttributes.sub)")
	}
	p, err := h.accounts.CreateProfile(ctx, userID)
	if err != nil {
		return err
	}
	h.log.InfoContext(ctx, "profile ready after confirmation", "userId", p.ID, "triggerSource", ev.TriggerSource)
	return nil
}

// Invoke implements lambda.Handler and returns the event unchanged, as
// Cognito requires. A profile that could not be created is logged, not
// returned: Cognito has confirmed the user already and would only show the
// client an error for a confirmation that worked, and the API creates a
// missing profile on the user's first GET /v1/me (profiles.Ensure).
func (h *CognitoHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.CognitoEventUserPoolsPostConfirmation
	if err := json.Unmarshal(payload, &ev); err != nil {
		h.log.ErrorContext(ctx, "cognito trigger: unreadable event", "err", err)
		return payload, nil
	}
	if err := h.Handle(ctx, &ev); err != nil {
		h.log.ErrorContext(ctx, "cognito trigger: profile not created", "userName", ev.UserName,
			"triggerSource", ev.TriggerSource, "code", domain.ErrorCode(err), "err", err)
	}
	return payload, nil
}
