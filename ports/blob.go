package ports

import (
	"context"
	"io"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// UploadPolicy is what a presigned upload allows: exactly one key, one
// content type and exactly Size bytes, until Expires from now, and only
// while no object exists at the key.
type UploadPolicy struct {
	Key         string
	ContentType string
	Size        int64
	Expires     time.Duration
}

// DownloadPolicy is what a presigned download serves: the object at Key,
// until Expires from now.
type DownloadPolicy struct {
	Key     string
	Expires time.Duration
	// ContentType, when set, is the Content-Type of the response whatever
	// type the object was stored with (the type the pipeline verified).
	ContentType string
	// Attachment makes the response a download (Content-Disposition:
	// attachment): a browser that navigates to the URL saves the bytes
	// instead of rendering them. Images still load in <img>.
	Attachment bool
}

// Object describes an object the application writes itself.
type Object struct {
	Key         string
	ContentType string
	// Size is the exact number of bytes the body holds.
	Size int64
	// MaxAge, when positive, is how long caches may keep the object
	// (stored as its Cache-Control, for CDNs that serve it as stored).
	MaxAge time.Duration
}

// Blobs stores media bytes under keys. It never makes an object public:
// clients read and write only through presigned requests.
type Blobs interface {
	// PresignUpload returns a request the client uses to upload the bytes
	// directly. The storage service itself must refuse a request with a bad
	// or tampered signature, after expiry, for another key, with another
	// content type or with a body of another size (Forbidden or Invalid at
	// upload time). The target writes once: once an object exists at the
	// key, every upload to it (through this target or any other) is refused
	// (PreconditionFailed at upload time) and the object is left as it was.
	// Returns Invalid for an empty key or a size below 1.
	PresignUpload(ctx context.Context, p UploadPolicy) (domain.UploadTarget, error)
	// PresignDownload returns a URL that lets anyone holding it GET the
	// object until p.Expires from now, with p.ContentType and p.Attachment
	// applied and a Cache-Control that lets browsers (not shared caches)
	// keep the response no longer than the URL is valid. It does not check
	// that the object exists. Returns Invalid for an empty key or an expiry
	// out of range.
	PresignDownload(ctx context.Context, p DownloadPolicy) (string, error)
	// Stat returns the object's size, content type and ETag. Returns NotFound.
	Stat(ctx context.Context, key string) (domain.ObjectInfo, error)
	// Open returns a reader of the object's bytes; the caller closes it.
	// The ObjectInfo describes the bytes the reader returns. Returns NotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, domain.ObjectInfo, error)
	// ReadHead returns the first n bytes of the object (fewer if it is
	// shorter). Returns NotFound.
	ReadHead(ctx context.Context, key string, n int64) ([]byte, error)
	// Put stores o.Size bytes from body under o.Key with o.ContentType (and
	// o.MaxAge as its Cache-Control), replacing any object there: it is
	// the application's own write, not a client upload. Returns Invalid if
	// body does not hold exactly o.Size bytes, Unavailable when the store
	// is full or down.
	Put(ctx context.Context, o Object, body io.Reader) error
	// Delete removes the objects; keys that do not exist are not an error.
	Delete(ctx context.Context, keys ...string) error
}
