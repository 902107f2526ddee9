package cloudpost_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// TestFxOnlyInCompositionCode enforces the README's rule on fx: the apps
// (the composition roots) and each adapter's own module.go import it, no
// other non-test file does, so core, ports and adapters stay usable
// without fx.
func TestFxOnlyInCompositionCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, path := range strings.Fields(string(out)) {
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		allowed := strings.HasPrefix(rel, "apps/") ||
			strings.HasPrefix(rel, "adapters/") && filepath.Base(rel) == "module.go"
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "go.uber.org/fx" && !allowed {
				t.Errorf("%s imports go.uber.org/fx; only apps/ and adapters' module.go files may", rel)
			}
		}
	}
}
