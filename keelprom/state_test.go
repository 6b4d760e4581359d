package keelprom_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoPackageState parses the package's non-test files and fails on
// package-level state: a var other than a compile-time interface check
// (var _ I = ...), or an init function.
func TestNoPackageState(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, 0)
		require.NoError(t, err)
		checked++
		require.Empty(t, packageState(f), "%s has package-level state", name)
	}
	require.NotZero(t, checked)
}

// packageState lists f's package-level vars other than `var _ T = x` and
// its init functions.
func packageState(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == "init" {
				out = append(out, "func init")
			}
		case *ast.GenDecl:
			if d.Tok != token.VAR {
				continue
			}
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, n := range vs.Names {
					if n.Name != "_" || vs.Type == nil || len(vs.Values) != 1 {
						out = append(out, "var "+n.Name)
					}
				}
			}
		}
	}
	return out
}

// TestPackageStateCheck shows that packageState catches what it must.
func TestPackageStateCheck(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "interface check", src: "var _ I = (*T)(nil)"},
		{name: "const and type", src: "const c = 1\ntype T int"},
		{name: "var", src: "var registry = 1", want: []string{"var registry"}},
		{name: "var block", src: "var (\n\ta int\n\t_ I = x\n)", want: []string{"var a"}},
		{name: "blank without a type", src: "var _ = newThing()", want: []string{"var _"}},
		{name: "init", src: "func init() {}", want: []string{"func init"}},
		{name: "method named init", src: "func (T) init() {}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package p\n"+tc.src, 0)
			require.NoError(t, err)
			require.Equal(t, tc.want, packageState(f))
		})
	}
}
