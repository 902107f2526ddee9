package mysqlstore

import (
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/cloudpost/cloudpost/adapters/mysqlstore/mysqltest/scratch"
)

// TestMain silences the driver's own logger (the fault tests break
// connections on purpose and it would print every broken packet) and drops
// the template database at the end.
func TestMain(m *testing.M) {
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	code := m.Run()
	if err := scratch.DropAll(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
