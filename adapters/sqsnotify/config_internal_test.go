package sqsnotify

import "testing"

func TestEndpointFromTheQueueURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg          Config
		base, region string
	}{
		{Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/cloudpost-push"}, "", "eu-west-1"},
		{Config{QueueURL: "https://SQS.us-east-2.amazonaws.com/123456789012/q"}, "", "us-east-2"},
		{Config{QueueURL: "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"}, "", "cn-north-1"},
		{Config{QueueURL: "https://ap-southeast-2.queue.amazonaws.com/123456789012/q"}, "", "ap-southeast-2"},
		{Config{QueueURL: "https://queue.amazonaws.com/123456789012/q"}, "", "us-east-1"},
		// An AWS queue with an explicit endpoint (a VPC endpoint's name).
		{Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", Endpoint: "https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com/"}, "https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com", "eu-west-1"},
		// Emulators: their queue URLs name their own host.
		{Config{QueueURL: "http://127.0.0.1:5000/123456789012/push"}, "http://127.0.0.1:5000", ""},
		{Config{QueueURL: "http://localhost:9324/000000000000/push"}, "http://localhost:9324", ""},
		{Config{QueueURL: "http://sqs.local/1/q", Endpoint: "http://127.0.0.1:9324"}, "http://127.0.0.1:9324", ""},
		// Not Amazon's, though it looks close.
		{Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com.example.org/1/q"}, "https://sqs.eu-west-1.amazonaws.com.example.org", ""},
	} {
		if err := tc.cfg.Validate(); err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		base, region := tc.cfg.endpoint()
		if base != tc.base || region != tc.region {
			t.Errorf("%s (endpoint %q): %q %q, want %q %q", tc.cfg.QueueURL, tc.cfg.Endpoint, base, region, tc.base, tc.region)
		}
	}
}
