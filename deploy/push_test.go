package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// number reads a template number (YAML gives int or float64, a quoted
// one a string); -1 when it is none.
func number(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case string:
		if i, err := strconv.Atoi(n); err == nil {
			return i
		}
	}
	return -1
}

// TestTemplatePushQueue: the API announces notifications on a queue whose
// consumer is the push function, reporting batch item failures; failed
// messages come back after a visibility timeout AWS's advice allows for
// the function's timeout, and end in a dead-letter queue after a bounded
// number of receives.
func TestTemplatePushQueue(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	res := func(name string) map[string]any {
		r := asMap(dig(generic, "Resources", name))
		if r == nil {
			t.Fatalf("resource %s missing", name)
		}
		return r
	}
	queue, dlq := res("PushQueue"), res("PushDeadLetterQueue")
	for name, q := range map[string]map[string]any{"PushQueue": queue, "PushDeadLetterQueue": dlq} {
		if q["Type"] != "AWS::SQS::Queue" {
			t.Fatalf("%s is a %v", name, q["Type"])
		}
		if dig(q, "Properties", "FifoQueue") == true {
			t.Errorf("%s: a standard queue is wanted (the hint's order does not matter)", name)
		}
		if dig(q, "Properties", "SqsManagedSseEnabled") != true && dig(q, "Properties", "KmsMasterKeyId") == nil {
			t.Errorf("%s is not encrypted at rest", name)
		}
	}
	redrive := asMap(dig(queue, "Properties", "RedrivePolicy"))
	if redrive["deadLetterTargetArn"] != queueARN("PushDeadLetterQueue") {
		t.Errorf("redrive target %v, want the dead-letter queue", redrive["deadLetterTargetArn"])
	}
	if n := number(redrive["maxReceiveCount"]); n < 3 || n > 10 {
		t.Errorf("maxReceiveCount %v, want about 5", redrive["maxReceiveCount"])
	}
	if dig(dlq, "Properties", "RedrivePolicy") != nil {
		t.Error("the dead-letter queue must not redrive")
	}
	if q, d := number(dig(queue, "Properties", "MessageRetentionPeriod")), number(dig(dlq, "Properties", "MessageRetentionPeriod")); d <= q {
		t.Errorf("dead-letter retention %d s not longer than the queue's %d s (moved messages keep their first enqueue time)", d, q)
	}

	fns := templateFunctions(t, tpl, generic)
	push := fns[functions.HandlerPush]
	props := asMap(dig(generic, "Resources", push.name, "Properties"))
	timeout := number(props["Timeout"])
	if timeout <= 0 {
		timeout = number(dig(generic, "Globals", "Function", "Timeout"))
	}
	if len(push.fn.Events) != 1 {
		t.Fatalf("push function events: %v", push.fn.Events)
	}
	for name := range push.fn.Events {
		ev := asMap(dig(props, "Events", name))
		p := asMap(ev["Properties"])
		if ev["Type"] != "SQS" || p["Queue"] != queueARN("PushQueue") {
			t.Fatalf("push event %s: %v, want the push queue's SQS events", name, ev)
		}
		if !slices.Contains(asStrings(p["FunctionResponseTypes"]), "ReportBatchItemFailures") {
			t.Errorf("push event: FunctionResponseTypes %v; without ReportBatchItemFailures the handler's answer is ignored and every message is deleted", p["FunctionResponseTypes"])
		}
		if b := number(p["BatchSize"]); b < 1 || b > 10 {
			t.Errorf("push event: BatchSize %v, want 1 to 10", p["BatchSize"])
		}
		window := number(p["MaximumBatchingWindowInSeconds"])
		if window < 0 || window > 5 {
			t.Errorf("push event: MaximumBatchingWindowInSeconds %v, want a few seconds at most (pushes are awaited)", p["MaximumBatchingWindowInSeconds"])
		}
		// AWS: a visibility timeout of at least six times the function's
		// timeout plus the batching window.
		if vis := number(dig(queue, "Properties", "VisibilityTimeout")); vis < 6*timeout+window {
			t.Errorf("visibility timeout %d s, want at least 6 × %d s + %d s", vis, timeout, window)
		}
	}
	// Only the API sends; only the push function consumes.
	for h, f := range fns {
		for _, ev := range f.fn.Events {
			if ev.Type == "SQS" && h != functions.HandlerPush {
				t.Errorf("%s consumes an SQS queue", f.name)
			}
		}
	}
	// TLS only on both queues.
	policy := res("PushQueuePolicy")
	if !reflect.DeepEqual(dig(policy, "Properties", "Queues"), []any{queueURL("PushQueue"), queueURL("PushDeadLetterQueue")}) {
		t.Errorf("queue policy queues %v", dig(policy, "Properties", "Queues"))
	}
	var denies bool
	for _, st := range asSlice(dig(policy, "Properties", "PolicyDocument", "Statement")) {
		denies = denies || dig(st, "Effect") == "Deny" && dig(st, "Condition", "Bool", "aws:SecureTransport") == "false"
	}
	if !denies {
		t.Error("the queues must refuse requests without TLS")
	}
	for _, o := range []string{"PushQueueUrl", "PushDeadLetterQueueUrl"} {
		if _, ok := tpl.Outputs[o]; !ok {
			t.Errorf("output %s missing", o)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// findCfnLint looks for cfn-lint in CLOUDPOST_CFN_LINT, PATH and
// ~/.pyenv/shims.
func findCfnLint() (string, error) {
	if p := os.Getenv("CLOUDPOST_CFN_LINT"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".pyenv", "shims", "cfn-lint")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("cfn-lint not found (CLOUDPOST_CFN_LINT, PATH, ~/.pyenv/shims; pip install cfn-lint)")
}

// TestTemplateCfnLint runs cfn-lint (AWS's CloudFormation linter: resource
// schemas, SAM's transform, IAM policy shapes, intrinsic function use) on
// the template: no error, no warning. Missing, it skips, and fails under
// CI=true.
func TestTemplateCfnLint(t *testing.T) {
	bin, err := findCfnLint()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	out, err := exec.Command(bin, "--format", "parseable", "template.yaml").CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}
