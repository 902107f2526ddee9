// Package s3blob is the ports.Blobs adapter for Amazon S3 and S3-compatible
// servers: a private bucket that clients read and write only through
// presigned requests.
//
// Uploads are presigned PUTs whose SigV4 signature covers the key, the
// Content-Type and the Content-Length headers and "If-None-Match: *", so S3
// itself refuses a body of another size or type, another key, a tampered
// signature and an expired URL, and writes the key once: a replay or any
// later upload to a key that holds an object gets 412 PreconditionFailed
// (409 ConditionalRequestConflict for the loser of a race). A presigned PUT was chosen over a POST policy because the SDK presigns
// it with its own, maintained signer (a POST policy would need hand-built
// policy documents and signatures), because an exact signed Content-Length
// is stricter than a content-length-range, and because the memory adapter's
// uploads are PUTs too, so clients have one upload path. Browsers set
// Content-Length from the body themselves; they must send the file as is
// with the returned headers.
//
// Downloads are presigned GETs that override the response's Content-Type,
// Content-Disposition and Cache-Control, or CDN URLs when Config.CDNURL is
// set (CloudFront signed URLs when a key pair is configured), which serve
// the object's stored metadata. No object is ever public.
//
// Browser uploads need a CORS rule on the bucket: see CORSRules, and
// Store.Setup, which prepares a bucket.
//
// IAM: the credentials need s3:PutObject, s3:GetObject, s3:DeleteObject and
// s3:AbortMultipartUpload on the bucket's objects and s3:ListBucket on the
// bucket. Without ListBucket, S3 answers 403 instead of 404 for a missing
// key, and Stat would report Internal instead of NotFound. A lifecycle rule
// that aborts incomplete multipart uploads after a day sweeps the parts of
// any Put of a stream that died mid-way.
package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cloudpost/cloudpost/adapters/internal/blobcheck"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// S3 limits the adapter checks before sending anything.
const (
	// MaxKeyLen is the longest key in bytes (blobcheck.MaxKeyLen).
	MaxKeyLen = blobcheck.MaxKeyLen
	// MaxObjectSize is the largest object a single PUT may carry
	// (blobcheck.MaxObjectSize).
	MaxObjectSize = blobcheck.MaxObjectSize
	// MaxExpires is the longest validity of a presigned URL (SigV4's limit;
	// with temporary credentials a URL also dies with its session).
	MaxExpires = 7 * 24 * time.Hour
	// maxDeleteBatch is the most keys one DeleteObjects request takes.
	maxDeleteBatch = 1000
)

// Store is a ports.Blobs over one S3 bucket. It is safe for concurrent use.
type Store struct {
	bucket  string
	client  *s3.Client
	presign *s3.PresignClient
	cdn     *cdn
	log     *slog.Logger
}

var _ ports.Blobs = (*Store)(nil)

// New returns a Store for cfg with credentials from the AWS default chain
// (environment, shared config files, container or instance role). It reads
// local configuration only; no request is sent until the Store is used.
// log may be nil (slog.Default). Returns an error naming the variable when
// cfg is invalid.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("s3blob: loading the AWS configuration: %w", err)
	}
	return NewWithAWS(cfg, awsCfg, log)
}

// NewWithAWS returns a Store for cfg that uses awsCfg (credentials, retryer,
// HTTP client); cfg.Region overrides awsCfg.Region. It does no
// I/O. log may be nil (slog.Default). Returns an error naming the variable
// when cfg is invalid.
func NewWithAWS(cfg Config, awsCfg aws.Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, err := newCDN(cfg)
	if err != nil {
		return nil, fmt.Errorf("CLOUDPOST_CLOUDFRONT_PRIVATE_KEY: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Region != "" {
			o.Region = cfg.Region
		}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimSuffix(cfg.Endpoint, "/"))
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &Store{
		bucket:  cfg.Bucket,
		client:  client,
		presign: s3.NewPresignClient(client),
		cdn:     d,
		log:     log,
	}, nil
}

// Client returns the underlying S3 client, for tasks outside the port
// (tests' inspection of the bucket; Setup prepares the bucket itself).
func (s *Store) Client() *s3.Client { return s.client }

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Ping checks that the bucket exists and the credentials may use it
// (HeadBucket). Returns Unavailable when S3 cannot be reached or throttles,
// Internal (logged) when the bucket is missing or access is denied.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err != nil {
		// A HEAD answer has no body: a missing bucket shows up as NotFound.
		e := s.translate(ctx, "HeadBucket", "", err)
		if domain.IsCode(e, domain.NotFound) {
			s.log.ErrorContext(ctx, "s3blob: bucket not found", "bucket", s.bucket)
			return domain.Wrap(err, domain.Internal, "the media bucket does not exist")
		}
		return e
	}
	return nil
}

// PresignUpload returns a PUT target for exactly p.Key, p.ContentType and
// p.Size bytes, valid for p.Expires, that writes once: the URL's SigV4
// signature covers the Host, Content-Type, Content-Length and If-None-Match
// headers, so S3 refuses anything else, and with "If-None-Match: *" S3
// refuses the upload (412 PreconditionFailed; 409
// ConditionalRequestConflict to the loser of concurrent uploads) once an
// object exists at the key. Headers holds the Content-Type and
// If-None-Match headers to send. Returns Invalid for a
// malformed key (see Put), a content type that is not a media type, a size
// below 1 or above MaxObjectSize, or an expiry outside [1s, MaxExpires];
// Internal or Unavailable when credentials cannot be retrieved.
func (s *Store) PresignUpload(ctx context.Context, p ports.UploadPolicy) (domain.UploadTarget, error) {
	if err := blobcheck.Key(p.Key); err != nil {
		return domain.UploadTarget{}, err
	}
	if err := blobcheck.ContentType(p.ContentType); err != nil {
		return domain.UploadTarget{}, err
	}
	if err := blobcheck.UploadSize(p.Size); err != nil {
		return domain.UploadTarget{}, err
	}
	exp, err := expiry(p.Expires)
	if err != nil {
		return domain.UploadTarget{}, err
	}
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &p.Key,
		ContentType:   &p.ContentType,
		ContentLength: &p.Size,
		// Signed, so the client must send it and cannot drop it.
		IfNoneMatch: aws.String("*"),
	}, s3.WithPresignExpires(p.Expires))
	if err != nil {
		return domain.UploadTarget{}, s.translate(ctx, "PresignPutObject", p.Key, err)
	}
	return domain.UploadTarget{
		Method:    http.MethodPut,
		URL:       req.URL,
		Headers:   map[string]string{"Content-Type": p.ContentType, "If-None-Match": "*"},
		ExpiresAt: exp,
	}, nil
}

// PresignDownload returns a GET URL for p.Key valid for p.Expires.
//
// Without a CDN it is a presigned S3 GET whose signed query overrides the
// response headers: Content-Type p.ContentType (when set),
// Content-Disposition "attachment" (when p.Attachment) and Cache-Control
// "private, max-age=<p.Expires in whole seconds>", so only the browser
// keeps the bytes and no longer than the URL is valid; changing an
// override breaks the signature.
//
// With Config.CDNURL it is the CDN URL, plain or, with a CloudFront key
// pair, signed to expire between p.Expires and p.Expires*9/8 from now (a
// signed URL is reused for later calls while it still lasts p.Expires: an
// RSA signature costs most of a millisecond). A CDN URL cannot carry the
// overrides (CloudFront would have to forward and cache on the response-*
// query, and a canned-policy URL is shared by every caller of the key): the
// response has the object's stored Content-Type and Cache-Control (see
// Put), p.ContentType and p.Attachment are not applied, and a browser may
// keep the response for the stored max-age, past the URL's expiry.
//
// It does not check that the object exists. Returns Invalid for a malformed
// key, a content type that is not a media type, or an expiry outside [1s,
// MaxExpires]; Internal or Unavailable when credentials cannot be
// retrieved or the CDN URL cannot be signed.
func (s *Store) PresignDownload(ctx context.Context, p ports.DownloadPolicy) (string, error) {
	if err := blobcheck.Key(p.Key); err != nil {
		return "", err
	}
	if p.ContentType != "" {
		if err := blobcheck.ContentType(p.ContentType); err != nil {
			return "", err
		}
	}
	if _, err := expiry(p.Expires); err != nil {
		return "", err
	}
	if s.cdn != nil {
		u, err := s.cdn.url(p.Key, p.Expires, time.Now())
		if err != nil {
			return "", s.translate(ctx, "SignCDNURL", p.Key, err)
		}
		return u, nil
	}
	in := &s3.GetObjectInput{
		Bucket:               &s.bucket,
		Key:                  &p.Key,
		ResponseCacheControl: aws.String("private, max-age=" + strconv.FormatInt(int64(p.Expires/time.Second), 10)),
	}
	if p.ContentType != "" {
		in.ResponseContentType = &p.ContentType
	}
	if p.Attachment {
		in.ResponseContentDisposition = aws.String("attachment")
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(p.Expires))
	if err != nil {
		return "", s.translate(ctx, "PresignGetObject", p.Key, err)
	}
	return req.URL, nil
}

// Stat returns the object's key, size, content type and ETag (HeadObject).
// Returns NotFound, Unavailable (S3 down or throttling after the SDK's
// retries) or Internal (access denied and other failures, logged).
func (s *Store) Stat(ctx context.Context, key string) (domain.ObjectInfo, error) {
	if blobcheck.Key(key) != nil {
		return domain.ObjectInfo{}, notFound(key) // Put never stores such a key
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return domain.ObjectInfo{}, s.translate(ctx, "HeadObject", key, err)
	}
	return domain.ObjectInfo{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ETag:        aws.ToString(out.ETag),
	}, nil
}

// Open returns the object's body as a stream (GetObject); nothing is
// buffered beyond the HTTP client's. The caller closes it. Returns NotFound,
// Unavailable or Internal as Stat does.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, domain.ObjectInfo, error) {
	if blobcheck.Key(key) != nil {
		return nil, domain.ObjectInfo{}, notFound(key)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, domain.ObjectInfo{}, s.translate(ctx, "GetObject", key, err)
	}
	return &body{rc: out.Body, s: s, key: key}, domain.ObjectInfo{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ETag:        aws.ToString(out.ETag),
	}, nil
}

// body translates read errors of an object stream into domain errors.
type body struct {
	rc  io.ReadCloser
	s   *Store
	key string
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		return n, domain.Wrap(err, domain.Unavailable, "reading the object from S3 failed")
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// ReadHead returns the first n bytes of the object (all of it when shorter)
// with a ranged GET; n == 0 sends a HeadObject instead, since "bytes=0--1"
// is not a range. Returns NotFound, Invalid for a negative n, Unavailable
// or Internal as Stat does.
func (s *Store) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	if n < 0 {
		return nil, domain.Errorf(domain.Invalid, "n must not be negative")
	}
	if n == 0 {
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return []byte{}, nil
	}
	if blobcheck.Key(key) != nil {
		return nil, notFound(key)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.bucket,
		Key:    &key,
		Range:  aws.String("bytes=0-" + strconv.FormatInt(n-1, 10)),
	})
	if err != nil {
		if isCode(err, "InvalidRange") {
			// Only an empty object has no byte 0; a missing one is NoSuchKey.
			return []byte{}, nil
		}
		return nil, s.translate(ctx, "GetObject", key, err)
	}
	defer out.Body.Close()
	// The limit guards against a server that ignores the Range header.
	head, err := io.ReadAll(io.LimitReader(out.Body, n))
	if err != nil {
		return nil, s.translate(ctx, "GetObject", key, err)
	}
	return head, nil
}

// Put stores o.Size bytes read from body under o.Key with o.ContentType,
// replacing any object there (S3 replaces objects atomically); it is the
// application's own write and is not conditional. A positive o.MaxAge is
// stored as the object's Cache-Control "max-age=<whole seconds>": presigned
// GETs replace it with their own private one, so it matters only for CDN
// URLs, where CloudFront (the shared cache in front of the private bucket,
// which only signed URLs and the origin access control let through) must
// be allowed to cache the object, hence neither "private" nor "no-store";
// "immutable" is left out because the pipeline may write a key again.
//
// A body that is an io.ReadSeeker (bytes.Reader, os.File) is measured
// before anything is sent and then streamed in one PUT with a checksum.
// Any other body is read in parts of PartSize bytes, so memory stays
// bounded by one part: a body of up to PartSize bytes goes in one PUT once
// it is known to hold exactly o.Size bytes, a larger one as a multipart
// upload that is completed only after the body has been seen to end at
// o.Size (and aborted otherwise). Either way S3 never stores a body of the
// wrong size, and every request is checksummed and retried by the SDK.
//
// Returns Invalid when body does not hold exactly o.Size bytes, for a size
// outside [0, MaxObjectSize], an empty or malformed content type, or a
// malformed key: empty, longer than MaxKeyLen bytes, not UTF-8, with
// control characters, or with empty, "." or ".." segments. Returns
// Internal when reading body fails, Unavailable when the server is full
// (507, QuotaExceeded), and Unavailable or Internal as Stat does.
func (s *Store) Put(ctx context.Context, o ports.Object, r io.Reader) error {
	if err := blobcheck.Key(o.Key); err != nil {
		return err
	}
	if err := blobcheck.ContentType(o.ContentType); err != nil {
		return err
	}
	if err := blobcheck.PutSize(o.Size); err != nil {
		return err
	}
	h := objectHeaders{contentType: o.ContentType}
	if o.MaxAge > 0 {
		h.cacheControl = aws.String("max-age=" + strconv.FormatInt(int64(o.MaxAge/time.Second), 10))
	}
	if rs, ok := r.(io.ReadSeeker); ok {
		n, err := remaining(rs)
		if err != nil {
			return domain.Wrap(err, domain.Internal, "measuring the object body failed")
		}
		if n != o.Size {
			return blobcheck.WrongSize(o.Size)
		}
		return s.putObject(ctx, o.Key, h, rs, o.Size)
	}
	if o.Size > PartSize {
		return s.putMultipart(ctx, o.Key, h, r, o.Size)
	}
	buf := make([]byte, o.Size)
	if err := blobcheck.ReadExactly(r, buf, true); err != nil {
		return blobcheck.PutBodyError(o.Size, err)
	}
	return s.putObject(ctx, o.Key, h, bytes.NewReader(buf), o.Size)
}

// objectHeaders are the stored headers of an object Put writes.
type objectHeaders struct {
	contentType  string
	cacheControl *string
}

// PartSize is the part size of multipart uploads, and so the most memory
// Put uses for a body that is not an io.ReadSeeker.
const PartSize = 8 << 20

// putObject sends a seekable body of exactly size bytes in one PutObject.
func (s *Store) putObject(ctx context.Context, key string, h objectHeaders, body io.ReadSeeker, size int64) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, ContentType: &h.contentType, CacheControl: h.cacheControl, ContentLength: &size, Body: body,
	})
	if err != nil {
		return s.translate(ctx, "PutObject", key, err)
	}
	return nil
}

// putMultipart streams r as a multipart upload of PartSize parts, each
// CRC32-checksummed, and completes it only once r has ended at size.
func (s *Store) putMultipart(ctx context.Context, key string, h objectHeaders, r io.Reader, size int64) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, ContentType: &h.contentType, CacheControl: h.cacheControl, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return s.translate(ctx, "CreateMultipartUpload", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is what failed, so no parts linger (a bucket
		// lifecycle rule for incomplete uploads catches any that still do).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: up.UploadId}); aerr != nil {
			s.log.WarnContext(ctx, "s3blob: multipart upload not aborted", "bucket", s.bucket, "key", key, "uploadId", aws.ToString(up.UploadId), "err", aerr)
		}
	}()
	buf := make([]byte, PartSize)
	var parts []types.CompletedPart
	for left, num := size, int32(1); left > 0; num++ {
		part := buf[:min(left, PartSize)]
		left -= int64(len(part))
		if err := blobcheck.ReadExactly(r, part, left == 0); err != nil {
			return blobcheck.PutBodyError(size, err)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(num),
			ContentLength: aws.Int64(int64(len(part))), Body: bytes.NewReader(part), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return s.translate(ctx, "UploadPart", key, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32: out.ChecksumCRC32})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return s.translate(ctx, "CompleteMultipartUpload", key, err)
	}
	return nil
}

// Delete removes the objects with DeleteObjects, up to 1000 keys per
// request. Keys that do not exist (including malformed keys, which Put
// never stores) are ignored. Returns Unavailable or Internal as Stat does,
// for the first key that could not be deleted; the other batches are still
// attempted.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	ids := make([]types.ObjectIdentifier, 0, len(keys))
	for _, k := range keys {
		if blobcheck.Key(k) == nil {
			ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
		}
	}
	var first error
	for len(ids) > 0 {
		batch := ids[:min(len(ids), maxDeleteBatch)]
		ids = ids[len(batch):]
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
		})
		if err != nil {
			if first == nil {
				first = s.translate(ctx, "DeleteObjects", aws.ToString(batch[0].Key), err)
			}
			continue
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			err := s.translate(ctx, "DeleteObjects", aws.ToString(e.Key), &objectError{code: aws.ToString(e.Code), message: aws.ToString(e.Message)})
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// remaining returns how many bytes rs holds from its current offset, and
// leaves the offset where it was.
func remaining(rs io.ReadSeeker) (int64, error) {
	cur, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if _, err := rs.Seek(cur, io.SeekStart); err != nil {
		return 0, err
	}
	return end - cur, nil
}

// expiry returns when a URL signed now for d expires. SigV4 signing times
// have second precision and are taken after this, so the URL never dies
// before the time returned.
func expiry(d time.Duration) (time.Time, error) {
	if d < time.Second || d > MaxExpires {
		return time.Time{}, domain.Errorf(domain.Invalid, "expiry must be between 1s and %s", MaxExpires)
	}
	return time.Now().UTC().Truncate(time.Second).Add(d.Truncate(time.Second)), nil
}

func notFound(key string) error {
	return domain.Errorf(domain.NotFound, "object %q not found", key)
}
