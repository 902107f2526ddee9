package snspush_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestContract runs the push port's contract suite against moto for FCM
// devices and for APNs devices of a production and of a sandbox
// application. Received reads what moto recorded for the endpoint
// (/moto-api/data.json) and decodes it as the device's platform would;
// the APNs collapse id comes from the message attribute the recorder saw,
// since moto keeps no attributes. Kill disables the endpoint as SNS does
// when FCM or APNs reports the token unregistered; Register revives it.
func TestContract(t *testing.T) {
	requireMoto(t)
	t.Run("FCM", func(t *testing.T) { porttest.RunPush(t, harness(domain.PlatformFCM, false)) })
	t.Run("APNs", func(t *testing.T) { porttest.RunPush(t, harness(domain.PlatformAPNs, false)) })
	t.Run("APNsSandbox", func(t *testing.T) { porttest.RunPush(t, harness(domain.PlatformAPNs, true)) })
}

// harness returns the contract suite's harness for devices of platform pl.
func harness(pl domain.Platform, sandbox bool) func(t *testing.T) porttest.PushHarness {
	return func(t *testing.T) porttest.PushHarness {
		p := newPusher(t, testConfig(t, sandbox), nil)
		return porttest.PushHarness{
			Push:      p,
			NewDevice: func(*testing.T) domain.Device { return newDevice(pl) },
			Received: func(t *testing.T, d domain.Device) []porttest.ReceivedPush {
				var out []porttest.ReceivedPush
				for _, dl := range deliveredTo(t, d) {
					out = append(out, porttest.ReceivedPush(dl.push))
				}
				return out
			},
			Kill:             kill,
			ReviveOnRegister: true,
		}
	}
}
