package cloudpost_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRule enforces DESIGN.md: core and ports import only the
// standard library (test files may use mocks and fakes).
func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./core/...", "./ports/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/cloudpost/cloudpost/core") || strings.HasPrefix(pkg, "github.com/cloudpost/cloudpost/ports") {
			continue
		}
		t.Errorf("core/ports depend on %s; only the standard library is allowed", pkg)
	}
}
