package keel

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const modulePath = "github.com/keeldb/keel"

// layerRules says, per package directory (relative to the module root),
// which non-standard-library imports its non-test files may use. A prefix
// ending in "/" allows everything below it. Directories not listed fall
// under the rule of their nearest listed parent. This enforces DESIGN.md's
// dependency direction:
//
//	examples → lock, discovery → keel (root) → mvcc, wal, transport, raft
//
// mvcc, wal and transport never import each other or the root; mvcc does
// not import raft; lock, discovery and clientv3util use only the root's
// public API; the
// example programs share helpers under examples/internal.
// internal/wire, the codec the root and transport share, and
// internal/metrics, the root's instruments, import nothing; keelhttp uses
// only the root's public API and the standard library (no Prometheus: a
// program brings its own /metrics handler). Nested modules (bench,
// keelprom) have their own go.mod and are not checked here.
// internal/testpki issues test certificates. Only test infrastructure
// (keeltest, the chaos suite, testpki) may import the
// standard library's testing package, and it must say so with "testing".
var layerRules = map[string][]string{
	".":                 {modulePath + "/mvcc", modulePath + "/wal", modulePath + "/transport", modulePath + "/internal/logging", modulePath + "/internal/testhook", modulePath + "/internal/durable", modulePath + "/internal/wire", modulePath + "/internal/metrics", "github.com/hashicorp/raft", "github.com/hashicorp/go-hclog"},
	"mvcc":              {"go.etcd.io/bbolt", "github.com/tidwall/btree"},
	"wal":               {"github.com/hashicorp/raft"},
	"transport":         {modulePath + "/internal/wire", "github.com/hashicorp/raft", "github.com/hashicorp/go-hclog"},
	"internal/logging":  {"github.com/hashicorp/go-hclog"},
	"internal/faultfs":  {modulePath + "/wal"},
	"internal/chaos":    {modulePath, modulePath + "/wal", modulePath + "/internal/faultfs", "github.com/anishathalye/porcupine", "testing"},
	"internal/testhook": {},
	"internal/testpki":  {"github.com/stretchr/testify/require", "testing"},
	"internal/wire":     {},
	"internal/allocs":   {},
	"internal/metrics":  {},
	"keelhttp":          {modulePath},
	"internal/durable":  {modulePath + "/transport", "github.com/hashicorp/raft"},
	"keeltest":          {modulePath, modulePath + "/internal/testhook", "testing"},
	"lock":              {modulePath},
	"discovery":         {modulePath},
	"clientv3util":      {modulePath},
	"examples":          {modulePath, modulePath + "/lock", modulePath + "/discovery", modulePath + "/clientv3util", modulePath + "/examples/internal/"},
	"internal/testdata": {},
}

func ruleFor(dir string) ([]string, bool) {
	for d := dir; ; d = path.Dir(d) {
		if r, ok := layerRules[d]; ok {
			return r, true
		}
		if d == "." || d == "/" {
			return nil, false
		}
	}
}

func allowed(imp string, rule []string) bool {
	first, _, _ := strings.Cut(imp, "/")
	if !strings.Contains(first, ".") {
		return imp != "testing" || slices.Contains(rule, imp) // standard library
	}
	for _, a := range rule {
		if imp == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a)) {
			return true
		}
		// A module path allows its packages (raft has no subpackages we
		// use, but btree and bbolt do).
		if !strings.HasPrefix(a, modulePath) && strings.HasPrefix(imp, a+"/") {
			return true
		}
	}
	return false
}

func TestLayering(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Nested modules and test data are outside the library.
			if p != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || isModule(p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		rule, ok := ruleFor(dir)
		require.True(t, ok, "no layering rule covers %s: add one to layerRules", dir)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, is := range f.Imports {
			imp, err := strconv.Unquote(is.Path.Value)
			require.NoError(t, err)
			require.True(t, allowed(imp, rule), "%s imports %s, which its layer forbids (allowed: %v)", p, imp, rule)
		}
		checked++
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 20, "layering test checked suspiciously few files")
}

// isModule reports whether dir is the root of a Go module.
func isModule(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil
}

func TestLayeringRulesCatchViolations(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		imp  string
		want bool
	}{
		{name: "stdlib anywhere", dir: "mvcc", imp: "encoding/binary", want: true},
		{name: "mvcc may use bbolt", dir: "mvcc", imp: "go.etcd.io/bbolt", want: true},
		{name: "mvcc must not use raft", dir: "mvcc", imp: "github.com/hashicorp/raft", want: false},
		{name: "mvcc must not use wal", dir: "mvcc", imp: modulePath + "/wal", want: false},
		{name: "wal must not use root", dir: "wal", imp: modulePath, want: false},
		{name: "transport must not use mvcc", dir: "transport", imp: modulePath + "/mvcc", want: false},
		{name: "transport may use wire", dir: "transport", imp: modulePath + "/internal/wire", want: true},
		{name: "wire must not use transport", dir: "internal/wire", imp: modulePath + "/transport", want: false},
		{name: "root may use wal", dir: ".", imp: modulePath + "/wal", want: true},
		{name: "root must not use lock", dir: ".", imp: modulePath + "/lock", want: false},
		{name: "lock must not use mvcc", dir: "lock", imp: modulePath + "/mvcc", want: false},
		{name: "examples subdir may use root", dir: "examples/cluster", imp: modulePath, want: true},
		{name: "examples must not use internals", dir: "examples/cluster", imp: modulePath + "/mvcc", want: false},
		{name: "examples may use their shared helper", dir: "examples/cluster", imp: modulePath + "/examples/internal/localcluster", want: true},
		{name: "examples helper must not use keeltest", dir: "examples/internal/localcluster", imp: modulePath + "/keeltest", want: false},
		{name: "root must not use the examples helper", dir: ".", imp: modulePath + "/examples/internal/localcluster", want: false},
		{name: "root must not use testing", dir: ".", imp: "testing", want: false},
		{name: "root must not use keeltest", dir: ".", imp: modulePath + "/keeltest", want: false},
		{name: "keeltest may use testing", dir: "keeltest", imp: "testing", want: true},
		{name: "lock must not use testing", dir: "lock", imp: "testing", want: false},
		{name: "root must not use prometheus", dir: ".", imp: "github.com/prometheus/client_golang/prometheus", want: false},
		{name: "root may use its instruments", dir: ".", imp: modulePath + "/internal/metrics", want: true},
		{name: "keelhttp may use root", dir: "keelhttp", imp: modulePath, want: true},
		{name: "keelhttp must not use prometheus", dir: "keelhttp", imp: "github.com/prometheus/client_golang/prometheus", want: false},
		{name: "keelhttp must not use mvcc", dir: "keelhttp", imp: modulePath + "/mvcc", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule, ok := ruleFor(tc.dir)
			require.True(t, ok)
			require.Equal(t, tc.want, allowed(tc.imp, rule))
		})
	}
}
