// Package memstore is the in-memory implementation of ports.Storage: the
// storage of the embedded local app and the storage fake for unit tests.
//
// It enforces the same rules as the MySQL adapter (it passes the same
// contract suites: porttest.RunStorage, RunRateCounters and
// RunRevocations): uniqueness, media ownership and attachment, cascading
// deletes, comment counts, the per-user change feed written in the same
// "transaction" as every change it reports, fixed-window rate counters and
// token revocations that outlive the account.
//
// One sync.RWMutex guards the entities and the feed, so every operation
// is atomic and serialised; update callbacks run under the lock on a copy
// that is saved only when they return nil, CreateMedia's admit runs under
// it too (so an in-flight cap holds), and none of them may call back into
// the store. Rate counters and token revocations, which share nothing with
// the entities, have a mutex of their own, so that counting requests never
// waits for a write; PruneRateCounters is what bounds the counters' memory.
// Entities are deep-copied in and out, so callers never alias internal
// state. Nothing is persisted: the data lives as long as the Store.
package memstore
