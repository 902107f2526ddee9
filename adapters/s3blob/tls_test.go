package s3blob_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudpost/cloudpost/adapters/s3blob"
	"github.com/cloudpost/cloudpost/adapters/s3blob/s3test"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestOverTLS runs the contract suite and the streaming Put cases against a
// versitygw that speaks https, as AWS S3 does: there the SDK signs payloads
// differently (unsigned payload with trailing checksums), so this is the
// production code path.
func TestOverTLS(t *testing.T) {
	requireServer(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	srv, err := s3test.Start(vgw.bin, client, "https", "--cert", certFile, "--key", keyFile)
	if err != nil {
		t.Fatalf("starting versitygw with TLS: %v", err)
	}
	t.Cleanup(srv.Stop)

	awsCfg := testAWSConfig(vgwAccess, vgwSecret)
	awsCfg.HTTPClient = client
	s, err := s3blob.NewWithAWS(s3blob.Config{Bucket: srv.Bucket, Region: vgwRegion, Endpoint: srv.Endpoint, PathStyle: true}, awsCfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Contract", func(t *testing.T) {
		porttest.RunBlobs(t, func(t *testing.T) porttest.BlobHarness {
			return porttest.BlobHarness{Blobs: s, HTTPClient: client}
		})
	})
	t.Run("PutStreams", func(t *testing.T) { testPutStreams(t, s) })
	t.Run("Multipart", func(t *testing.T) {
		const size = s3blob.PartSize + 4321
		key := "uploads/tls/" + porttest.NewID()
		if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: size}, stream{&patternReader{n: size}}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		rc, info, err := s.Open(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n != size || info.Size != size || info.ContentType != "image/png" {
			t.Errorf("Open: %d bytes, %+v, %v", n, info, err)
		}
		if err := s.Put(t.Context(), ports.Object{Key: key, ContentType: "image/png", Size: size}, stream{&patternReader{n: size + 1}}); !domain.IsCode(err, domain.Invalid) {
			t.Errorf("Put(longer): %v, want Invalid", err)
		}
	})
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key into dir.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cloudpost s3blob test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
