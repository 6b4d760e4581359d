package chaos

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBudget(t *testing.T) {
	cases := []struct {
		name  string
		env   string
		want  time.Duration
		soak  bool
		isErr bool
	}{
		{"unset", "", time.Minute, false, false},
		{"soak", "30m", 30 * time.Minute, true, false},
		{"garbage", "lots", 0, false, true},
		{"negative", "-1s", 0, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvBudget, tc.env)
			d, soak, err := Budget(time.Minute)
			if tc.isErr {
				require.ErrorIs(t, err, ErrInvalidArgument)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, d)
			require.Equal(t, tc.soak, soak)
		})
	}
}

func TestSeedFromEnv(t *testing.T) {
	t.Setenv(EnvSeed, "42")
	require.Equal(t, int64(42), Seed(t))
}

func TestLoopCount(t *testing.T) {
	var seeds []int64
	res := Loop(t, LoopConfig{Runs: 5, Seed: 100}, func(t *testing.T, seed int64) { seeds = append(seeds, seed) })
	require.Equal(t, []int64{100, 101, 102, 103, 104}, seeds)
	require.Equal(t, 5, res.Runs)
	require.Zero(t, res.Failed)
}

func TestLoopBudget(t *testing.T) {
	n := 0
	res := Loop(t, LoopConfig{Budget: 50 * time.Millisecond}, func(t *testing.T, seed int64) {
		n++
		time.Sleep(10 * time.Millisecond)
	})
	require.Equal(t, n, res.Runs)
	require.Positive(t, res.Runs)
	require.GreaterOrEqual(t, res.Elapsed, 50*time.Millisecond, "stopped only once the budget was spent")
}

func TestLoopDefaultsToOneRun(t *testing.T) {
	res := Loop(t, LoopConfig{}, func(t *testing.T, seed int64) {})
	require.Equal(t, 1, res.Runs)
}

func TestArtifacts(t *testing.T) {
	var dir string
	t.Run("passing run removes its dir", func(t *testing.T) {
		a := NewArtifacts(t)
		dir = a.Dir
		rec := NewRecorder()
		rec.Record(0, Input{Kind: OpPut, Key: "a", Value: "1"}, rec.Now(), Output{}, nil)
		rec.Fault(FaultEvent{Kind: KillAll, Start: 1, End: 2})
		_, _, info, err := Check(rec.Operations(), time.Second)
		require.NoError(t, err)
		require.NoError(t, a.SaveRun(7, Schedule{Seed: 7, Members: 1}, rec, &info))
		require.NoError(t, a.SaveWatches([]WatchStream{{Member: "m0"}}))
		sub, err := a.Sub("logs")
		require.NoError(t, err)
		require.DirExists(t, sub)
		for _, f := range []string{"seed.txt", "schedule.json", "history.json", "faults.json", "history.html", "watches.json"} {
			require.FileExists(t, filepath.Join(a.Dir, f))
		}
		b, err := os.ReadFile(a.Path("seed.txt"))
		require.NoError(t, err)
		require.Equal(t, "7\n", string(b))
	})
	require.NoDirExists(t, dir)

	t.Run("keep env keeps it", func(t *testing.T) {
		t.Setenv(EnvKeep, "1")
		t.Run("inner", func(t *testing.T) { dir = NewArtifacts(t).Dir })
		require.DirExists(t, dir)
		require.NoError(t, os.RemoveAll(dir))
	})
}
