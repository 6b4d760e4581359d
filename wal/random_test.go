package wal_test

import (
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
)

// TestRandomOpsAgainstModel applies random appends, head and tail
// truncations, stable-store writes, reopens and simulated power losses to a
// WAL and to a simple model, and checks they agree after every step. Set
// KEEL_WAL_SEED to replay a run.
func TestRandomOpsAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 0))
	fsys := faultfs.New()
	const segSize = 700
	w := openMem(t, fsys, segSize)
	defer func() { w.Close() }()

	var model []*raft.Log
	term := uint64(1)
	var stableTerm uint64
	reopen := func(crash bool) {
		require.NoError(t, w.Close())
		if crash {
			fsys.Crash()
		}
		w = openMem(t, fsys, segSize)
	}
	for step := 0; step < 1500; step++ {
		switch op := rng.IntN(100); {
		case op < 55: // append a batch
			next := uint64(1)
			if len(model) > 0 {
				next = model[len(model)-1].Index + 1
			} else if rng.IntN(2) == 0 {
				next = uint64(rng.IntN(1000) + 1)
			}
			batch := makeLogs(next, 1+rng.IntN(8), term)
			if rng.IntN(10) == 0 {
				batch[0].Data = make([]byte, rng.IntN(900)) // sometimes larger than a segment
			}
			require.NoError(t, w.StoreLogs(batch), "step %d", step)
			model = append(model, batch...)
		case op < 65 && len(model) > 0: // head truncation (compaction)
			k := rng.IntN(len(model))
			require.NoError(t, w.DeleteRange(model[0].Index, model[k].Index), "step %d", step)
			model = model[k+1:]
		case op < 75 && len(model) > 0: // tail truncation (conflict)
			k := rng.IntN(len(model))
			require.NoError(t, w.DeleteRange(model[k].Index, model[len(model)-1].Index), "step %d", step)
			model = model[:k]
			term++
		case op < 82:
			stableTerm = rng.Uint64()
			require.NoError(t, w.SetUint64([]byte("CurrentTerm"), stableTerm))
		case op < 91:
			reopen(false)
		default:
			reopen(true)
		}
		requireLogs(t, w, model)
		got, err := w.GetUint64([]byte("CurrentTerm"))
		require.NoError(t, err)
		require.Equal(t, stableTerm, got)
	}
}
