package ports

import (
	"context"
	"io"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// UploadPolicy is what a presigned upload allows: exactly one key, one
// content type and exactly Size bytes, until Expires from now.
type UploadPolicy struct {
	Key         string
	ContentType string
	Size        int64
	Expires     time.Duration
}

// Blobs stores media bytes under keys. It never makes an object public:
// clients read and write only through presigned requests.
type Blobs interface {
	// PresignUpload returns a request the client uses to upload the bytes
	// directly. The storage service itself must refuse a request with a bad
	// or tampered signature, after expiry, for another key, with another
	// content type or with a body of another size (Forbidden or Invalid at
	// upload time). Returns Invalid for an empty key or a size below 1.
	PresignUpload(ctx context.Context, p UploadPolicy) (domain.UploadTarget, error)
	// PresignDownload returns a URL that lets anyone holding it GET the
	// object until expires from now. It does not check that the object
	// exists.
	PresignDownload(ctx context.Context, key string, expires time.Duration) (string, error)
	// Stat returns the object's size and content type. Returns NotFound.
	Stat(ctx context.Context, key string) (domain.ObjectInfo, error)
	// Open returns a reader of the object's bytes; the caller closes it.
	// Returns NotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, domain.ObjectInfo, error)
	// ReadHead returns the first n bytes of the object (fewer if it is
	// shorter). Returns NotFound.
	ReadHead(ctx context.Context, key string, n int64) ([]byte, error)
	// Put stores size bytes from body under key with the content type,
	// replacing any object there. Returns Invalid if body does not hold
	// exactly size bytes.
	Put(ctx context.Context, key, contentType string, body io.Reader, size int64) error
	// Delete removes the objects; keys that do not exist are not an error.
	Delete(ctx context.Context, keys ...string) error
}
