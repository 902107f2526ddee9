package media

import (
	"sync"
	"time"
)

// urlCache keeps signed download URLs so that showing the same images again
// does not sign them again: an S3 presigned GET costs tens of microseconds
// and a CloudFront signature an RSA operation, per URL, and a post shows up
// to four URLs per image. Stable URLs also let browsers and CDNs cache the
// images themselves.
//
// A URL is signed for DownloadExpiry plus a reuse window (an eighth of it)
// and handed out only during that window, so every URL a client gets stays
// valid for at least DownloadExpiry.
type urlCache struct {
	reuse time.Duration
	limit int

	mu      sync.Mutex
	entries map[string]cachedURL
}

type cachedURL struct {
	url   string
	until time.Time // hand it out before this instant
}

// newURLCache returns a cache for URLs valid for expiry, holding at most
// limit of them; nil (no caching) when limit < 1 or the reuse window would
// be under a second.
func newURLCache(expiry time.Duration, limit int) *urlCache {
	reuse := expiry / 8
	if limit < 1 || reuse < time.Second {
		return nil
	}
	return &urlCache{reuse: reuse, limit: limit, entries: make(map[string]cachedURL)}
}

// signFor is the validity to ask the blob store for.
func (c *urlCache) signFor(expiry time.Duration) time.Duration {
	if c == nil {
		return expiry
	}
	return expiry + c.reuse
}

func (c *urlCache) get(key string, now time.Time) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return "", false
	}
	return e.url, true
}

// put stores a URL signed at now. When the cache is full it drops the
// entries past their window and, if that is not enough, a tenth of the
// rest (map order is random, so they are random ones).
func (c *urlCache) put(key, url string, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.limit {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		drop := c.limit / 10
		for k := range c.entries {
			if len(c.entries) < c.limit && drop <= 0 {
				break
			}
			delete(c.entries, k)
			drop--
		}
	}
	c.entries[key] = cachedURL{url: url, until: now.Add(c.reuse)}
}
