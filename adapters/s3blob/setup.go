package s3blob

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// SetupOptions says how Setup prepares the bucket.
type SetupOptions struct {
	// Origins are the browser origins that upload and download media
	// (CORSRules), normally CLOUDPOST_CORS_ORIGINS. Empty: the CORS step is
	// skipped.
	Origins []string
}

// StepStatus is the outcome of one Setup step.
type StepStatus string

// Step outcomes.
const (
	// StepApplied: the bucket now has what the step sets (it may have had
	// it already; SetupStep.Detail says).
	StepApplied StepStatus = "applied"
	// StepSkipped: the step was not applied, for the reason in
	// SetupStep.Detail (the server does not implement it, or there was
	// nothing to apply).
	StepSkipped StepStatus = "skipped"
)

// Names of the Setup steps, in the order they run.
const (
	StepBucket            = "bucket"
	StepPublicAccessBlock = "block-public-access"
	StepObjectOwnership   = "object-ownership"
	StepCORS              = "cors"
	StepLifecycle         = "lifecycle"
)

// SetupStep is what one step of Setup did.
type SetupStep struct {
	// Name is one of the Step* names.
	Name   string
	Status StepStatus
	// Detail says what was found or done, or why the step was skipped.
	Detail string
}

// String returns the step as one line, e.g. "cors: applied (origins ...)".
func (st SetupStep) String() string {
	return fmt.Sprintf("%s: %s (%s)", st.Name, st.Status, st.Detail)
}

// IDs of the rules Setup writes; rules with other IDs are kept.
const (
	corsRuleID      = "cloudpost-browser-media"
	lifecycleRuleID = "cloudpost-abort-incomplete-multipart-uploads"
)

// Setup prepares the bucket for cloudpost, on AWS or an S3-compatible
// server, and is safe to run again. In order:
//
//   - bucket: created when HeadBucket does not find it, in the client's
//     region (a LocationConstraint unless us-east-1); an existing bucket of
//     these credentials is kept as it is;
//   - block-public-access: all four public access block settings on;
//   - object-ownership: BucketOwnerEnforced, which disables ACLs;
//   - cors: CORSRules(o.Origins) first, followed by the bucket's rules with
//     other IDs;
//   - lifecycle: a rule that aborts incomplete multipart uploads after 1
//     day (what a Put of a stream that died mid-way leaves), added to the
//     bucket's rules unless an enabled whole-bucket rule already does it.
//
// A step the server answers 501 NotImplemented to is skipped with that
// reason (versitygw implements neither public access blocks nor lifecycle
// configuration); any other failure stops Setup. It returns the steps done
// so far either way. The error is not a domain error: it names the step,
// the bucket and S3's answer, and for access denied the permission the
// credentials need (s3:ListBucket, s3:CreateBucket,
// s3:PutBucketPublicAccessBlock, s3:PutBucketOwnershipControls,
// s3:GetBucketCORS, s3:PutBucketCORS, s3:GetLifecycleConfiguration,
// s3:PutLifecycleConfiguration).
func (s *Store) Setup(ctx context.Context, o SetupOptions) ([]SetupStep, error) {
	steps := []struct {
		name, perms string
		run         func(context.Context) (StepStatus, string, error)
	}{
		{StepBucket, "s3:ListBucket and s3:CreateBucket", s.setupBucket},
		{StepPublicAccessBlock, "s3:PutBucketPublicAccessBlock", s.setupPublicAccessBlock},
		{StepObjectOwnership, "s3:PutBucketOwnershipControls", s.setupOwnership},
		{StepCORS, "s3:GetBucketCORS and s3:PutBucketCORS", func(ctx context.Context) (StepStatus, string, error) {
			return s.setupCORS(ctx, o.Origins)
		}},
		{StepLifecycle, "s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration", s.setupLifecycle},
	}
	var done []SetupStep
	for _, st := range steps {
		status, detail, err := st.run(ctx)
		if err != nil {
			hint := ""
			if errorCode(err) == "AccessDenied" || httpStatus(err) == http.StatusForbidden {
				hint = " (the credentials need " + st.perms + ")"
			}
			return done, fmt.Errorf("s3blob setup: step %s on bucket %s: %w%s", st.name, s.bucket, err, hint)
		}
		done = append(done, SetupStep{Name: st.name, Status: status, Detail: detail})
	}
	return done, nil
}

// notImplemented reports whether the server does not implement the request.
func notImplemented(err error) bool {
	return errorCode(err) == "NotImplemented" || httpStatus(err) == http.StatusNotImplemented
}

// skipUnimplemented turns a 501 answer to op, a request for feature, into
// a skipped step.
func skipUnimplemented(feature, op string, err error) (StepStatus, string, error) {
	if notImplemented(err) {
		return StepSkipped, "the server does not implement " + feature + " (" + op + ": 501 NotImplemented)", nil
	}
	return "", "", err
}

func (s *Store) setupBucket(ctx context.Context) (StepStatus, string, error) {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	switch {
	case err == nil:
		return StepApplied, "exists already", nil
	case httpStatus(err) == http.StatusMovedPermanently:
		return "", "", fmt.Errorf("the bucket is in another region than CLOUDPOST_S3_REGION: %w", err)
	case httpStatus(err) == http.StatusForbidden:
		return "", "", fmt.Errorf("the bucket exists but these credentials may not use it (another account's bucket, or no s3:ListBucket): %w", err)
	case !notFoundCodes[errorCode(err)] && httpStatus(err) != http.StatusNotFound:
		return "", "", fmt.Errorf("HeadBucket: %w", err)
	}
	region := s.client.Options().Region
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	// us-east-1 is the default location and S3 refuses it as a constraint.
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	_, err = s.client.CreateBucket(ctx, in)
	switch code := errorCode(err); {
	case err == nil:
		return StepApplied, "created in " + region, nil
	case code == "BucketAlreadyOwnedByYou": // created meanwhile
		return StepApplied, "exists already", nil
	case code == "BucketAlreadyExists":
		return "", "", fmt.Errorf("the name is taken by another account; choose another CLOUDPOST_S3_BUCKET: %w", err)
	default:
		return "", "", fmt.Errorf("CreateBucket: %w", err)
	}
}

func (s *Store) setupPublicAccessBlock(ctx context.Context) (StepStatus, string, error) {
	_, err := s.client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: &s.bucket,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
	})
	if err != nil {
		return skipUnimplemented("public access blocks", "PutPublicAccessBlock", err)
	}
	return StepApplied, "public ACLs and policies blocked", nil
}

func (s *Store) setupOwnership(ctx context.Context) (StepStatus, string, error) {
	_, err := s.client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{
		Bucket: &s.bucket,
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{
			{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced},
		}},
	})
	if err != nil {
		return skipUnimplemented("ownership controls", "PutBucketOwnershipControls", err)
	}
	return StepApplied, "BucketOwnerEnforced: ACLs disabled", nil
}

func (s *Store) setupCORS(ctx context.Context, origins []string) (StepStatus, string, error) {
	if len(origins) == 0 {
		return StepSkipped, "no origins given (CLOUDPOST_CORS_ORIGINS)", nil
	}
	var kept []types.CORSRule
	out, err := s.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &s.bucket})
	switch {
	case err == nil:
		for _, r := range out.CORSRules {
			if aws.ToString(r.ID) != corsRuleID {
				kept = append(kept, r)
			}
		}
	case errorCode(err) == "NoSuchCORSConfiguration":
	case notImplemented(err):
		return skipUnimplemented("bucket CORS", "GetBucketCors", err)
	default:
		return "", "", fmt.Errorf("GetBucketCors: %w", err)
	}
	// Ours first: S3 applies the first rule that matches a request.
	rules := append(CORSRules(origins), kept...)
	if _, err := s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket:            &s.bucket,
		CORSConfiguration: &types.CORSConfiguration{CORSRules: rules},
	}); err != nil {
		return skipUnimplemented("bucket CORS", "PutBucketCors", err)
	}
	detail := "PUT, GET, HEAD from " + strings.Join(origins, ", ")
	if len(kept) > 0 {
		detail += fmt.Sprintf("; %d other rule(s) kept", len(kept))
	}
	return StepApplied, detail, nil
}

func (s *Store) setupLifecycle(ctx context.Context) (StepStatus, string, error) {
	var kept []types.LifecycleRule
	out, err := s.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &s.bucket})
	switch {
	case err == nil:
		for _, r := range out.Rules {
			if aws.ToString(r.ID) == lifecycleRuleID {
				continue
			}
			// S3 refuses two rules of one action on overlapping prefixes.
			if abortsEverywhere(r) {
				return StepApplied, fmt.Sprintf("rule %q already aborts incomplete multipart uploads after %d day(s)",
					aws.ToString(r.ID), aws.ToInt32(r.AbortIncompleteMultipartUpload.DaysAfterInitiation)), nil
			}
			kept = append(kept, r)
		}
	case errorCode(err) == "NoSuchLifecycleConfiguration":
	case notImplemented(err):
		return skipUnimplemented("lifecycle configuration", "GetBucketLifecycleConfiguration", err)
	default:
		return "", "", fmt.Errorf("GetBucketLifecycleConfiguration: %w", err)
	}
	rules := append(kept, types.LifecycleRule{
		ID:                             aws.String(lifecycleRuleID),
		Status:                         types.ExpirationStatusEnabled,
		Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
		AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)},
	})
	if _, err := s.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 &s.bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	}); err != nil {
		return skipUnimplemented("lifecycle configuration", "PutBucketLifecycleConfiguration", err)
	}
	detail := "incomplete multipart uploads aborted after 1 day"
	if len(kept) > 0 {
		detail += fmt.Sprintf("; %d other rule(s) kept", len(kept))
	}
	return StepApplied, detail, nil
}

// abortsEverywhere reports whether r is an enabled rule that aborts
// incomplete multipart uploads of every key.
func abortsEverywhere(r types.LifecycleRule) bool {
	// The deprecated top-level Prefix still narrows rules made long ago.
	//lint:ignore SA1019 reading the deprecated field is the point: rules made long ago set it.
	if r.Status != types.ExpirationStatusEnabled || r.AbortIncompleteMultipartUpload == nil || aws.ToString(r.Prefix) != "" {
		return false
	}
	f := r.Filter
	return f == nil || (aws.ToString(f.Prefix) == "" && f.And == nil && f.Tag == nil &&
		f.ObjectSizeGreaterThan == nil && f.ObjectSizeLessThan == nil)
}
