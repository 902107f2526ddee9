package mysqlstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/core/domain"
)

// tlsTestServer speaks just enough of the MySQL protocol to upgrade a
// connection to TLS with a certificate of its own test CA, then refuses the
// login with error 1045: a client that gets 1045 has verified the
// certificate; one that distrusts it fails in the TLS handshake.
func tlsTestServer(t *testing.T) (addr, caFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloudpost test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	packet := func(seq byte, payload []byte) []byte {
		h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
		return append(h, payload...)
	}
	readPacket := func(r io.Reader) error {
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return err
		}
		_, err := io.CopyN(io.Discard, r, int64(h[0])|int64(h[1])<<8|int64(h[2])<<16)
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				// Protocol 10 handshake: version, connection id, scramble
				// part 1, filler, capabilities LONG_PASSWORD|PROTOCOL_41|SSL|
				// SECURE_CONNECTION (low) and PLUGIN_AUTH (high), charset,
				// status, scramble length, reserved, scramble part 2, plugin.
				hs := append([]byte{10}, "8.0.36-tls-test\x00"...)
				hs = append(hs, 1, 0, 0, 0)
				hs = append(hs, "abcdefgh"...)
				hs = append(hs, 0)
				hs = binary.LittleEndian.AppendUint16(hs, 0x0001|0x0200|0x0800|0x8000)
				hs = append(hs, 45, 2, 0)
				hs = binary.LittleEndian.AppendUint16(hs, 0x0008)
				hs = append(hs, 21)
				hs = append(hs, make([]byte, 10)...)
				hs = append(hs, "ijklmnopqrst\x00"...)
				hs = append(hs, "mysql_native_password\x00"...)
				if _, err := c.Write(packet(0, hs)); err != nil {
					return
				}
				if readPacket(c) != nil { // the SSL request
					return
				}
				tc := tls.Server(c, serverTLS)
				if tc.Handshake() != nil {
					return
				}
				if readPacket(tc) != nil { // the login, now encrypted
					return
				}
				errPkt := append([]byte{0xff}, binary.LittleEndian.AppendUint16(nil, 1045)...)
				errPkt = append(errPkt, "#28000Access denied (TLS test server)"...)
				_, _ = tc.Write(packet(2, errPkt))
			}()
		}
	}()
	return ln.Addr().String(), caFile
}

// TestTLSVerification connects through the driver configuration the store
// builds: TLS=true with CLOUDPOST_MYSQL_CA_FILE trusts the server's CA and
// gets as far as the login; TLS=rds trusts only Amazon's RDS CAs and
// refuses the same server in the handshake, which the store reports as
// Unavailable.
func TestTLSVerification(t *testing.T) {
	addr, caFile := tlsTestServer(t)
	dsn := "app:pw@tcp(" + addr + ")/cloudpost"
	connect := func(c Config) error {
		mc, err := driverConfig(c, dsn, true)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			t.Fatal(err)
		}
		cn, err := conn.Connect(t.Context())
		if err == nil {
			cn.Close()
		}
		return err
	}

	c := DefaultConfig()
	c.TLS, c.CAFile = TLSTrue, caFile
	err := connect(c)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Errorf("TLS=true with the server's CA: %v, want the server's login refusal (1045) after a verified handshake", err)
	}

	c = DefaultConfig()
	c.TLS = TLSRDS
	err = connect(c)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) && !strings.Contains(fmtErr(err), "certificate") {
		t.Errorf("TLS=rds against a non-RDS certificate: %v, want a certificate error", err)
	}

	c.DSN = dsn
	s, err := Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); domain.ErrorCode(err) != domain.Unavailable {
		t.Errorf("Ping with an untrusted certificate = %v, want Unavailable", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
