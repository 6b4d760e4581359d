package keel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOutvoted(t *testing.T) {
	h := func(name string, hash uint32, compact int64) memberHash {
		return memberHash{name: name, hash: hash, compactRev: compact}
	}
	names := func(ms []memberHash) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	tests := []struct {
		name    string
		answers []memberHash
		compact int64
		bad     []string
		decided bool
	}{
		{"all equal", []memberHash{h("a", 1, 0), h("b", 1, 0), h("c", 1, 0)}, 0, nil, true},
		{"one of three differs", []memberHash{h("a", 1, 0), h("b", 2, 0), h("c", 1, 0)}, 0, []string{"b"}, true},
		{"the checker is outvoted", []memberHash{h("a", 2, 0), h("b", 1, 0), h("c", 1, 0)}, 0, []string{"a"}, true},
		{"two of five differ", []memberHash{h("a", 1, 0), h("b", 2, 0), h("c", 1, 0), h("d", 3, 0), h("e", 1, 0)}, 0, []string{"b", "d"}, true},
		{"two members cannot outvote", []memberHash{h("a", 1, 0), h("b", 2, 0)}, 0, nil, false},
		{"no strict majority", []memberHash{h("a", 1, 0), h("b", 2, 0), h("c", 3, 0), h("d", 1, 0)}, 0, nil, false},
		{"a tie of two against two", []memberHash{h("a", 1, 0), h("b", 2, 0), h("c", 2, 0), h("d", 1, 0)}, 0, nil, false},
		{"another compaction is not comparable", []memberHash{h("a", 1, 5), h("b", 2, 9), h("c", 1, 5), h("d", 1, 5)}, 5, nil, true},
		{"too few comparable", []memberHash{h("a", 1, 5), h("b", 2, 9), h("c", 3, 5)}, 5, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad, decided := outvoted(tc.answers, tc.compact)
			require.Equal(t, tc.bad, names(bad))
			require.Equal(t, tc.decided, decided)
		})
	}
}
