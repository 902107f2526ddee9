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
		"CLOUDPOST_LOCAL_BCRYPT_COST=3":    "CLOUDPOST_LOCAL_BCRYPT_COST",
		"CLOUDPOST_LOCAL_BCRYPT_COST=32":   "CLOUDPOST_LOCAL_BCRYPT_COST",
	}
	for kv, name := range cases {
		_, err := Load([]string{kv})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want it to name %s", kv, err, name)
		}
	}
}

// TestParseAnyStruct: Parse serves other apps' settings structs too
// (functions.LoadConfig): defaults, "=" inside values, nested structs, and
// errors that name the variable.
func TestParseAnyStruct(t *testing.T) {
	type inner struct {
		Wait time.Duration `env:"TEST_WAIT" envDefault:"2s"`
	}
	type settings struct {
		Name  string `env:"TEST_NAME"`
		Count int    `env:"TEST_COUNT" envDefault:"3"`
		Inner inner
	}
	var s settings
	if err := Parse([]string{"TEST_NAME=a=b", "NOT_A_PAIR", "OTHER=x"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "a=b" || s.Count != 3 || s.Inner.Wait != 2*time.Second {
		t.Errorf("Parse = %+v", s)
	}
	for kv, name := range map[string]string{"TEST_COUNT=many": "TEST_COUNT", "TEST_WAIT=later": "TEST_WAIT"} {
		if err := Parse([]string{kv}, &settings{}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want it to name %s", kv, err, name)
		}
	}
	if err := Parse(nil, settings{}); err == nil {
		t.Error("Parse into a struct value (not a pointer) succeeded")
	}
}
