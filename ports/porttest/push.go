package porttest

import (
	"testing"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// PushHarness is one adapter of ports.Push with a push service the test
// controls (moto for SNS, an in-test Web Push service, the recorder).
type PushHarness struct {
	// Push is the adapter under test.
	Push ports.Push
	// NewDevice returns a fresh device (UserID, ID, Platform and Token or
	// Subscription set; not registered yet) the service accepts.
	NewDevice func(t *testing.T) domain.Device
	// Received returns what the service delivered to the device so far,
	// oldest first, decoded from the wire.
	Received func(t *testing.T, d domain.Device) []ReceivedPush
	// Kill makes the service treat the registered device as gone for good
	// (SNS: the endpoint's Enabled=false; Web Push: 410 Gone).
	Kill func(t *testing.T, d domain.Device)
	// ReviveOnRegister says that registering a killed device again makes
	// it receive again (SNS re-enables its endpoint; a dead Web Push
	// subscription stays dead: the browser makes a new one).
	ReviveOnRegister bool
}

// ReceivedPush is one push as the device's push service received it.
type ReceivedPush struct {
	// CollapseID is what the service collapses on (FCM collapse_key, APNs
	// apns-collapse-id, Web Push Topic).
	CollapseID      string
	Title           string
	Body            string
	Unread          int
	NotificationIDs []string
	PostID          string
	Type            string
}

// RunPush runs the contract suite of ports.Push. newHarness is called once
// per subtest.
func RunPush(t *testing.T, newHarness func(t *testing.T) PushHarness) {
	t.Helper()
	runPushCases(t, newHarness)
}
