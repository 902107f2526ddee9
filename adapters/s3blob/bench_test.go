package s3blob_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/ports"
)

// Presigning is local CPU work (no request is sent), so these run without
// a server.
func benchStore(b *testing.B, cfg s3blob.Config) *s3blob.Store {
	b.Helper()
	cfg.Bucket, cfg.Region = "media-bucket", "eu-west-1"
	s, err := s3blob.NewWithAWS(cfg, testAWSConfig("AKIAEXAMPLE", "secret"), discardLog())
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkPresignUpload(b *testing.B) {
	s := benchStore(b, s3blob.Config{})
	p := ports.UploadPolicy{Key: "uploads/01a210f8-3159-7000-b091-5d0e13c8ab0f/01a210f8-3166-7001-93e9-41bab1a07a49", ContentType: "image/jpeg", Size: 3 << 20, Expires: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignUpload(b.Context(), p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresignDownload(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  s3blob.Config
	}{
		{"S3", s3blob.Config{}},
		{"S3PathStyleEndpoint", s3blob.Config{Endpoint: "http://127.0.0.1:7070", PathStyle: true}},
		{"CDN", s3blob.Config{CDNURL: "https://media.example.com"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := benchStore(b, c.cfg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.PresignDownload(b.Context(), ports.DownloadPolicy{Key: "variants/01a210f8-3166-7001-93e9-41bab1a07a49/medium", Expires: time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPresignDownloadCloudFront(b *testing.B) {
	s := benchStore(b, s3blob.Config{CDNURL: "https://media.example.com", CloudFrontKeyID: "K2JCJMDEHXQW5F", CloudFrontPrivateKey: testRSAKeyPEM(b)})
	b.Run("Signed", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.PresignDownload(b.Context(), ports.DownloadPolicy{Key: "variants/" + strconv.Itoa(i) + "/medium", Expires: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
