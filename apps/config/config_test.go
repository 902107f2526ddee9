package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsRunEverythingInMemory(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage != "memory" || c.Blob != "memory" || c.Auth != "local" || c.HTTPAddr != "127.0.0.1:8000" {
		t.Errorf("defaults: %+v", c)
	}
	if c.UploadExpiry != 15*time.Minute || c.MaxUploadBytes != 10<<20 || c.BaseURL() != "http://127.0.0.1:8000" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"CLOUDPOST_UPLOAD_EXPIRY=soon":     "CLOUDPOST_UPLOAD_EXPIRY",
		"CLOUDPOST_MAX_UPLOAD_BYTES=lots":  "CLOUDPOST_MAX_UPLOAD_BYTES",
		"CLOUDPOST_MAX_UPLOAD_BYTES=0":     "CLOUDPOST_MAX_UPLOAD_BYTES",
		"CLOUDPOST_STORAGE=postgres":       "CLOUDPOST_STORAGE",
		"CLOUDPOST_STORAGE=mysql":          "CLOUDPOST_MYSQL_DSN",
		"CLOUDPOST_AUTH=ldap":              "CLOUDPOST_AUTH",
		"CLOUDPOST_AUTH=cognito":           "CLOUDPOST_COGNITO_USER_POOL_ID",
		"CLOUDPOST_BLOB=s3":                "CLOUDPOST_S3_BUCKET",
		"CLOUDPOST_LOG_LEVEL=loud":         "CLOUDPOST_LOG_LEVEL",
		"CLOUDPOST_CORS_ORIGINS=not a url": "CLOUDPOST_CORS_ORIGINS",
		"CLOUDPOST_PUBLIC_URL=ftp://x":     "CLOUDPOST_PUBLIC_URL",
		"CLOUDPOST_MEDIA_WORKERS=-1":       "CLOUDPOST_MEDIA_WORKERS",
	}
	for kv, name := range cases {
		_, err := Load([]string{kv})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want it to name %s", kv, err, name)
		}
	}
}
