package s3blob_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestSetupOnVersitygw prepares a new bucket on versitygw twice and records
// which steps the server implements: it has no public access blocks and no
// lifecycle configuration (501 NotImplemented: skipped), and does have
// ownership controls and CORS.
func TestSetupOnVersitygw(t *testing.T) {
	requireServer(t)
	cfg := testConfig()
	cfg.Bucket = "cloudpost-setup-" + strings.ToLower(porttest.NewID()[:8])
	s, err := s3blob.NewWithAWS(cfg, testAWSConfig(vgwAccess, vgwSecret), discardLog())
	if err != nil {
		t.Fatal(err)
	}
	want := []s3blob.SetupStep{
		{Name: s3blob.StepBucket, Status: s3blob.StepApplied, Detail: "created in us-east-1"},
		{Name: s3blob.StepPublicAccessBlock, Status: s3blob.StepSkipped, Detail: "the server does not implement public access blocks (PutPublicAccessBlock: 501 NotImplemented)"},
		{Name: s3blob.StepObjectOwnership, Status: s3blob.StepApplied, Detail: "BucketOwnerEnforced: ACLs disabled"},
		{Name: s3blob.StepCORS, Status: s3blob.StepApplied, Detail: "PUT, GET, HEAD from https://app.example.com"},
		{Name: s3blob.StepLifecycle, Status: s3blob.StepSkipped, Detail: "the server does not implement lifecycle configuration (GetBucketLifecycleConfiguration: 501 NotImplemented)"},
	}
	steps, err := s.Setup(t.Context(), s3blob.SetupOptions{Origins: []string{"https://app.example.com"}})
	for _, st := range steps {
		t.Log(st)
	}
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if !slices.Equal(steps, want) {
		t.Errorf("Setup steps = %v\nwant %v", steps, want)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after Setup: %v", err)
	}
	own, err := s.Client().GetBucketOwnershipControls(t.Context(), &s3.GetBucketOwnershipControlsInput{Bucket: &cfg.Bucket})
	if err != nil || len(own.OwnershipControls.Rules) != 1 || own.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("ownership controls after Setup: %+v, %v", own, err)
	}

	// Again, with a rule of someone else's on the bucket: it is kept, after ours.
	if _, err := s.Client().PutBucketCors(t.Context(), &s3.PutBucketCorsInput{Bucket: &cfg.Bucket, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: append(s3blob.CORSRules([]string{"https://old.example.com"}), types.CORSRule{
			ID: aws.String("other"), AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://other.example.com"},
		}),
	}}); err != nil {
		t.Fatal(err)
	}
	steps, err = s.Setup(t.Context(), s3blob.SetupOptions{Origins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatalf("Setup again: %v", err)
	}
	want[0].Detail = "exists already"
	want[3].Detail += "; 1 other rule(s) kept"
	if !slices.Equal(steps, want) {
		t.Errorf("Setup steps the second time = %v\nwant %v", steps, want)
	}
	cors, err := s.Client().GetBucketCors(t.Context(), &s3.GetBucketCorsInput{Bucket: &cfg.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range cors.CORSRules {
		ids = append(ids, aws.ToString(r.ID))
	}
	if !slices.Equal(ids, []string{"cloudpost-browser-media", "other"}) || !slices.Equal(cors.CORSRules[0].AllowedOrigins, []string{"https://app.example.com"}) ||
		!slices.Equal(cors.CORSRules[0].AllowedHeaders, []string{"Content-Type", "If-None-Match"}) {
		t.Errorf("CORS rules after Setup: %v: %+v", ids, cors.CORSRules)
	}
}

// setupFake is an S3 server for Setup's requests: it answers each bucket
// sub-resource as the test says and records what was put.
type setupFake struct {
	mu   sync.Mutex
	puts map[string]string // sub-resource ("" for the bucket) -> body
	// answer returns the status and body for a request to sub-resource sub;
	// status 0 means 200 with an empty body.
	answer func(method, sub string) (int, string)
}

func newSetupFake(t *testing.T, answer func(method, sub string) (int, string)) (*setupFake, *s3blob.Store) {
	t.Helper()
	f := &setupFake{puts: map[string]string{}, answer: answer}
	srv := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		sub := ""
		for _, q := range []string{"cors", "lifecycle", "publicAccessBlock", "ownershipControls"} {
			if r.URL.Query().Has(q) {
				sub = q
			}
		}
		body, _ := io.ReadAll(r.Body)
		status, resp := f.answer(r.Method, sub)
		if status >= 300 {
			code, _, _ := strings.Cut(resp, " ")
			writeS3Error(w, r, status, code)
			return
		}
		if r.Method == http.MethodPut {
			f.mu.Lock()
			f.puts[sub] = string(body)
			f.mu.Unlock()
		}
		if resp != "" {
			w.Header().Set("Content-Type", "application/xml")
		}
		_, _ = io.WriteString(w, resp)
	})
	return f, fakeStore(t, srv.srv.URL, discardLog())
}

func (f *setupFake) put(sub string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.puts[sub]
	return b, ok
}

// TestSetupOnAWSLike covers what versitygw does not implement, against a
// fake that answers like AWS: a bucket created with its region's location
// constraint, public access blocks, and lifecycle rules merged with the
// bucket's own.
func TestSetupOnAWSLike(t *testing.T) {
	const otherCORS = `<CORSConfiguration><CORSRule><ID>other</ID><AllowedMethod>GET</AllowedMethod><AllowedOrigin>https://other.example</AllowedOrigin></CORSRule></CORSConfiguration>`
	const logsRule = `<Rule><ID>expire-logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>`
	t.Run("NewBucket", func(t *testing.T) {
		t.Parallel()
		f, s := newSetupFake(t, func(method, sub string) (int, string) {
			switch {
			case method == http.MethodHead:
				return 404, "NotFound"
			case method == http.MethodGet && sub == "cors":
				return 200, otherCORS
			case method == http.MethodGet && sub == "lifecycle":
				return 200, `<LifecycleConfiguration>` + logsRule + `</LifecycleConfiguration>`
			}
			return 0, ""
		})
		steps, err := s.Setup(t.Context(), s3blob.SetupOptions{Origins: []string{"https://app.example.com"}})
		if err != nil {
			t.Fatalf("Setup: %v (steps %v)", err, steps)
		}
		for _, st := range steps {
			if st.Status != s3blob.StepApplied {
				t.Errorf("step %v, want applied", st)
			}
		}
		if got := steps[0].Detail; got != "created in eu-west-1" {
			t.Errorf("bucket step %q", got)
		}
		for sub, want := range map[string][]string{
			"":                  {"<LocationConstraint>eu-west-1</LocationConstraint>"},
			"publicAccessBlock": {"<BlockPublicAcls>true</BlockPublicAcls>", "<IgnorePublicAcls>true</IgnorePublicAcls>", "<BlockPublicPolicy>true</BlockPublicPolicy>", "<RestrictPublicBuckets>true</RestrictPublicBuckets>"},
			"ownershipControls": {"<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>"},
			"cors":              {"<ID>cloudpost-browser-media</ID>", "<AllowedHeader>If-None-Match</AllowedHeader>", "<ID>other</ID>"},
			"lifecycle":         {"<ID>expire-logs</ID>", "<ID>cloudpost-abort-incomplete-multipart-uploads</ID>", "<DaysAfterInitiation>1</DaysAfterInitiation>"},
		} {
			body, ok := f.put(sub)
			if !ok {
				t.Errorf("no PUT of %q", sub)
				continue
			}
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("PUT %q body lacks %s: %s", sub, w, body)
				}
			}
		}
		if body, _ := f.put("cors"); strings.Index(body, "cloudpost-browser-media") > strings.Index(body, "<ID>other</ID>") {
			t.Errorf("our CORS rule must come first (S3 applies the first match): %s", body)
		}
	})
	t.Run("LifecycleAlreadyThere", func(t *testing.T) {
		t.Parallel()
		f, s := newSetupFake(t, func(method, sub string) (int, string) {
			switch {
			case method == http.MethodGet && sub == "cors":
				return 404, "NoSuchCORSConfiguration"
			case method == http.MethodGet && sub == "lifecycle":
				return 200, `<LifecycleConfiguration>` + logsRule + `<Rule><ID>abort-incomplete-uploads</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>` +
					`<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`
			}
			return 0, ""
		})
		steps, err := s.Setup(t.Context(), s3blob.SetupOptions{})
		if err != nil {
			t.Fatalf("Setup: %v", err)
		}
		want := []s3blob.SetupStep{
			{Name: s3blob.StepBucket, Status: s3blob.StepApplied, Detail: "exists already"},
			{Name: s3blob.StepPublicAccessBlock, Status: s3blob.StepApplied, Detail: "public ACLs and policies blocked"},
			{Name: s3blob.StepObjectOwnership, Status: s3blob.StepApplied, Detail: "BucketOwnerEnforced: ACLs disabled"},
			{Name: s3blob.StepCORS, Status: s3blob.StepSkipped, Detail: "no origins given (CLOUDPOST_CORS_ORIGINS)"},
			{Name: s3blob.StepLifecycle, Status: s3blob.StepApplied, Detail: `rule "abort-incomplete-uploads" already aborts incomplete multipart uploads after 1 day(s)`},
		}
		if !slices.Equal(steps, want) {
			t.Errorf("steps = %v\nwant %v", steps, want)
		}
		for _, sub := range []string{"", "cors", "lifecycle"} {
			if body, ok := f.put(sub); ok {
				t.Errorf("PUT %q sent: %s", sub, body)
			}
		}
	})
	for name, c := range map[string]struct {
		answer func(method, sub string) (int, string)
		steps  int
		want   []string
	}{
		"AccessDenied": {func(method, sub string) (int, string) {
			if method == http.MethodPut && sub == "publicAccessBlock" {
				return 403, "AccessDenied"
			}
			return 0, ""
		}, 1, []string{"step block-public-access", "bucket media-bucket", "AccessDenied", "the credentials need s3:PutBucketPublicAccessBlock"}},
		"NameTaken": {func(method, sub string) (int, string) {
			switch {
			case method == http.MethodHead:
				return 404, "NotFound"
			case method == http.MethodPut && sub == "":
				return 409, "BucketAlreadyExists"
			}
			return 0, ""
		}, 0, []string{"step bucket", "taken by another account", "CLOUDPOST_S3_BUCKET"}},
		"OtherAccountsBucket": {func(method, sub string) (int, string) {
			if method == http.MethodHead {
				return 403, "Forbidden"
			}
			return 0, ""
		}, 0, []string{"step bucket", "may not use it"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, s := newSetupFake(t, c.answer)
			steps, err := s.Setup(t.Context(), s3blob.SetupOptions{Origins: []string{"https://app.example.com"}})
			if err == nil {
				t.Fatalf("Setup succeeded: %v", steps)
			}
			if len(steps) != c.steps {
				t.Errorf("steps before the failure = %v, want %d", steps, c.steps)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
