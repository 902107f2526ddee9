// Package memstore is the in-memory implementation of ports.Storage: the
// storage of the embedded local app and the storage fake for unit tests.
//
// It enforces the same rules as the MySQL adapter (it passes the same
// contract suites: porttest.RunStorage, RunRateCounters and
// RunRevocations): uniqueness, media ownership and attachment, cascading
// deletes, comment counts, the per-user change feed written in the same
// "transaction" as every change it reports, the push outbox (every
// notification pending until a relay's fenced claim settles it), devices
// whose address belongs to one device at a time, push settings and post
// mutes, fixed-window rate counters, token revocations that outlive the
// account and single-use tokens.
//
// One sync.RWMutex guards the entities and the feed, so every operation
// is atomic and serialised; update callbacks run under the lock on a copy
// that is saved only when they return nil, CreateMedia's admit runs under
// it too (so an in-flight cap holds), and none of them may call back into
// the store. Rate counters and token revocations, which share nothing with
// the entities, have a mutex of their own, so that counting requests never
// waits for a write; PruneRateCounters is what bounds the counters' memory.
// One-time tokens have a third mutex. The outbox state of a notification
// lives beside it (a map keyed by notification id) and goes with it.
// Entities are deep-copied in and out, so callers never alias internal
// state. Nothing is persisted: the data lives as long as the Store.
package memstore
