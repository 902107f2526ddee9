package mempush_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/memory/mempush"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

var seq atomic.Int64

func TestContract(t *testing.T) {
	porttest.RunPush(t, func(t *testing.T) porttest.PushHarness {
		p := mempush.New(nil)
		return porttest.PushHarness{
			Push: p,
			NewDevice: func(t *testing.T) domain.Device {
				n := seq.Add(1)
				return domain.Device{ID: fmt.Sprint("d", n), UserID: "u", Platform: domain.PlatformFCM, Token: fmt.Sprint("token-", n)}
			},
			Received: func(t *testing.T, d domain.Device) []porttest.ReceivedPush {
				var out []porttest.ReceivedPush
				for _, m := range p.Sent(d) {
					out = append(out, porttest.ReceivedPush{
						CollapseID: m.CollapseID, Title: m.Title, Body: m.Body, Unread: m.Unread,
						NotificationIDs: m.NotificationIDs, PostID: m.PostID, Type: string(m.Type),
					})
				}
				return out
			},
			Kill:             func(t *testing.T, d domain.Device) { p.Kill(d) },
			ReviveOnRegister: true,
		}
	})
}
