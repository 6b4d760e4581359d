package workload_test

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/workload"
)

func newGen(tb testing.TB, seed, first uint64, size int) *workload.Gen {
	tb.Helper()
	g, err := workload.NewGen(seed, first, size)
	require.NoError(tb, err)
	return g
}

func TestNewGenRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		first uint64
		size  int
	}{
		{"first index zero", 0, 256},
		{"negative size", 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := workload.NewGen(1, tt.first, tt.size)
			require.ErrorIs(t, err, workload.ErrInvalidArgument)
		})
	}
}

func TestGenBatches(t *testing.T) {
	g := newGen(t, 42, 7, 256)
	batches := g.Batches(3, 4)
	require.Len(t, batches, 3)
	want := uint64(7)
	seen := make(map[*byte]bool)
	for _, b := range batches {
		require.Len(t, b, 4)
		for _, l := range b {
			require.Equal(t, want, l.Index)
			require.Equal(t, uint64(1), l.Term)
			require.Equal(t, raft.LogCommand, l.Type)
			require.Len(t, l.Data, 256)
			require.False(t, seen[&l.Data[0]], "payloads must not share memory")
			seen[&l.Data[0]] = true
			want++
		}
	}
	require.Equal(t, want, g.Next())
	require.NotEqual(t, batches[0][0].Data, batches[0][1].Data, "payloads must be random")
}

func TestGenIsDeterministicPerSeed(t *testing.T) {
	a := newGen(t, 5, 1, 32).Batch(3)
	b := newGen(t, 5, 1, 32).Batch(3)
	c := newGen(t, 6, 1, 32).Batch(3)
	for i := range a {
		require.Equal(t, a[i].Data, b[i].Data)
	}
	require.NotEqual(t, a[0].Data, c[0].Data)
}
