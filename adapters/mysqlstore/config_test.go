package mysqlstore

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/caarlos0/env/v11"
	"github.com/go-sql-driver/mysql"
)

func TestConfigDefaultsMatchTags(t *testing.T) {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if c != DefaultConfig() {
		t.Errorf("env defaults %+v differ from DefaultConfig %+v", c, DefaultConfig())
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.DSN = "app:pw@tcp(db.example.com:3306)/cloudpost"
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no DSN", func(c *Config) { c.DSN = "" }, "CLOUDPOST_MYSQL_DSN"},
		{"bad DSN", func(c *Config) { c.DSN = "app:pw@db.example.com/cloudpost" }, "CLOUDPOST_MYSQL_DSN"},
		{"no database", func(c *Config) { c.DSN = "app:pw@tcp(db:3306)/" }, "CLOUDPOST_MYSQL_DSN"},
		{"bad reader DSN", func(c *Config) { c.ReaderDSN = "nonsense@@" }, "CLOUDPOST_MYSQL_READER_DSN"},
		{"bad TLS", func(c *Config) { c.TLS = "yes" }, "CLOUDPOST_MYSQL_TLS"},
		{"IAM without TLS", func(c *Config) { c.IAMAuth, c.DSN = true, "app@tcp(db:3306)/cloudpost" }, "CLOUDPOST_MYSQL_IAM_AUTH"},
		{"IAM with a password", func(c *Config) { c.IAMAuth, c.TLS = true, TLSRDS }, "CLOUDPOST_MYSQL_DSN"},
		{"CA file without TLS", func(c *Config) { c.CAFile = "/x.pem" }, "CLOUDPOST_MYSQL_CA_FILE"},
		{"pool", func(c *Config) { c.MaxOpenConns = 0 }, "CLOUDPOST_MYSQL_MAX_OPEN_CONNS"},
		{"idle", func(c *Config) { c.MaxIdleConns = 11 }, "CLOUDPOST_MYSQL_MAX_IDLE_CONNS"},
		{"idle time", func(c *Config) { c.ConnMaxIdleTime = 0 }, "CLOUDPOST_MYSQL_CONN_MAX_IDLE_TIME"},
		{"lifetime", func(c *Config) { c.ConnMaxLifetime = 0 }, "CLOUDPOST_MYSQL_CONN_MAX_LIFETIME"},
		{"dial", func(c *Config) { c.DialTimeout = time.Hour }, "CLOUDPOST_MYSQL_DIAL_TIMEOUT"},
		{"query", func(c *Config) { c.QueryTimeout = 0 }, "CLOUDPOST_MYSQL_QUERY_TIMEOUT"},
		{"ryw", func(c *Config) { c.ReadYourWrites = -time.Second }, "CLOUDPOST_MYSQL_READ_YOUR_WRITES"},
		{"retries", func(c *Config) { c.Retries = 100 }, "CLOUDPOST_MYSQL_RETRIES"},
		{"migrate", func(c *Config) { c.Migrate = "always" }, "CLOUDPOST_MIGRATE"},
	} {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want a message naming %s", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: the message leaks the password: %v", c.name, err)
		}
	}
}

func TestDriverConfig(t *testing.T) {
	c := DefaultConfig()
	mc, err := driverConfig(c, "app:pw@tcp(db.example.com:3306)/cloudpost", true)
	if err != nil {
		t.Fatal(err)
	}
	if !mc.InterpolateParams || !mc.ParseTime || mc.Loc != time.UTC || !mc.RejectReadOnly || mc.Timeout != c.DialTimeout {
		t.Errorf("driver config %+v lacks the settings the adapter relies on", mc)
	}
	if mc.TLS != nil {
		t.Error("TLS=false set a TLS config")
	}
	if len(mc.Params) != 0 {
		t.Errorf("the adapter added session variables (SET statements pin RDS Proxy): %v", mc.Params)
	}
	// The benchmark's opt-out of client-side interpolation.
	mc, err = driverConfig(c, "app:pw@tcp(db:3306)/cloudpost?interpolateParams=false", false)
	if err != nil || mc.InterpolateParams || mc.RejectReadOnly {
		t.Errorf("interpolateParams=false in the DSN: %v, %v", mc.InterpolateParams, err)
	}
}

func TestTLSConfigRDS(t *testing.T) {
	c := DefaultConfig()
	c.TLS = TLSRDS
	mc, err := driverConfig(c, "app:pw@tcp(mydb.abc.eu-west-1.rds.amazonaws.com:3306)/cloudpost", true)
	if err != nil {
		t.Fatal(err)
	}
	if mc.TLS == nil || mc.TLS.RootCAs == nil || mc.TLS.InsecureSkipVerify || mc.TLS.ServerName != "mydb.abc.eu-west-1.rds.amazonaws.com" {
		t.Fatalf("TLS=rds: %+v", mc.TLS)
	}
	// The embedded bundle holds Amazon's RDS roots, current generation
	// included.
	var names []string
	rest := rdsCABundle
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("bundle certificate: %v", err)
		}
		names = append(names, cert.Subject.CommonName)
	}
	joined := strings.Join(names, "\n")
	for _, want := range []string{"Amazon RDS eu-west-1 Root CA RSA2048 G1", "Amazon RDS us-east-1 Root CA ECC384 G1", "Amazon Root CA 1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the RDS bundle lacks %q", want)
		}
	}

	// CLOUDPOST_MYSQL_CA_FILE adds certificates; a bad file is an error.
	c.CAFile = filepath.Join(t.TempDir(), "none.pem")
	if _, err := driverConfig(c, "app:pw@tcp(db:3306)/cloudpost", true); err == nil {
		t.Error("a missing CA file was accepted")
	}
	if err := os.WriteFile(c.CAFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := driverConfig(c, "app:pw@tcp(db:3306)/cloudpost", true); err == nil {
		t.Error("a CA file without certificates was accepted")
	}
}

// TestIAMTokenHook: every new connection gets a freshly signed RDS IAM
// token for its host, port and user, sent as a clear-text password over TLS.
func TestIAMTokenHook(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	hook := iamTokenHook("eu-west-1", aws.NewCredentialsCache(creds))
	mc := mysql.NewConfig()
	mc.Addr, mc.User = "mydb.abc.eu-west-1.rds.amazonaws.com:3306", "app"
	if err := hook(context.Background(), mc); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse("https://" + mc.Passwd)
	if err != nil {
		t.Fatalf("token %q: %v", mc.Passwd, err)
	}
	q := u.Query()
	if u.Host != mc.Addr || q.Get("Action") != "connect" || q.Get("DBUser") != "app" ||
		q.Get("X-Amz-Expires") != "900" || !strings.Contains(q.Get("X-Amz-Credential"), "eu-west-1/rds-db") || q.Get("X-Amz-Signature") == "" {
		t.Errorf("token %q is not an RDS IAM token for app@%s", mc.Passwd, mc.Addr)
	}
	first := mc.Passwd
	time.Sleep(1100 * time.Millisecond) // tokens carry a second-precision date
	if err := hook(context.Background(), mc); err != nil {
		t.Fatal(err)
	}
	if mc.Passwd == first {
		t.Error("a new connection reused the previous token")
	}

	c := DefaultConfig()
	c.IAMAuth, c.TLS, c.Region = true, TLSRDS, "eu-west-1"
	dmc, err := driverConfig(c, "app@tcp(mydb:3306)/cloudpost", true)
	if err != nil || !dmc.AllowCleartextPasswords || dmc.TLS == nil {
		t.Errorf("IAM driver config: cleartext %v, TLS %v, err %v", dmc.AllowCleartextPasswords, dmc.TLS != nil, err)
	}
}
