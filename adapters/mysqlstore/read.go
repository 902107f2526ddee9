package mysqlstore

import (
	"context"
	"database/sql"

	"github.com/cloudpost/cloudpost/core/domain"
)

// readOne runs get on the pool routing picks for keys (see readDB). When
// that was the reader and the row was not there (NotFound), it asks the
// writer: a replica that has not received a row yet must not make it look
// deleted. Errors are translated.
func readOne[T any](ctx context.Context, s *Store, keys []string, get func(ctx context.Context, db *sql.DB) (T, error)) (T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	db := s.readDB(keys...)
	v, err := get(ctx, db)
	if db != s.writer && domain.IsCode(err, domain.NotFound) {
		v, err = get(ctx, s.writer)
	}
	if err != nil {
		var zero T
		return zero, translate(err, "")
	}
	return v, nil
}

// readBatch returns the entities that exist among ids: from the reader
// unless one of them is pinned, then the ids the reader did not have from
// the writer (same reason as readOne). ids are valid and distinct.
func readBatch[T any](ctx context.Context, s *Store, ids []string, get func(ctx context.Context, db *sql.DB, ids []string) ([]T, error), idOf func(T) string) ([]T, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = entityKey(id)
	}
	db := s.readDB(keys...)
	out, err := get(ctx, db, ids)
	if err != nil {
		return nil, translate(err, "")
	}
	if db == s.writer || len(out) == len(ids) {
		return out, nil
	}
	found := make(map[string]bool, len(out))
	for _, v := range out {
		found[idOf(v)] = true
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	more, err := get(ctx, s.writer, missing)
	if err != nil {
		return nil, translate(err, "")
	}
	return append(out, more...), nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

var (
	_ querier = (*sql.DB)(nil)
	_ querier = (*sql.Tx)(nil)
)

// notFound turns sql.ErrNoRows into NotFound with msg.
func notFound(err error, msg string) error {
	if err == sql.ErrNoRows {
		return domain.Errorf(domain.NotFound, "%s", msg)
	}
	return err
}
