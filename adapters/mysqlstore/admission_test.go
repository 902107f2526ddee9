package mysqlstore

import (
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/core/domain"
	"github.com/cloudpost/cloudpost/ports"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

// isolationDSN returns dsn with every session of its pools set to the
// isolation level ("READ-COMMITTED", "REPEATABLE-READ"): MySQL 8 calls
// the variable transaction_isolation, MariaDB 10.11 tx_isolation.
func isolationDSN(t testing.TB, dsn, level string) string {
	t.Helper()
	name := "transaction_isolation"
	var v string
	if err := requireServer(t).QueryRowContext(t.Context(), "SELECT @@session.transaction_isolation").Scan(&v); err != nil {
		name = "tx_isolation"
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params[name] = "'" + level + "'"
	return mc.FormatDSN()
}

// isolationStore returns a store over a fresh database whose sessions run
// at the isolation level, after checking that they do.
func isolationStore(t *testing.T, level string) *Store {
	t.Helper()
	s := testStoreOn(t, isolationDSN(t, testDatabase(t, false), level), DefaultConfig(), Options{})
	for _, db := range []*sql.DB{s.writer, s.txs} {
		checkIsolation(t, db, level)
	}
	return s
}

// checkIsolation fails the test unless db's sessions run at level.
func checkIsolation(t *testing.T, db *sql.DB, level string) {
	t.Helper()
	var got string
	if err := db.QueryRowContext(t.Context(), "SELECT @@session.tx_isolation").Scan(&got); err != nil {
		if err := db.QueryRowContext(t.Context(), "SELECT @@session.transaction_isolation").Scan(&got); err != nil {
			t.Fatal(err)
		}
	}
	if got != level {
		t.Fatalf("session isolation level %s, want %s", got, level)
	}
}

// TestStorageContractReadCommitted runs the shared suite with every
// session at READ COMMITTED (the other contract runs use the server's
// default, REPEATABLE READ): the adapter's rules must not depend on it.
func TestStorageContractReadCommitted(t *testing.T) {
	requireServer(t)
	porttest.RunStorage(t, func(t *testing.T) ports.Storage { return isolationStore(t, "READ-COMMITTED") })
}

// TestMediaAdmissionCap races many creations for one owner against a cap
// under both isolation levels, for an owner with a profile and one
// without (whose admission row the race itself creates), several rounds
// each: exactly the cap gets in, the admitted creations saw the counts 0,
// 1, ... once each, and nothing fails otherwise (no retries exhausted).
func TestMediaAdmissionCap(t *testing.T) {
	for _, level := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			s := isolationStore(t, level)
			ctx := t.Context()
			const maxInFlight, racers, rounds = 20, 50, 3
			errCap := errors.New("cap reached")
			for round := range rounds {
				withProfile := porttest.NewID()
				if _, err := s.CreateProfile(ctx, domain.Profile{ID: withProfile, Email: withProfile + "@example.com"}); err != nil {
					t.Fatal(err)
				}
				for _, owner := range []string{withProfile, porttest.NewID()} {
					saw := make([]int, racers)
					errs := make([]error, racers)
					var wg sync.WaitGroup
					for i := range racers {
						wg.Go(func() {
							now := time.Now().UTC()
							_, errs[i] = s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: owner, Purpose: domain.PurposePost,
								Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now}, func(n int, _ time.Time) error {
								saw[i] = n
								if n >= maxInFlight {
									return errCap
								}
								return nil
							})
						})
					}
					wg.Wait()
					seen := map[int]bool{}
					for i, err := range errs {
						switch {
						case err == nil:
							if seen[saw[i]] {
								t.Errorf("round %d: two admitted creations saw %d in flight", round, saw[i])
							}
							seen[saw[i]] = true
						case !errors.Is(err, errCap):
							t.Errorf("round %d: creation %d: %v", round, i, err)
						}
					}
					if n := testCount(t, s.writer, "SELECT COUNT(*) FROM media WHERE owner_id = ?", owner); n != maxInFlight || len(seen) != maxInFlight {
						t.Errorf("round %d: %d items stored, %d admitted, want %d", round, n, len(seen), maxInFlight)
					}
				}
			}
		})
	}
}

// TestMediaAdmissionRows: CreateMedia with admit makes the owner's
// admission row (without admit it does not), and DeleteUser removes it
// with the rest of the user's data.
func TestMediaAdmissionRows(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	rows := func(owner string) int {
		return testCount(t, s.writer, "SELECT COUNT(*) FROM media_admission WHERE owner_id = ?", owner)
	}
	allow := func(int, time.Time) error { return nil }
	for _, withProfile := range []bool{true, false} {
		id := porttest.NewID()
		if withProfile {
			if _, err := s.CreateProfile(ctx, domain.Profile{ID: id, Email: id + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: id, Status: domain.MediaPending}, nil); err != nil {
			t.Fatal(err)
		}
		if n := rows(id); n != 0 {
			t.Errorf("CreateMedia without admit left %d admission rows", n)
		}
		for range 2 {
			if _, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: id, Status: domain.MediaPending}, allow); err != nil {
				t.Fatal(err)
			}
		}
		if n := rows(id); n != 1 {
			t.Errorf("admission rows after two admitted creations: %d, want 1", n)
		}
		removed, err := s.DeleteUser(ctx, id)
		if err != nil || len(removed) != 3 {
			t.Fatalf("DeleteUser: %d media, %v; want 3", len(removed), err)
		}
		if n := rows(id); n != 0 {
			t.Errorf("DeleteUser (profile %v) left %d admission rows", withProfile, n)
		}
	}
	// An owner id that cannot be stored cannot be admitted.
	_, err := s.CreateMedia(ctx, domain.Media{ID: porttest.NewID(), OwnerID: strings.Repeat("x", 65)}, allow)
	if domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("CreateMedia with an over-long owner id: %v, want Invalid", err)
	}
}

// TestMediaQueriesUseTheirIndexes: the admission count reads only the
// (owner_id, status, created_at) index (a covering read, so its shared
// locks stay there) and each branch of the stale-media query walks the
// (status, id) index.
func TestMediaQueriesUseTheirIndexes(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx := t.Context()
	explain := func(q string, args ...any) []map[string]string {
		t.Helper()
		rows, err := s.writer.QueryContext(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("EXPLAIN: %v", err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out []map[string]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]string{}
			for i, c := range cols {
				row[strings.ToLower(c)] = vals[i].String
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	count := explain(strings.TrimSuffix(admissionCountQuery, " LOCK IN SHARE MODE"), "owner", "id")
	if len(count) != 1 || count[0]["key"] != "media_owner_status" || !strings.Contains(count[0]["extra"], "Using index") {
		t.Errorf("admission count plan %v, want a covering read of media_owner_status", count)
	}
	now := time.Now().UTC()
	var branches int
	for _, row := range explain(staleQuery, "", now, 2, "", now, 2, 2) {
		if row["table"] != "media" {
			continue
		}
		branches++
		if row["key"] != "media_status" || strings.Contains(row["extra"], "filesort") {
			t.Errorf("stale-media branch plan %v, want an ordered read of media_status", row)
		}
	}
	if branches != 2 {
		t.Errorf("stale-media plan has %d reads of media, want 2", branches)
	}
}

// TestMediaAdmissionOwnersDoNotDeadlock: many new owners (adjacent at the
// end of the media indexes, so their count ranges share gaps) creating at
// once, with retries off: no creation fails. Counting before inserting
// fails this under REPEATABLE READ (see the package doc, admission).
func TestMediaAdmissionOwnersDoNotDeadlock(t *testing.T) {
	for _, level := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			db := testOpenDB(t, isolationDSN(t, testDatabase(t, false), level), DefaultConfig())
			s := NewFromDB(db, nil, Options{Retries: -1})
			const owners, each = 60, 5
			allow := func(int, time.Time) error { return nil }
			var wg sync.WaitGroup
			for range owners {
				owner := porttest.NewID()
				wg.Go(func() {
					for range each {
						now := time.Now().UTC()
						if _, err := s.CreateMedia(t.Context(), domain.Media{ID: porttest.NewID(), OwnerID: owner, Status: domain.MediaPending, CreatedAt: now, UpdatedAt: now}, allow); err != nil {
							t.Errorf("owner %s: %v", owner, err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
