package jwtauth

import (
	"slices"
	"sync"
	"time"

	"github.com/cloudpost/cloudpost/core/domain"
)

// sweepInterval is the least time between two scans for expired entries;
// scans happen only when the cache is full, so a full cache of live tokens
// costs one O(1) eviction per insert, not a scan.
const sweepInterval = time.Minute

// cacheKey names a verified token: its SHA-256 and the kind it was verified
// as, so an id token verified by VerifyID is never a hit for Verify.
type cacheKey struct {
	use tokenUse
	sum [32]byte
}

// tokenCache remembers the principals of verified tokens until they expire.
// It is bounded: when full it drops expired entries, then the oldest.
type tokenCache struct {
	limit int

	mu        sync.RWMutex
	entries   map[cacheKey]domain.Principal
	fifo      []cacheKey // insertion order of the keys in entries, from head
	head      int
	lastSweep time.Time
}

func newTokenCache(limit int) *tokenCache {
	return &tokenCache{limit: limit, entries: make(map[cacheKey]domain.Principal)}
}

// get returns the principal of a cached token that has not expired (with
// the same leeway the parser allows). The caller owns the returned Groups.
func (c *tokenCache) get(k cacheKey, now time.Time, leeway time.Duration) (domain.Principal, bool) {
	c.mu.RLock()
	p, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(p.ExpiresAt.Add(leeway)) {
		return domain.Principal{}, false
	}
	p.Groups = slices.Clone(p.Groups)
	return p, true
}

// put remembers p (which the cache then owns) under k.
func (c *tokenCache) put(k cacheKey, p domain.Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	if len(c.entries) >= c.limit {
		if now.Sub(c.lastSweep) >= sweepInterval || now.Before(c.lastSweep) {
			c.sweep(now)
		}
		for len(c.entries) >= c.limit {
			delete(c.entries, c.fifo[c.head])
			c.fifo[c.head] = cacheKey{}
			c.head++
		}
		if c.head > len(c.fifo)/2 {
			c.fifo = append([]cacheKey(nil), c.fifo[c.head:]...)
			c.head = 0
		}
	}
	c.entries[k] = p
	c.fifo = append(c.fifo, k)
}

// sweep drops every entry that has expired (ignoring leeway) at now.
func (c *tokenCache) sweep(now time.Time) {
	c.lastSweep = now
	kept := make([]cacheKey, 0, len(c.entries))
	for _, k := range c.fifo[c.head:] {
		if now.Before(c.entries[k].ExpiresAt) {
			kept = append(kept, k)
		} else {
			delete(c.entries, k)
		}
	}
	c.fifo, c.head = kept, 0
}
