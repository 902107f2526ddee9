// Package memblob is the in-memory blob store: a mutex-protected map of
// objects plus an http.Handler that serves its presigned URLs, so the local
// Echo app offers the same upload and download flow as S3 without a cloud
// account. Presigned URLs carry an HMAC-SHA256 signature over everything the
// port promises to enforce (method, key, content type, exact size, expiry).
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
	"mime"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
)

// DefaultPathPrefix is the URL path under which Handler serves objects when
// Config.PathPrefix is empty.
const DefaultPathPrefix = "/v1/blobs/"

// Limits mirroring S3, so code that works against the fake also works against
// the real service.
const (
	// MaxKeyLen is the longest key in bytes.
	MaxKeyLen = 1024
	// MaxObjectSize is the largest object a single presigned upload may declare.
	MaxObjectSize = 5 << 30
	// MaxExpires is the longest validity of a presigned URL (SigV4's limit).
	MaxExpires = 7 * 24 * time.Hour
)

// Query parameters of presigned URLs.
const (
	paramExpires   = "X-Cp-Expires"
	paramSize      = "X-Cp-Size"
	paramSignature = "X-Cp-Signature"
)

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
	baseURL func() string
	clock   ports.Clock
	prefix  string

	secretOnce sync.Once
	secret     []byte

	mu      sync.RWMutex
	objects map[string]object
	hook    func(key string)
}

var _ ports.Blobs = (*Store)(nil)

// New returns an empty Store. It does no I/O.
func New(cfg Config) *Store {
	s := &Store{
		baseURL: cfg.BaseURL,
		clock:   cfg.Clock,
		prefix:  cfg.PathPrefix,
		objects: make(map[string]object),
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
// p.Size bytes, valid for p.Expires. Returns Invalid for an empty or
// malformed key (see Put), a content type that is not a media type, a size
// below 1 or above MaxObjectSize, or an expiry outside (0, MaxExpires].
func (s *Store) PresignUpload(_ context.Context, p ports.UploadPolicy) (domain.UploadTarget, error) {
	if err := checkKey(p.Key); err != nil {
		return domain.UploadTarget{}, err
	}
	if err := checkContentType(p.ContentType); err != nil {
		return domain.UploadTarget{}, err
	}
	if p.Size < 1 || p.Size > MaxObjectSize {
		return domain.UploadTarget{}, domain.Errorf(domain.Invalid, "size must be between 1 and %d bytes", int64(MaxObjectSize))
	}
	exp, err := s.expiry(p.Expires)
	if err != nil {
		return domain.UploadTarget{}, err
	}
	size := strconv.FormatInt(p.Size, 10)
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	q.Set(paramSize, size)
	q.Set(paramSignature, s.sign("PUT", p.Key, p.ContentType, size, exp.Unix()))
	return domain.UploadTarget{
		Method:    "PUT",
		URL:       s.objectURL(p.Key) + "?" + q.Encode(),
		Headers:   map[string]string{"Content-Type": p.ContentType},
		ExpiresAt: exp,
	}, nil
}

// PresignDownload returns a GET (or HEAD) URL for key, valid for expires. It
// does not check that the object exists. Returns Invalid for an empty or
// malformed key or an expiry outside (0, MaxExpires].
func (s *Store) PresignDownload(_ context.Context, key string, expires time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	exp, err := s.expiry(expires)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	q.Set(paramSignature, s.sign("GET", key, "", "", exp.Unix()))
	return s.objectURL(key) + "?" + q.Encode(), nil
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

// Put stores a copy of size bytes read from body under key, replacing any
// object there atomically. Returns Invalid when body does not hold exactly
// size bytes (nothing is stored then), for a negative size, an empty content
// type, or a malformed key: empty, longer than MaxKeyLen bytes, not UTF-8,
// with control characters, or with empty, "." or ".." segments (they do not
// survive URL path cleaning). Returns Internal if reading body fails.
func (s *Store) Put(_ context.Context, key, contentType string, body io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if contentType == "" {
		return domain.Errorf(domain.Invalid, "content type is required")
	}
	if size < 0 {
		return domain.Errorf(domain.Invalid, "size must not be negative")
	}
	// Read one byte more than declared to detect a longer body without
	// reading an unbounded stream.
	data, err := io.ReadAll(io.LimitReader(body, size+1))
	if err != nil {
		return domain.Wrap(err, domain.Internal, "reading the object body failed")
	}
	if int64(len(data)) != size {
		return domain.Errorf(domain.Invalid, "body does not hold exactly %d bytes", size)
	}
	s.store(key, contentType, data)
	return nil
}

// Delete removes the objects. Keys that do not exist are ignored.
func (s *Store) Delete(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.objects, k)
	}
	return nil
}

func (s *Store) get(key string) (object, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[key]
	return o, ok
}

// store saves data, which the caller must not modify afterwards, and returns
// the stored object.
func (s *Store) store(key, contentType string, data []byte) object {
	sum := md5.Sum(data)
	o := object{
		data:        data,
		contentType: contentType,
		etag:        `"` + hex.EncodeToString(sum[:]) + `"`,
		modTime:     s.clock.Now().UTC().Truncate(time.Second),
	}
	s.mu.Lock()
	s.objects[key] = o
	s.mu.Unlock()
	return o
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

// sign returns the hex HMAC-SHA256 of the request's parts. Each part is
// length-prefixed so no two different tuples produce the same message.
func (s *Store) sign(method, key, contentType, size string, exp int64) string {
	mac := hmac.New(sha256.New, s.key())
	for _, part := range []string{"cloudpost-memblob-v1", method, key, contentType, size, strconv.FormatInt(exp, 10)} {
		fmt.Fprintf(mac, "%d:%s\n", len(part), part)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

func checkKey(key string) error {
	switch {
	case key == "":
		return domain.Errorf(domain.Invalid, "key is required")
	case len(key) > MaxKeyLen:
		return domain.Errorf(domain.Invalid, "key must have at most %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return domain.Errorf(domain.Invalid, "key must be valid UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return domain.Errorf(domain.Invalid, "key must not contain control characters")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return domain.Errorf(domain.Invalid, "key must not have empty, '.' or '..' segments")
		}
	}
	return nil
}

func checkContentType(ct string) error {
	if ct == "" {
		return domain.Errorf(domain.Invalid, "content type is required")
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return domain.Errorf(domain.Invalid, "content type is not a valid media type")
	}
	return nil
}

func notFound(key string) error {
	return domain.Errorf(domain.NotFound, "object %q not found", key)
}
