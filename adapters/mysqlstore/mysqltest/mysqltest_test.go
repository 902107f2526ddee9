package mysqltest_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore"
	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest"
	"github.com/cloudpost/cloudpost/core/domain"
)

// TestNewDatabase: the database is migrated and usable through Open.
func TestNewDatabase(t *testing.T) {
	c := mysqlstore.DefaultConfig()
	c.DSN = mysqltest.NewDatabase(t)
	s, err := mysqlstore.Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProfile(t.Context(), domain.Profile{ID: "u1", Email: "u1@example.com"}); err != nil {
		t.Fatalf("CreateProfile on the new database: %v", err)
	}
	if _, err := s.GetProfile(t.Context(), "u1"); err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
}
