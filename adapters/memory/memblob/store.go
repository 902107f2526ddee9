// Package memblob is the in-memory blob store: a mutex-protected map of
// objects plus an http.Handler that serves its presigned URLs, so the local
// Echo app offers the same upload and download flow as S3 without a cloud
// account. Presigned URLs carry an HMAC-SHA256 signature over everything the
// port promises to enforce (method, key, content type, exact size, expiry,
// and for downloads the response overrides). Upload targets write once, as
// S3's conditional writes do, and Config.MaxBytes caps the memory held.
package memblob

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/adapters/internal/blobcheck"
	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// DefaultPathPrefix is the URL path under which Handler serves objects when
// Config.PathPrefix is empty.
const DefaultPathPrefix = "/v1/blobs/"

// Limits mirroring S3, so code that works against the fake also works against
// the real service.
const (
	// MaxKeyLen is the longest key in bytes (blobcheck.MaxKeyLen).
	MaxKeyLen = blobcheck.MaxKeyLen
	// MaxObjectSize is the largest object a single presigned upload may
	// declare (blobcheck.MaxObjectSize).
	MaxObjectSize = blobcheck.MaxObjectSize
	// MaxExpires is the longest validity of a presigned URL (SigV4's limit).
	MaxExpires = 7 * 24 * time.Hour
)

// Query parameters of presigned URLs.
const (
	paramExpires     = "X-Cp-Expires"
	paramSize        = "X-Cp-Size"
	paramSignature   = "X-Cp-Signature"
	paramRespType    = "X-Cp-Response-Content-Type"
	paramDisposition = "X-Cp-Response-Content-Disposition"
)

// dispositionAttachment is the Content-Disposition of a download presigned
// with Attachment (what S3 serves for the same policy).
const dispositionAttachment = "attachment"

// Config configures a Store. The zero value works: random secret, relative
// URLs, wall clock, DefaultPathPrefix.
type Config struct {
	// Secret keys the URL signatures. Nil or empty: a random 32-byte secret
	// is generated on first use (URLs then do not survive a restart).
	Secret []byte
	// BaseURL returns the scheme and host (and optional path) the presigned
	// URLs start with, e.g. "http://127.0.0.1:8081". It is called on every
	// presign so it may be bound after the server has started. Nil: URLs are
	// relative ("/v1/blobs/...").
	BaseURL func() string
	// Clock decides expiry. Nil: the wall clock.
	Clock ports.Clock
	// PathPrefix is the URL path under which Handler serves objects; it is
	// made to start and end with "/". Empty: DefaultPathPrefix.
	PathPrefix string
	// MaxBytes caps the bytes of all objects held plus those of uploads
	// being read; an upload or Put that would go beyond it is refused and
	// stores nothing. Zero or negative: no cap.
	MaxBytes int64
}

// object is one stored blob. Its data slice is never modified after it is
// stored (replacement swaps the whole object), so readers may share it.
type object struct {
	data        []byte
	contentType string
	etag        string
	modTime     time.Time
}

// Store is an in-memory ports.Blobs whose presigned URLs are served by
// Handler. It is safe for concurrent use.
type Store struct {
	baseURL  func() string
	clock    ports.Clock
	prefix   string
	maxBytes int64

	secretOnce sync.Once
	secret     []byte

	mu      sync.RWMutex
	objects map[string]object
	hook    func(key string)
	// used is the bytes of all objects; reserved those admitted for bodies
	// being read, so that the cap holds while they are read.
	used, reserved int64
}

var _ ports.Blobs = (*Store)(nil)

// New returns an empty Store. It does no I/O.
func New(cfg Config) *Store {
	s := &Store{
		baseURL:  cfg.BaseURL,
		clock:    cfg.Clock,
		prefix:   cfg.PathPrefix,
		maxBytes: cfg.MaxBytes,
		objects:  make(map[string]object),
	}
	if len(cfg.Secret) > 0 {
		s.secret = bytes.Clone(cfg.Secret)
	}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	if s.prefix == "" {
		s.prefix = DefaultPathPrefix
	}
	if !strings.HasPrefix(s.prefix, "/") {
		s.prefix = "/" + s.prefix
	}
	if !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}
	return s
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// SetUploadHook registers fn to be called with the key after every
// successful presigned upload through Handler (not after Put), synchronously,
// once the object is stored and before the response is written, outside any
// lock. Nil removes the hook.
func (s *Store) SetUploadHook(fn func(key string)) {
	s.mu.Lock()
	s.hook = fn
	s.mu.Unlock()
}

// PresignUpload returns a PUT target for exactly p.Key, p.ContentType and
// p.Size bytes, valid for p.Expires, that writes once: Handler refuses it
// (412 PreconditionFailed) once an object exists at the key. Its Headers
// are Content-Type and "If-None-Match: *", the headers S3's target
// requires, and Handler requires them too so that a client that works
// locally works against S3. Returns Invalid for an empty or malformed key
// (see Put), a content type that is not a media type, a size below 1 or
// above MaxObjectSize, or an expiry outside (0, MaxExpires].
func (s *Store) PresignUpload(_ context.Context, p ports.UploadPolicy) (domain.UploadTarget, error) {
	if err := blobcheck.Key(p.Key); err != nil {
		return domain.UploadTarget{}, err
	}
	if err := blobcheck.ContentType(p.ContentType); err != nil {
		return domain.UploadTarget{}, err
	}
	if err := blobcheck.UploadSize(p.Size); err != nil {
		return domain.UploadTarget{}, err
	}
	exp, err := s.expiry(p.Expires)
	if err != nil {
		return domain.UploadTarget{}, err
	}
	size := strconv.FormatInt(p.Size, 10)
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	q.Set(paramSize, size)
	q.Set(paramSignature, s.sign("PUT", p.Key, exp.Unix(), p.ContentType, size))
	return domain.UploadTarget{
		Method:    "PUT",
		URL:       s.objectURL(p.Key) + "?" + q.Encode(),
		Headers:   map[string]string{"Content-Type": p.ContentType, "If-None-Match": "*"},
		ExpiresAt: exp,
	}, nil
}

// PresignDownload returns a GET (or HEAD) URL for p.Key, valid for
// p.Expires. Handler serves it with p.ContentType (when set) as the
// Content-Type, "Content-Disposition: attachment" when p.Attachment,
// "Cache-Control: private, max-age=<seconds the URL has left>" and
// "X-Content-Type-Options: nosniff"; the overrides are signed, so the URL's
// holder cannot change them. It does not check that the object exists.
// Returns Invalid for an empty or malformed key, a content type that is not
// a media type, or an expiry outside (0, MaxExpires].
func (s *Store) PresignDownload(_ context.Context, p ports.DownloadPolicy) (string, error) {
	if err := blobcheck.Key(p.Key); err != nil {
		return "", err
	}
	if p.ContentType != "" {
		if err := blobcheck.ContentType(p.ContentType); err != nil {
			return "", err
		}
	}
	exp, err := s.expiry(p.Expires)
	if err != nil {
		return "", err
	}
	disposition := ""
	if p.Attachment {
		disposition = dispositionAttachment
	}
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	if p.ContentType != "" {
		q.Set(paramRespType, p.ContentType)
	}
	if disposition != "" {
		q.Set(paramDisposition, disposition)
	}
	q.Set(paramSignature, s.sign("GET", p.Key, exp.Unix(), p.ContentType, disposition))
	return s.objectURL(p.Key) + "?" + q.Encode(), nil
}

// Stat returns the object's key, size, content type and ETag (a quoted hex
// MD5, as S3 returns for single-part uploads). Returns NotFound.
func (s *Store) Stat(_ context.Context, key string) (domain.ObjectInfo, error) {
	o, ok := s.get(key)
	if !ok {
		return domain.ObjectInfo{}, notFound(key)
	}
	return o.info(key), nil
}

// Open returns a reader of the object's bytes as they were when Open was
// called; later replacements do not affect it. Returns NotFound.
func (s *Store) Open(_ context.Context, key string) (io.ReadCloser, domain.ObjectInfo, error) {
	o, ok := s.get(key)
	if !ok {
		return nil, domain.ObjectInfo{}, notFound(key)
	}
	// No copy needed: stored data is never mutated and a bytes.Reader does
	// not expose its slice.
	return io.NopCloser(bytes.NewReader(o.data)), o.info(key), nil
}

// ReadHead returns a copy of the first n bytes of the object (all of it when
// shorter). Returns NotFound, or Invalid for a negative n.
func (s *Store) ReadHead(_ context.Context, key string, n int64) ([]byte, error) {
	if n < 0 {
		return nil, domain.Errorf(domain.Invalid, "n must not be negative")
	}
	o, ok := s.get(key)
	if !ok {
		return nil, notFound(key)
	}
	return bytes.Clone(o.data[:min(n, int64(len(o.data)))]), nil
}

// Put stores a copy of o.Size bytes read from body under o.Key, replacing
// any object there atomically (the application's own write: it is not
// bound by write-once). The store has no CDN and its downloads always carry
// the URL's own Cache-Control, so o.MaxAge is accepted and not kept.
// Returns Invalid when body does not hold exactly o.Size bytes (nothing is
// stored then), for a size outside [0, MaxObjectSize], a content type
// that is not a media type, or a malformed key (blobcheck.Key): empty,
// longer than MaxKeyLen bytes, not UTF-8, with control characters, or with
// empty, "." or ".." segments (they do not survive URL path cleaning). Returns Unavailable when the object would
// take the store beyond Config.MaxBytes (a replaced object's bytes count
// as freed), Internal if reading body fails.
func (s *Store) Put(_ context.Context, o ports.Object, body io.Reader) error {
	if err := blobcheck.Key(o.Key); err != nil {
		return err
	}
	if err := blobcheck.ContentType(o.ContentType); err != nil {
		return err
	}
	if err := blobcheck.PutSize(o.Size); err != nil {
		return err
	}
	res, err := s.reserve(o.Key, o.Size, false)
	if err != nil {
		return err
	}
	defer s.release(res)
	// The buffer is exactly o.Size bytes: the size is the app's own and
	// admitted by reserve.
	data := make([]byte, o.Size)
	if err := blobcheck.ReadExactly(body, data, true); err != nil {
		return blobcheck.PutBodyError(o.Size, err)
	}
	_, err = s.commit(res, o.ContentType, data)
	return err
}

// Delete removes the objects and frees their bytes. Keys that do not exist
// are ignored.
func (s *Store) Delete(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if o, ok := s.objects[k]; ok {
			s.used -= int64(len(o.data))
			delete(s.objects, k)
		}
	}
	return nil
}

func (s *Store) get(key string) (object, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[key]
	return o, ok
}

// reservation is the room admitted for one body being read for key: held
// bytes counted in Store.reserved until commit or release.
type reservation struct {
	key      string
	held     int64
	once     bool // a presigned upload: only while no object is at key
	released bool
}

// reserve admits an object of n bytes for key before its body is read, so
// a body that cannot be stored is refused unread and the bytes being read
// count against the cap. A replaced object's bytes count as freed; a
// write-once upload to a key that holds an object is refused (this check
// only spares reading the body: commit repeats it under the same lock as
// the store). Returns PreconditionFailed or Unavailable (full).
func (s *Store) reserve(key string, n int64, once bool) (*reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.objects[key]
	if once && exists {
		return nil, existsError()
	}
	held := max(0, n-int64(len(old.data)))
	if s.maxBytes > 0 && s.used+s.reserved+held > s.maxBytes {
		return nil, s.fullLocked()
	}
	s.reserved += held
	return &reservation{key: key, held: held, once: once}, nil
}

// release gives back what commit did not take; it is a no-op after commit.
func (s *Store) release(r *reservation) {
	if r.released {
		return
	}
	s.mu.Lock()
	s.reserved -= r.held
	s.mu.Unlock()
	r.released = true
}

// commit stores data (which the caller must not modify afterwards) under
// r.key, checking write-once and the cap again against the state at this
// moment, under the lock that stores: of concurrent uploads to one key
// exactly one is stored. It releases r. Returns PreconditionFailed or
// Unavailable (full), storing nothing.
func (s *Store) commit(r *reservation, contentType string, data []byte) (object, error) {
	sum := md5.Sum(data)
	o := object{
		data:        data,
		contentType: contentType,
		etag:        `"` + hex.EncodeToString(sum[:]) + `"`,
		modTime:     s.clock.Now().UTC().Truncate(time.Second),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved -= r.held
	r.released = true
	old, exists := s.objects[r.key]
	if r.once && exists {
		return object{}, existsError()
	}
	// The object at the key may have changed since reserve.
	used := s.used - int64(len(old.data)) + int64(len(data))
	if s.maxBytes > 0 && used > s.used && used+s.reserved > s.maxBytes {
		return object{}, s.fullLocked()
	}
	s.used = used
	s.objects[r.key] = o
	return o, nil
}

// existsError refuses a write-once upload to a key that holds an object.
func existsError() error {
	return domain.Errorf(domain.PreconditionFailed, "an object already exists at this key: an upload target is written once")
}

// fullLocked returns the Unavailable error of a full store; s.mu is held.
func (s *Store) fullLocked() error {
	return domain.Errorf(domain.Unavailable,
		"the local blob store is full: %d of %d bytes used; raise CLOUDPOST_MEMORY_BLOB_MAX_BYTES or delete media",
		s.used+s.reserved, s.maxBytes)
}

func (o object) info(key string) domain.ObjectInfo {
	return domain.ObjectInfo{Key: key, Size: int64(len(o.data)), ContentType: o.contentType, ETag: o.etag}
}

// expiry returns the absolute expiry for a validity of d, truncated to whole
// seconds (like SigV4, whose X-Amz-Date has second precision), so a URL never
// outlives d.
func (s *Store) expiry(d time.Duration) (time.Time, error) {
	if d <= 0 || d > MaxExpires {
		return time.Time{}, domain.Errorf(domain.Invalid, "expiry must be between 1s and %s", MaxExpires)
	}
	return s.clock.Now().Add(d).UTC().Truncate(time.Second), nil
}

// objectURL escapes each key segment so the decoded request path yields the
// key again.
func (s *Store) objectURL(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	base := ""
	if s.baseURL != nil {
		base = strings.TrimSuffix(s.baseURL(), "/")
	}
	return base + s.prefix + strings.Join(segs, "/")
}

func (s *Store) key() []byte {
	s.secretOnce.Do(func() {
		if s.secret == nil {
			s.secret = make([]byte, 32)
			_, _ = rand.Read(s.secret) // never fails (crypto/rand crashes the program instead)
		}
	})
	return s.secret
}

// sign returns the hex HMAC-SHA256 of the request's parts: PUT signs the
// content type and size, GET the response content type and disposition.
// Each part is length-prefixed and the method fixes their number, so no
// two different requests produce the same message.
func (s *Store) sign(method, key string, exp int64, parts ...string) string {
	mac := hmac.New(sha256.New, s.key())
	for _, part := range append([]string{"cloudpost-memblob-v2", method, key, strconv.FormatInt(exp, 10)}, parts...) {
		fmt.Fprintf(mac, "%d:%s\n", len(part), part)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

func notFound(key string) error {
	return domain.Errorf(domain.NotFound, "object %q not found", key)
}
