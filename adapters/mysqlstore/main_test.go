package mysqlstore

import (
	"log"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestMain silences the driver's own logger: the fault tests break
// connections on purpose and it would print every broken packet.
func TestMain(m *testing.M) {
	_ = mysql.SetLogger(log.New(discard{}, "", 0))
	os.Exit(m.Run())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
