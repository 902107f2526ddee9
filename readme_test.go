package cloudpost_test

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
)

// readmeVariable is one variable named in a README table whose first
// column is "Variable", with the default its row gives (the code span of
// the same position in the Default column; "" when there is none).
type readmeVariable struct {
	name, def string
}

// TestREADMEConfigurationTable renders README.md with a GFM Markdown parser
// and checks that its "Variable" tables list every variable the programs
// read (apps/config and the Lambda app's own settings) and nothing else,
// each with the default the code uses. A row cut off from its table (a
// blank line in the middle) renders as a paragraph, so its variables count
// as missing.
func TestREADMEConfigurationTable(t *testing.T) {
	src, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := readmeVariables(t, src)

	want := map[string]env.FieldParams{}
	for _, v := range []any{&config.Config{}, &functions.Config{}} {
		params, err := env.GetFieldParams(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			if strings.HasPrefix(p.Key, "CLOUDPOST_") { // _HANDLER is set by Lambda, not by users
				want[p.Key] = p
			}
		}
	}

	seen := map[string]bool{}
	for _, v := range documented {
		if strings.HasSuffix(v.name, "*") { // a pointer to a section's own table
			prefix := strings.TrimSuffix(v.name, "*")
			if !slices.ContainsFunc(documented, func(o readmeVariable) bool {
				return o.name != v.name && strings.HasPrefix(o.name, prefix)
			}) {
				t.Errorf("README row %s matches no variable listed in a table", v.name)
			}
			continue
		}
		p, ok := want[v.name]
		switch {
		case !ok:
			t.Errorf("README lists %s, which no program reads", v.name)
		case seen[v.name]:
			t.Errorf("README lists %s twice", v.name)
		case p.HasDefaultValue && v.def != p.DefaultValue:
			t.Errorf("README gives %s the default %q; the code uses %q", v.name, v.def, p.DefaultValue)
		}
		seen[v.name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !seen[name] {
			t.Errorf("%s is read by the programs but missing from the README's configuration tables", name)
		}
	}
}

// readmeVariables returns the variables of every rendered table whose
// first header cell is "Variable".
func readmeVariables(t *testing.T, src []byte) []readmeVariable {
	t.Helper()
	doc := goldmark.New(goldmark.WithExtensions(extension.Table)).Parser().Parse(text.NewReader(src))
	var out []readmeVariable
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		table, ok := n.(*east.Table)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		header := table.FirstChild()
		if header == nil || cellText(header.FirstChild(), src) != "Variable" {
			return ast.WalkSkipChildren, nil
		}
		for row := header.NextSibling(); row != nil; row = row.NextSibling() {
			nameCell := row.FirstChild()
			names := codeSpans(nameCell, src)
			if len(names) == 0 {
				t.Errorf("README configuration row without a variable: %q", cellText(nameCell, src))
			}
			var defaults []string
			if nameCell.NextSibling() != nil {
				defaults = codeSpans(nameCell.NextSibling(), src)
			}
			for i, name := range names {
				v := readmeVariable{name: name}
				if i < len(defaults) {
					v.def = defaults[i]
				}
				out = append(out, v)
			}
		}
		return ast.WalkSkipChildren, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("README.md has no table whose first column is Variable")
	}
	return out
}

// codeSpans returns the text of each code span directly in a table cell.
func codeSpans(cell ast.Node, src []byte) []string {
	var out []string
	for c := cell.FirstChild(); c != nil; c = c.NextSibling() {
		if c.Kind() == ast.KindCodeSpan {
			out = append(out, cellText(c, src))
		}
	}
	return out
}

// cellText returns the text of n's inline content.
func cellText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(b.String())
}
