package memblob_test

import (
	"net/http/httptest"
	"testing"

	"github.com/cloudpost/cloudpost/adapters/memory/memblob"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	porttest.RunBlobs(t, func(t *testing.T) porttest.BlobHarness {
		var srv *httptest.Server
		s := memblob.New(memblob.Config{BaseURL: func() string { return srv.URL }})
		srv = httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		return porttest.BlobHarness{Blobs: s, HTTPClient: srv.Client()}
	})
}
