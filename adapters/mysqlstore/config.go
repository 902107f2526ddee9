package mysqlstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TLS modes of Config.TLS.
const (
	// TLSRDS verifies the server against the embedded Amazon RDS CA bundle
	// (plus CLOUDPOST_MYSQL_CA_FILE when set).
	TLSRDS = "rds"
	// TLSTrue verifies the server against the system roots (plus
	// CLOUDPOST_MYSQL_CA_FILE when set).
	TLSTrue = "true"
	// TLSFalse leaves TLS to the DSN (off unless it sets tls=...).
	TLSFalse = "false"
)

// Migrate modes of Config.Migrate.
const (
	// MigrateAuto applies pending migrations when the app starts.
	MigrateAuto = "auto"
	// MigrateOff never migrates at start-up: run `cloudpost migrate up`.
	MigrateOff = "off"
)

// Config is the MySQL storage configuration, read from CLOUDPOST_MYSQL_*
// variables (caarlos0/env tags). The defaults suit Lambda: a small pool whose
// idle connections close quickly, short timeouts.
type Config struct {
	// DSN is the writer in go-sql-driver form:
	// user:password@tcp(host:3306)/dbname. Leave the password out with IAM
	// auth. parseTime, loc=UTC and interpolateParams=true are always set.
	DSN string `env:"CLOUDPOST_MYSQL_DSN"`
	// ReaderDSN is an optional read replica (the Aurora reader endpoint);
	// empty: every statement goes to the writer.
	ReaderDSN string `env:"CLOUDPOST_MYSQL_READER_DSN"`
	// TLS is rds (verify with the embedded RDS CA bundle), true (verify with
	// the system roots) or false (whatever the DSN says).
	TLS string `env:"CLOUDPOST_MYSQL_TLS" envDefault:"false"`
	// CAFile is a PEM file of extra CA certificates trusted with TLS=rds or
	// TLS=true (e.g. a newer RDS global-bundle.pem).
	CAFile string `env:"CLOUDPOST_MYSQL_CA_FILE"`
	// IAMAuth connects with RDS IAM database authentication: every new
	// connection gets a freshly signed token (valid 15 minutes) as password.
	IAMAuth bool `env:"CLOUDPOST_MYSQL_IAM_AUTH" envDefault:"false"`
	// Region is the AWS region for IAM tokens; empty: the SDK's default
	// (AWS_REGION).
	Region string `env:"CLOUDPOST_MYSQL_REGION"`
	// MaxOpenConns bounds each pool (the writer's two, single statements
	// and transactions, and the reader).
	MaxOpenConns int `env:"CLOUDPOST_MYSQL_MAX_OPEN_CONNS" envDefault:"10"`
	// MaxIdleConns is how many idle connections each pool keeps.
	MaxIdleConns int `env:"CLOUDPOST_MYSQL_MAX_IDLE_CONNS" envDefault:"10"`
	// ConnMaxIdleTime closes connections idle this long (a frozen Lambda's
	// connections are dropped by the server or RDS Proxy anyway).
	ConnMaxIdleTime time.Duration `env:"CLOUDPOST_MYSQL_CONN_MAX_IDLE_TIME" envDefault:"30s"`
	// ConnMaxLifetime recycles connections (new replicas get traffic, IAM
	// tokens are re-signed).
	ConnMaxLifetime time.Duration `env:"CLOUDPOST_MYSQL_CONN_MAX_LIFETIME" envDefault:"5m"`
	// DialTimeout bounds opening a connection.
	DialTimeout time.Duration `env:"CLOUDPOST_MYSQL_DIAL_TIMEOUT" envDefault:"3s"`
	// QueryTimeout bounds each storage operation (all its statements and
	// retries); the request context can only shorten it.
	QueryTimeout time.Duration `env:"CLOUDPOST_MYSQL_QUERY_TIMEOUT" envDefault:"5s"`
	// ReadYourWrites is how long reads that depend on something this
	// process wrote go to the writer instead of the reader.
	ReadYourWrites time.Duration `env:"CLOUDPOST_MYSQL_READ_YOUR_WRITES" envDefault:"5s"`
	// Retries is how many times a transaction that hit a deadlock (1213) or
	// a lock wait timeout (1205) is run again.
	Retries int `env:"CLOUDPOST_MYSQL_RETRIES" envDefault:"3"`
	// Migrate is auto (apply pending migrations at start-up) or off. Keep
	// it off on Lambda: run `cloudpost migrate up` once per deployment.
	Migrate string `env:"CLOUDPOST_MIGRATE" envDefault:"off"`
}

// DefaultConfig returns the configuration with every default applied and
// no DSN (what caarlos0/env yields with no variables set).
func DefaultConfig() Config {
	return Config{
		TLS: TLSFalse, MaxOpenConns: 10, MaxIdleConns: 10,
		ConnMaxIdleTime: 30 * time.Second, ConnMaxLifetime: 5 * time.Minute,
		DialTimeout: 3 * time.Second, QueryTimeout: 5 * time.Second,
		ReadYourWrites: 5 * time.Second, Retries: 3, Migrate: MigrateOff,
	}
}

// Validate checks the configuration; every message names the variable.
// Call it when CLOUDPOST_STORAGE=mysql.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	checkDSN := func(name, dsn string, required bool) {
		if dsn == "" {
			if required {
				bad(name, "is required with CLOUDPOST_STORAGE=mysql (user:password@tcp(host:3306)/dbname)")
			}
			return
		}
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			// The driver's message may quote the DSN, password included.
			bad(name, "is not a valid DSN of the form user:password@tcp(host:3306)/dbname")
			return
		}
		if mc.DBName == "" {
			bad(name, "names no database (…/dbname)")
		}
		if c.IAMAuth && mc.Passwd != "" {
			bad(name, "must not carry a password with CLOUDPOST_MYSQL_IAM_AUTH=true (the IAM token is the password)")
		}
		if c.IAMAuth && mc.User == "" {
			bad(name, "must name the database user with CLOUDPOST_MYSQL_IAM_AUTH=true")
		}
	}
	checkDSN("CLOUDPOST_MYSQL_DSN", c.DSN, true)
	checkDSN("CLOUDPOST_MYSQL_READER_DSN", c.ReaderDSN, false)
	switch c.TLS {
	case TLSRDS, TLSTrue, TLSFalse:
	default:
		bad("CLOUDPOST_MYSQL_TLS", "must be rds, true or false, not %q", c.TLS)
	}
	if c.CAFile != "" && c.TLS == TLSFalse {
		bad("CLOUDPOST_MYSQL_CA_FILE", "is only used with CLOUDPOST_MYSQL_TLS=rds or true")
	}
	if c.IAMAuth && c.TLS == TLSFalse {
		bad("CLOUDPOST_MYSQL_IAM_AUTH", "needs CLOUDPOST_MYSQL_TLS=rds or true: IAM tokens are sent as clear-text passwords")
	}
	if c.MaxOpenConns < 1 || c.MaxOpenConns > 1000 {
		bad("CLOUDPOST_MYSQL_MAX_OPEN_CONNS", "must be between 1 and 1000")
	}
	if c.MaxIdleConns < 0 || c.MaxIdleConns > c.MaxOpenConns {
		bad("CLOUDPOST_MYSQL_MAX_IDLE_CONNS", "must be between 0 and CLOUDPOST_MYSQL_MAX_OPEN_CONNS")
	}
	if c.ConnMaxIdleTime < time.Second {
		bad("CLOUDPOST_MYSQL_CONN_MAX_IDLE_TIME", "must be at least 1s")
	}
	if c.ConnMaxLifetime < time.Second {
		bad("CLOUDPOST_MYSQL_CONN_MAX_LIFETIME", "must be at least 1s")
	}
	if c.DialTimeout < 100*time.Millisecond || c.DialTimeout > time.Minute {
		bad("CLOUDPOST_MYSQL_DIAL_TIMEOUT", "must be between 100ms and 1m")
	}
	if c.QueryTimeout < 100*time.Millisecond || c.QueryTimeout > 10*time.Minute {
		bad("CLOUDPOST_MYSQL_QUERY_TIMEOUT", "must be between 100ms and 10m")
	}
	if c.ReadYourWrites < 0 || c.ReadYourWrites > time.Hour {
		bad("CLOUDPOST_MYSQL_READ_YOUR_WRITES", "must be between 0s and 1h")
	}
	if c.Retries < 0 || c.Retries > 20 {
		bad("CLOUDPOST_MYSQL_RETRIES", "must be between 0 and 20")
	}
	switch c.Migrate {
	case MigrateAuto, MigrateOff:
	default:
		bad("CLOUDPOST_MIGRATE", "must be auto or off, not %q", c.Migrate)
	}
	return errors.Join(errs...)
}

// hasParam reports whether the DSN sets the parameter explicitly.
func hasParam(dsn, name string) bool {
	_, query, ok := strings.Cut(dsn, "?")
	if !ok {
		return false
	}
	for kv := range strings.SplitSeq(query, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}
