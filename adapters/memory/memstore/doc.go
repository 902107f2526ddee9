// Package memstore is the in-memory implementation of ports.Storage: the
// storage of the embedded local app and the storage fake for unit tests.
//
// It enforces the same rules as the MySQL adapter (it passes the same
// porttest.RunStorage contract suite): uniqueness, media ownership and
// attachment, cascading deletes, comment counts, and the per-user change
// feed written in the same "transaction" as every change it reports.
//
// One sync.RWMutex guards all state, so every operation is atomic and
// serialised; update callbacks run under the lock on a copy that is saved
// only when they return nil, CreateMedia's admit runs under it too (so an
// in-flight cap holds), and none of them may call back into the store.
// Entities are deep-copied in and out, so callers never alias internal state.
// Nothing is persisted: the data lives as long as the Store.
package memstore
