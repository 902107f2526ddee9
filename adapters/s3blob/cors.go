package s3blob

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CORSRules returns the bucket CORS rule that browser clients on origins
// need: presigned PUT uploads (with the signed Content-Type and
// If-None-Match headers, which browsers preflight) and GET or HEAD
// downloads, with the ETag readable by scripts. As the bucket's CORS
// configuration (aws s3api put-bucket-cors, or CorsConfiguration in a
// CloudFormation/SAM AWS::S3::Bucket), in JSON:
//
//	{"CORSRules": [{
//	  "AllowedOrigins": ["https://app.example.com"],
//	  "AllowedMethods": ["PUT", "GET", "HEAD"],
//	  "AllowedHeaders": ["Content-Type", "If-None-Match"],
//	  "ExposeHeaders": ["ETag"],
//	  "MaxAgeSeconds": 3600
//	}]}
//
// Use the same origins as CLOUDPOST_CORS_ORIGINS. Presigned requests carry
// their credentials in the query string, so no Authorization header and no
// credentialed (cookie) CORS mode is needed.
func CORSRules(origins []string) []types.CORSRule {
	return []types.CORSRule{{
		ID:             aws.String("cloudpost-browser-media"),
		AllowedOrigins: append([]string(nil), origins...),
		AllowedMethods: []string{"PUT", "GET", "HEAD"},
		AllowedHeaders: []string{"Content-Type", "If-None-Match"},
		ExposeHeaders:  []string{"ETag"},
		MaxAgeSeconds:  aws.Int32(3600),
	}}
}

// PutCORS replaces the bucket's CORS configuration with CORSRules(origins),
// for deployments that do not manage the bucket with a template (Setup
// does it too, keeping other rules). Returns Unavailable or Internal
// (access denied needs s3:PutBucketCORS).
func (s *Store) PutCORS(ctx context.Context, origins []string) error {
	_, err := s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket:            &s.bucket,
		CORSConfiguration: &types.CORSConfiguration{CORSRules: CORSRules(origins)},
	})
	if err != nil {
		return s.translate(ctx, "PutBucketCors", "", err)
	}
	return nil
}
