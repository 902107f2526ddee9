package functions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudpost/cloudpost/adapters/sqsnotify"
	"github.com/cloudpost/cloudpost/core/delivery"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// PushHandler is the `push` handler: it consumes the push queue, on which
// the API announces each committed notification (adapters/sqsnotify), and
// delivers what is due. The message is only a hint that delivery work is
// waiting: the handler runs the relay once (it claims every due
// notification, the announced ones among them), then settles each message
// by the stored state of its notification, which is the truth.
type PushHandler struct {
	relay *delivery.Relay
	store ports.Storage
	clock ports.Clock
	later Scheduler
	log   *slog.Logger
}

// Scheduler announces a notification again after a delay (the push
// queue's per-message delay, adapters/sqsnotify).
type Scheduler interface {
	DispatchAfter(ctx context.Context, n domain.Notification, delay time.Duration) error
}

// maxSchedule is the longest delay the queue takes; later attempts wait
// for the janitor's sweep.
const maxSchedule = sqsnotify.MaxDelay

// pushReserve is the part of the invocation's time kept, after the relay
// run, for reading the messages' delivery states.
const pushReserve = 3 * time.Second

// NewPushHandler returns the push handler. When the app's notifier can
// delay a message (the SQS notifier), a notification the run left pending
// for later (a retry, a coalescing window) is announced again for when it
// is due, up to 15 minutes ahead.
func NewPushHandler(r *delivery.Relay, store ports.Storage, clock ports.Clock, notifier ports.Notifier, log *slog.Logger) *PushHandler {
	h := &PushHandler{relay: r, store: store, clock: clock, log: log}
	if s, ok := notifier.(Scheduler); ok {
		h.later = s
	}
	return h
}

// Handle runs the relay once, then reports as a batch item failure every
// message whose notification is still pending and due (the run could not
// settle it, e.g. it ran out of batches, or a retry it scheduled came due
// while it ran): SQS delivers that message again after its visibility
// timeout, and after the queue's maxReceiveCount moves it to the
// dead-letter queue (the row stays pending; the janitor's sweep still
// delivers it). A message whose notification is sent, skipped or failed,
// or pending with a later next attempt (announced again with a delay when
// that is at most 15 minutes away; otherwise, or without a Scheduler, the
// janitor's sweep runs it then), or gone
// (the notification was deleted), succeeds. A body that is not a push
// queue message succeeds with a warning: no retry can fix it. When the run
// fails on storage, every message fails; when the state of one cannot be
// read, that message fails. The run stops a few seconds before the
// invocation's deadline, so that the states are still read.
func (h *PushHandler) Handle(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	fail := func(rec events.SQSMessage) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
	}
	type announced struct {
		rec events.SQSMessage
		msg sqsnotify.Message
	}
	var work []announced
	for _, rec := range ev.Records {
		m, err := sqsnotify.ParseMessage(rec.Body)
		if err != nil {
			h.log.WarnContext(ctx, "push message dropped: not a push queue message", "messageId", rec.MessageId, "eventSource", rec.EventSource, "err", err)
			continue
		}
		work = append(work, announced{rec, m})
	}
	if len(work) == 0 {
		return resp
	}
	rctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(ctx, dl.Add(-pushReserve))
		defer cancel()
	}
	st, err := h.relay.RunOnce(rctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		// Out of time for this run: what it could not settle is still
		// due, and its messages fail below.
		h.log.WarnContext(ctx, "push relay ran out of time", "claimed", st.Claimed, "sent", st.Sent)
		err = nil
	}
	if err != nil {
		h.log.ErrorContext(ctx, "push relay failed; the messages will be retried", "messages", len(work), "err", err)
		for _, w := range work {
			fail(w.rec)
		}
		return resp
	}
	h.log.InfoContext(ctx, "push relay", "messages", len(work), "claimed", st.Claimed, "sent", st.Sent, "skipped", st.Skipped,
		"deferred", st.Deferred, "retried", st.Retried, "failed", st.Failed, "pushes", st.Pushes, "devicesGone", st.DevicesGone)
	now := h.clock.Now()
	for _, w := range work {
		state, attempts, next, err := h.store.DeliveryState(ctx, w.msg.UserID, w.msg.NotificationID)
		switch {
		case domain.IsCode(err, domain.NotFound):
			h.log.InfoContext(ctx, "push message settled: the notification is gone", "messageId", w.rec.MessageId, "notificationId", w.msg.NotificationID)
		case err != nil:
			h.log.WarnContext(ctx, "push message retried: delivery state unreadable", "messageId", w.rec.MessageId, "notificationId", w.msg.NotificationID, "err", err)
			fail(w.rec)
		case state == domain.DeliveryPending && !next.After(now):
			h.log.WarnContext(ctx, "push message retried: the notification is still due", "messageId", w.rec.MessageId, "notificationId", w.msg.NotificationID, "attempts", attempts)
			fail(w.rec)
		case state == domain.DeliveryPending && h.later != nil && next.Sub(now) <= maxSchedule:
			// Due later (retry backoff, coalescing window, short quiet
			// hours): a delayed message runs it then. If the queue refuses,
			// this message comes back after its visibility timeout instead.
			n := domain.Notification{ID: w.msg.NotificationID, UserID: w.msg.UserID}
			if err := h.later.DispatchAfter(ctx, n, next.Sub(now)); err != nil {
				h.log.WarnContext(ctx, "push message retried: the next attempt could not be scheduled", "messageId", w.rec.MessageId, "notificationId", w.msg.NotificationID, "err", err)
				fail(w.rec)
				continue
			}
			h.log.DebugContext(ctx, "push message rescheduled", "messageId", w.rec.MessageId, "notificationId", w.msg.NotificationID, "nextAttemptAt", next)
		default:
			h.log.DebugContext(ctx, "push message settled", "messageId", w.rec.MessageId, "notificationId", w.msg.NotificationID, "state", string(state), "attempts", attempts, "nextAttemptAt", next)
		}
	}
	return resp
}

// Invoke implements lambda.Handler. A payload that is not an SQS event is
// logged and answered with no failures (retrying it cannot help).
func (h *PushHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		h.log.ErrorContext(ctx, "push event dropped: not an SQS event", "err", err)
		ev = events.SQSEvent{}
	}
	return json.Marshal(h.Handle(ctx, ev))
}
