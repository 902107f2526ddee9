package mysqlstore

import (
	"testing"

	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// TestStorageContract runs the shared storage suite against MariaDB/MySQL,
// each subtest on its own freshly migrated database.
func TestStorageContract(t *testing.T) {
	requireServer(t)
	porttest.RunStorage(t, func(t *testing.T) ports.Storage { return newTestStore(t, Options{}) })
	porttest.RunRateCounters(t, func(t *testing.T) ports.RateCounters { return newTestStore(t, Options{}) })
	porttest.RunRevocations(t, func(t *testing.T) ports.Storage { return newTestStore(t, Options{}) })
}

// TestStorageContractWithReplica runs the suite through the routing code:
// the "reader" pool points at the same database, so every rule of the
// contract must hold whatever pool a read picks.
func TestStorageContractWithReplica(t *testing.T) {
	requireServer(t)
	porttest.RunStorage(t, func(t *testing.T) ports.Storage {
		dsn := testDatabase(t, false)
		w := testOpenDB(t, dsn, DefaultConfig())
		r := testOpenDB(t, dsn, DefaultConfig())
		return NewFromDB(w, r, Options{ReadYourWrites: 1, Transactions: testOpenTxDB(t, dsn, DefaultConfig())})
	})
}
