package workload_test

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/workload"
)

// failingStore fails every StoreLogs and DeleteRange call.
type failingStore struct{ *raft.InmemStore }

var errBoom = errors.New("boom")

func (failingStore) StoreLogs([]*raft.Log) error   { return errBoom }
func (failingStore) DeleteRange(_, _ uint64) error { return errBoom }

func TestAppendStoresAndTimes(t *testing.T) {
	tests := []struct {
		name         string
		calls, batch int
	}{
		{"batch 1", 50, 1},
		{"batch 64", 10, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := raft.NewInmemStore()
			g := newGen(t, 1, 1, 16)
			st, err := workload.Append(s, g.Batches(tt.calls, tt.batch))
			require.NoError(t, err)
			require.Equal(t, tt.calls, st.Calls)
			require.Equal(t, tt.calls*tt.batch, st.Entries)
			require.Positive(t, st.OpsPerSec)
			require.LessOrEqual(t, st.P50, st.P99)
			require.LessOrEqual(t, st.P99, st.Max)
			last, err := s.LastIndex()
			require.NoError(t, err)
			require.Equal(t, uint64(tt.calls*tt.batch), last)
		})
	}
}

func TestScenariosRejectBadInput(t *testing.T) {
	s := raft.NewInmemStore()
	g := newGen(t, 1, 1, 16)
	_, err := workload.Append(s, nil)
	require.ErrorIs(t, err, workload.ErrInvalidArgument)
	_, err = workload.Burst(s, g, 0, 64)
	require.ErrorIs(t, err, workload.ErrInvalidArgument)
	_, err = workload.Burst(s, g, 10, 0)
	require.ErrorIs(t, err, workload.ErrInvalidArgument)
	_, err = workload.TruncateHead(s, 10) // empty log
	require.ErrorIs(t, err, workload.ErrInvalidArgument)
}

func TestScenariosWrapStoreErrors(t *testing.T) {
	s := failingStore{raft.NewInmemStore()}
	g := newGen(t, 1, 1, 16)
	_, err := workload.Append(s, g.Batches(1, 1))
	require.ErrorIs(t, err, workload.ErrStore)
	require.ErrorIs(t, err, errBoom)
	require.ErrorIs(t, workload.Warmup(s, g, 1, 1), errBoom)
	_, err = workload.Burst(s, g, 10, 3)
	require.ErrorIs(t, err, workload.ErrStore)

	require.NoError(t, s.InmemStore.StoreLogs(g.Batch(20)))
	_, err = workload.TruncateHead(s, 5)
	require.ErrorIs(t, err, workload.ErrStore)
	require.ErrorIs(t, err, errBoom)
}

func TestBurstThenTruncateHead(t *testing.T) {
	tests := []struct {
		name               string
		total, batch, keep int
	}{
		{"even batches", 1000, 100, 10},
		{"short last batch", 1001, 64, 1},
		{"keep all but one", 50, 7, 49},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := raft.NewInmemStore()
			g := newGen(t, 3, 1, 8)
			b, err := workload.Burst(s, g, tt.total, tt.batch)
			require.NoError(t, err)
			require.Equal(t, tt.total, b.Entries)
			ts, err := workload.TruncateHead(s, uint64(tt.keep))
			require.NoError(t, err)
			require.Equal(t, uint64(1), ts.Min)
			require.Equal(t, uint64(tt.total-tt.keep), ts.Max)
			require.Equal(t, uint64(tt.total-tt.keep+1), ts.First)
			require.Equal(t, uint64(tt.total), ts.Last)

			// The log continues where the burst stopped.
			require.NoError(t, workload.Warmup(s, g, 2, 1))
			last, err := s.LastIndex()
			require.NoError(t, err)
			require.Equal(t, uint64(tt.total+2), last)
		})
	}
}

func TestTruncateHeadRejectsKeepingEverything(t *testing.T) {
	s := raft.NewInmemStore()
	require.NoError(t, s.StoreLogs(newGen(t, 1, 1, 8).Batch(10)))
	for _, keep := range []uint64{0, 10, 11} {
		_, err := workload.TruncateHead(s, keep)
		require.ErrorIs(t, err, workload.ErrInvalidArgument, "keep=%d", keep)
	}
}
