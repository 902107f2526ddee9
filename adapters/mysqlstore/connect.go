package mysqlstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	rdsauth "github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/go-sql-driver/mysql"
)

// rdsCABundle is Amazon's CA bundle for RDS, Aurora and RDS Proxy (see the
// header of the file for its source).
//
//go:embed certs/rds-ca-bundle.pem
var rdsCABundle []byte

// OpenDB returns a connection pool for dsn configured by c: the driver
// options this package relies on (parseTime, UTC, client-side parameter
// interpolation unless the DSN sets interpolateParams=false), TLS, IAM
// tokens, timeouts and pool sizes. It does no I/O: connections are opened
// on first use.
func OpenDB(c Config, dsn string, writer bool) (*sql.DB, error) {
	return openDB(c, dsn, writer, false)
}

// openDB is OpenDB; forTransactions turns autocommit off on every
// connection (the pool of Options.Transactions).
func openDB(c Config, dsn string, writer, forTransactions bool) (*sql.DB, error) {
	mc, err := driverConfig(c, dsn, writer)
	if err != nil {
		return nil, err
	}
	if forTransactions {
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params["autocommit"] = "0"
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	db.SetConnMaxIdleTime(c.ConnMaxIdleTime)
	db.SetConnMaxLifetime(c.ConnMaxLifetime)
	return db, nil
}

// driverConfig turns dsn into the driver configuration.
func driverConfig(c Config, dsn string, writer bool) (*mysql.Config, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("mysqlstore: invalid DSN") // the driver's message may quote the password
	}
	mc.ParseTime = true
	mc.Loc = time.UTC
	// One round trip per statement and no server-side statement handles
	// (which would also pin RDS Proxy sessions); see the package doc.
	if !hasParam(dsn, "interpolateParams") {
		mc.InterpolateParams = true
	}
	if !hasParam(dsn, "timeout") {
		mc.Timeout = c.DialTimeout
	}
	// Socket-level bounds for a peer that vanished without a reset; the
	// operation's context deadline (QueryTimeout) normally fires first.
	if !hasParam(dsn, "readTimeout") {
		mc.ReadTimeout = 2*c.QueryTimeout + 30*time.Second
	}
	if !hasParam(dsn, "writeTimeout") {
		mc.WriteTimeout = 2*c.QueryTimeout + 30*time.Second
	}
	// After an Aurora failover the old writer turns read-only: error 1290
	// then drops the connection so the pool reconnects (DNS moves to the
	// new writer) instead of failing every write on a stale connection.
	mc.RejectReadOnly = writer
	if c.TLS != TLSFalse {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		mc.TLS = tc
		mc.TLSConfig = ""
		// ParseDSN does not run normalisation for a TLS we set ourselves.
		if host, _, ok := splitHost(mc.Addr); ok {
			mc.TLS.ServerName = host
		}
	}
	if c.IAMAuth {
		mc.AllowCleartextPasswords = true
		if err := mc.Apply(mysql.BeforeConnect(iamTokenHook(c.Region, nil))); err != nil {
			return nil, err
		}
	}
	return mc, nil
}

// tlsConfig builds the TLS settings for c.TLS (rds or true).
func tlsConfig(c Config) (*tls.Config, error) {
	var pool *x509.CertPool
	switch c.TLS {
	case TLSRDS:
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(rdsCABundle) {
			return nil, errors.New("mysqlstore: the embedded RDS CA bundle holds no certificate")
		}
	case TLSTrue:
		sys, err := x509.SystemCertPool()
		if err != nil {
			sys = x509.NewCertPool()
		}
		pool = sys
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CLOUDPOST_MYSQL_CA_FILE: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CLOUDPOST_MYSQL_CA_FILE: %s holds no PEM certificate", c.CAFile)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// splitHost returns the host of a host:port address.
func splitHost(addr string) (string, string, bool) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			host := addr[:i]
			if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
				host = host[1 : len(host)-1]
			}
			return host, addr[i+1:], true
		}
	}
	return "", "", false
}

// iamTokenHook returns the driver's BeforeConnect hook for IAM database
// authentication: it signs a fresh token (valid 15 minutes) for every new
// connection, so tokens never expire in use (the server checks the token
// only when a connection is opened). creds nil loads the SDK's default
// credential chain on first use, not at construction (no I/O there).
func iamTokenHook(region string, creds aws.CredentialsProvider) func(context.Context, *mysql.Config) error {
	var mu sync.Mutex
	return func(ctx context.Context, mc *mysql.Config) error {
		mu.Lock()
		if creds == nil || region == "" {
			opts := []func(*awsconfig.LoadOptions) error{}
			if region != "" {
				opts = append(opts, awsconfig.WithRegion(region))
			}
			awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
			if err != nil {
				mu.Unlock()
				return fmt.Errorf("mysqlstore: loading AWS configuration for IAM auth: %w", err)
			}
			if region == "" {
				region = awsCfg.Region
			}
			if creds == nil {
				creds = awsCfg.Credentials
			}
		}
		r, cp := region, creds
		mu.Unlock()
		if r == "" {
			return errors.New("mysqlstore: IAM auth needs a region (CLOUDPOST_MYSQL_REGION or AWS_REGION)")
		}
		token, err := rdsauth.BuildAuthToken(ctx, mc.Addr, r, mc.User, cp)
		if err != nil {
			return fmt.Errorf("mysqlstore: signing the IAM auth token: %w", err)
		}
		mc.Passwd = token
		return nil
	}
}
