package snspush_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/caarlos0/env/v11"

	"github.com/cloudpost/cloudpost/adapters/snspush"
)

const (
	fcmARN     = "arn:aws:sns:eu-west-1:123456789012:app/GCM/cloudpost"
	apnsARN    = "arn:aws:sns:eu-west-1:123456789012:app/APNS/cloudpost-ios"
	sandboxARN = "arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/cloudpost-ios-dev"
)

func TestConfigFromEnvironment(t *testing.T) {
	var c snspush.Config
	err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{
		"CLOUDPOST_SNS_REGION":               "eu-west-1",
		"CLOUDPOST_SNS_ENDPOINT":             "http://127.0.0.1:5000",
		"CLOUDPOST_SNS_FCM_APPLICATION_ARN":  fcmARN,
		"CLOUDPOST_SNS_APNS_APPLICATION_ARN": sandboxARN,
		"CLOUDPOST_SNS_APNS_SANDBOX":         "true",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := snspush.Config{Region: "eu-west-1", Endpoint: "http://127.0.0.1:5000", FCMApplicationARN: fcmARN, APNsApplicationARN: sandboxARN, APNsSandbox: true}
	if c != want {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  snspush.Config
		want []string // substrings of the error; none: valid
	}{
		{"both platforms", snspush.Config{FCMApplicationARN: fcmARN, APNsApplicationARN: apnsARN}, nil},
		{"fcm only, region given", snspush.Config{Region: "eu-west-1", FCMApplicationARN: fcmARN}, nil},
		{"apns sandbox", snspush.Config{APNsApplicationARN: sandboxARN, APNsSandbox: true}, nil},
		{"china partition", snspush.Config{FCMApplicationARN: "arn:aws-cn:sns:cn-north-1:123456789012:app/GCM/x"}, nil},
		{"nothing", snspush.Config{}, []string{"CLOUDPOST_SNS_FCM_APPLICATION_ARN", "CLOUDPOST_SNS_APNS_APPLICATION_ARN"}},
		{"not an ARN", snspush.Config{FCMApplicationARN: "cloudpost"}, []string{"CLOUDPOST_SNS_FCM_APPLICATION_ARN", "platform application ARN"}},
		{"endpoint ARN", snspush.Config{FCMApplicationARN: "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/cloudpost/abc"}, []string{"CLOUDPOST_SNS_FCM_APPLICATION_ARN"}},
		{"topic ARN", snspush.Config{FCMApplicationARN: "arn:aws:sns:eu-west-1:123456789012:topic"}, []string{"CLOUDPOST_SNS_FCM_APPLICATION_ARN"}},
		{"apns app as fcm", snspush.Config{FCMApplicationARN: apnsARN}, []string{"CLOUDPOST_SNS_FCM_APPLICATION_ARN", "APNS application", "GCM"}},
		{"fcm app as apns", snspush.Config{APNsApplicationARN: fcmARN}, []string{"CLOUDPOST_SNS_APNS_APPLICATION_ARN", "GCM application"}},
		{"other region", snspush.Config{Region: "us-east-1", FCMApplicationARN: fcmARN}, []string{"CLOUDPOST_SNS_FCM_APPLICATION_ARN", "us-east-1"}},
		{"applications in two regions", snspush.Config{FCMApplicationARN: fcmARN, APNsApplicationARN: strings.Replace(apnsARN, "eu-west-1", "us-east-1", 1)}, []string{"CLOUDPOST_SNS_APNS_APPLICATION_ARN"}},
		{"sandbox flag on production app", snspush.Config{APNsApplicationARN: apnsARN, APNsSandbox: true}, []string{"CLOUDPOST_SNS_APNS_SANDBOX", "production"}},
		{"sandbox app without the flag", snspush.Config{APNsApplicationARN: sandboxARN}, []string{"CLOUDPOST_SNS_APNS_SANDBOX", "must be true"}},
		{"sandbox flag alone", snspush.Config{FCMApplicationARN: fcmARN, APNsSandbox: true}, []string{"CLOUDPOST_SNS_APNS_SANDBOX"}},
		{"bad endpoint", snspush.Config{FCMApplicationARN: fcmARN, Endpoint: "127.0.0.1:5000"}, []string{"CLOUDPOST_SNS_ENDPOINT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := snspush.NewWithAWS(tc.cfg, aws.Config{}, nil); err != nil {
					t.Fatalf("NewWithAWS: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// New refuses it before it reads any AWS configuration.
			if _, err := snspush.New(t.Context(), tc.cfg, nil); err == nil {
				t.Error("New accepted it")
			}
			if _, err := snspush.NewWithAWS(tc.cfg, aws.Config{}, nil); err == nil {
				t.Error("NewWithAWS accepted it")
			}
		})
	}
}
