package s3blob_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestContract runs the blob port's contract suite against versitygw: the
// upload-enforcement cases (tampered signature, expiry, content type, larger
// and smaller bodies, chunked bodies, another key) are refused by the S3
// server itself.
func TestContract(t *testing.T) {
	s := newTestStore(t, discardLog())
	porttest.RunBlobs(t, func(t *testing.T) porttest.BlobHarness {
		return porttest.BlobHarness{Blobs: s}
	})
}
