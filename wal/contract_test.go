package wal_test

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/faultfs"
	"github.com/keeldb/keel/wal"
)

// store is what raft needs from a log + stable store.
type store interface {
	raft.LogStore
	raft.StableStore
}

// requireMissing asserts raft's notion of a missing stable key: an empty
// value and either no error or an error whose text is exactly "not found"
// (NewRaft and HasExistingState compare err.Error() with "not found").
func requireMissing(tb testing.TB, val []byte, err error) {
	tb.Helper()
	require.Empty(tb, val)
	if err != nil {
		require.Equal(tb, "not found", err.Error())
	}
}

// contractCases is the LogStore/StableStore contract, run unchanged against
// raft.InmemStore and *wal.WAL.
var contractCases = []struct {
	name string
	run  func(t *testing.T, s store)
}{
	{"empty log", func(t *testing.T, s store) {
		requireLogs(t, s, nil)
		var l raft.Log
		err := s.GetLog(1, &l)
		require.True(t, err == raft.ErrLogNotFound, "GetLog on empty log must return raft.ErrLogNotFound itself, got %v", err)
	}},
	{"store one", func(t *testing.T, s store) {
		l := makeLog(1, 1)
		require.NoError(t, s.StoreLog(l))
		requireLogs(t, s, []*raft.Log{l})
	}},
	{"round trip every field", func(t *testing.T, s store) {
		logs := []*raft.Log{
			{Index: 1, Term: 1, Type: raft.LogNoop},
			{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte{}, Extensions: []byte{}},
			{Index: 3, Term: 2, Type: raft.LogConfiguration, Data: []byte{0, 1, 2}, Extensions: []byte{9}},
			makeLog(4, ^uint64(0)),
			makeLog(5, 3),
		}
		require.NoError(t, s.StoreLogs(logs))
		requireLogs(t, s, logs)
	}},
	{"store batches", func(t *testing.T, s store) {
		a, b := makeLogs(1, 10, 1), makeLogs(11, 5, 2)
		require.NoError(t, s.StoreLogs(a))
		require.NoError(t, s.StoreLogs(b))
		requireLogs(t, s, append(a, b...))
		var l raft.Log
		require.True(t, s.GetLog(0, &l) == raft.ErrLogNotFound)
		require.True(t, s.GetLog(16, &l) == raft.ErrLogNotFound)
	}},
	{"delete head", func(t *testing.T, s store) {
		logs := makeLogs(1, 10, 1)
		require.NoError(t, s.StoreLogs(logs))
		require.NoError(t, s.DeleteRange(1, 4))
		requireLogs(t, s, logs[4:])
		require.NoError(t, s.StoreLogs(makeLogs(11, 2, 1)))
		requireLogs(t, s, append(logs[4:], makeLogs(11, 2, 1)...))
	}},
	{"delete tail then overwrite", func(t *testing.T, s store) {
		logs := makeLogs(1, 10, 1)
		require.NoError(t, s.StoreLogs(logs))
		require.NoError(t, s.DeleteRange(7, 10))
		requireLogs(t, s, logs[:6])
		repl := makeLogs(7, 2, 2)
		require.NoError(t, s.StoreLogs(repl))
		requireLogs(t, s, append(logs[:6:6], repl...))
	}},
	{"delete everything then start anywhere", func(t *testing.T, s store) {
		require.NoError(t, s.StoreLogs(makeLogs(1, 10, 1)))
		require.NoError(t, s.DeleteRange(1, 10))
		requireLogs(t, s, nil)
		next := makeLogs(500, 3, 4)
		require.NoError(t, s.StoreLogs(next))
		requireLogs(t, s, next)
	}},
	{"delete head then tail", func(t *testing.T, s store) {
		logs := makeLogs(1, 20, 1)
		require.NoError(t, s.StoreLogs(logs))
		require.NoError(t, s.DeleteRange(1, 9))
		require.NoError(t, s.DeleteRange(15, 20))
		requireLogs(t, s, logs[9:14])
	}},
	{"stable missing keys", func(t *testing.T, s store) {
		v, err := s.Get([]byte("CurrentTerm"))
		requireMissing(t, v, err)
		u, err := s.GetUint64([]byte("CurrentTerm"))
		require.NoError(t, err)
		require.Zero(t, u)
	}},
	{"stable set and get", func(t *testing.T, s store) {
		require.NoError(t, s.Set([]byte("LastVoteCand"), []byte("node-1")))
		require.NoError(t, s.SetUint64([]byte("CurrentTerm"), 7))
		v, err := s.Get([]byte("LastVoteCand"))
		require.NoError(t, err)
		require.Equal(t, []byte("node-1"), v)
		require.NoError(t, s.Set([]byte("LastVoteCand"), []byte("node-2")))
		v, err = s.Get([]byte("LastVoteCand"))
		require.NoError(t, err)
		require.Equal(t, []byte("node-2"), v)
		u, err := s.GetUint64([]byte("CurrentTerm"))
		require.NoError(t, err)
		require.Equal(t, uint64(7), u)
		require.NoError(t, s.SetUint64([]byte("CurrentTerm"), 8))
		u, err = s.GetUint64([]byte("CurrentTerm"))
		require.NoError(t, err)
		require.Equal(t, uint64(8), u)
		v, err = s.Get([]byte("other"))
		requireMissing(t, v, err)
	}},
}

func TestContract(t *testing.T) {
	impls := []struct {
		name string
		open func(t *testing.T) store
	}{
		{"inmem", func(*testing.T) store { return raft.NewInmemStore() }},
		{"wal-os", func(t *testing.T) store {
			w, err := wal.Open(t.TempDir(), wal.Config{SegmentSize: 1024})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, w.Close()) })
			return w
		}},
		{"wal-faultfs", func(t *testing.T) store {
			w := openMem(t, faultfs.New(), 512)
			t.Cleanup(func() { require.NoError(t, w.Close()) })
			return w
		}},
	}
	for _, impl := range impls {
		for _, tc := range contractCases {
			t.Run(impl.name+"/"+tc.name, func(t *testing.T) {
				tc.run(t, impl.open(t))
			})
		}
	}
}

// TestContractSurvivesReopen runs each contract case on a WAL, reopens it
// and checks that the log and stable keys are unchanged.
func TestContractSurvivesReopen(t *testing.T) {
	for _, tc := range contractCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := wal.Open(dir, wal.Config{SegmentSize: 512})
			require.NoError(t, err)
			tc.run(t, w)
			want := dumpStore(t, w)
			require.NoError(t, w.Close())
			w, err = wal.Open(dir, wal.Config{SegmentSize: 512})
			require.NoError(t, err)
			defer w.Close()
			require.Equal(t, want, dumpStore(t, w))
		})
	}
}

type storeDump struct {
	logs   []raft.Log
	vote   []byte
	term   uint64
	vote2  []byte
	other  uint64
	first  uint64
	lastIx uint64
}

func dumpStore(tb testing.TB, s store) storeDump {
	tb.Helper()
	var d storeDump
	var err error
	d.first, err = s.FirstIndex()
	require.NoError(tb, err)
	d.lastIx, err = s.LastIndex()
	require.NoError(tb, err)
	for i := d.first; d.first != 0 && i <= d.lastIx; i++ {
		var l raft.Log
		require.NoError(tb, s.GetLog(i, &l))
		d.logs = append(d.logs, l)
	}
	d.vote, err = s.Get([]byte("LastVoteCand"))
	require.NoError(tb, err)
	d.vote2, err = s.Get([]byte("other"))
	require.NoError(tb, err)
	d.term, err = s.GetUint64([]byte("CurrentTerm"))
	require.NoError(tb, err)
	d.other, err = s.GetUint64([]byte("other"))
	require.NoError(tb, err)
	return d
}

func TestStoreLogsRejectsBadBatches(t *testing.T) {
	cases := []struct {
		name string
		logs []*raft.Log
		want error
	}{
		{"gap after last", makeLogs(12, 2, 1), wal.ErrOutOfOrder},
		{"overlap", makeLogs(10, 2, 1), wal.ErrOutOfOrder},
		{"not contiguous inside batch", []*raft.Log{makeLog(11, 1), makeLog(13, 1)}, wal.ErrOutOfOrder},
		{"too large", []*raft.Log{{Index: 11, Term: 1, Data: make([]byte, wal.MaxEntrySize)}}, wal.ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := openMem(t, faultfs.New(), 1024)
			defer w.Close()
			logs := makeLogs(1, 10, 1)
			require.NoError(t, w.StoreLogs(logs))
			require.ErrorIs(t, w.StoreLogs(tc.logs), tc.want)
			requireLogs(t, w, logs) // nothing half-applied
			require.NoError(t, w.StoreLogs(makeLogs(11, 1, 1)), "WAL still usable")
		})
	}
}

func TestIndexZeroRejected(t *testing.T) {
	w := openMem(t, faultfs.New(), 1024)
	defer w.Close()
	require.ErrorIs(t, w.StoreLogs([]*raft.Log{{Index: 0}}), wal.ErrOutOfOrder)
	requireLogs(t, w, nil)
}

func TestDeleteRangeMiddleUnsupported(t *testing.T) {
	w := openMem(t, faultfs.New(), 1024)
	defer w.Close()
	logs := makeLogs(1, 10, 1)
	require.NoError(t, w.StoreLogs(logs))
	require.ErrorIs(t, w.DeleteRange(3, 5), wal.ErrUnsupportedRange)
	require.NoError(t, w.DeleteRange(20, 30), "range past the end is a no-op")
	require.NoError(t, w.DeleteRange(5, 3), "min > max is a no-op")
	requireLogs(t, w, logs)
}

func TestClosed(t *testing.T) {
	w := openMem(t, faultfs.New(), 1024)
	require.NoError(t, w.StoreLogs(makeLogs(1, 2, 1)))
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	var l raft.Log
	for name, err := range map[string]error{
		"GetLog":      w.GetLog(1, &l),
		"StoreLogs":   w.StoreLogs(makeLogs(3, 1, 1)),
		"DeleteRange": w.DeleteRange(1, 1),
		"Set":         w.Set([]byte("k"), []byte("v")),
	} {
		require.True(t, errors.Is(err, wal.ErrClosed), "%s: %v", name, err)
	}
	_, err := w.FirstIndex()
	require.ErrorIs(t, err, wal.ErrClosed)
	_, err = w.GetUint64([]byte("k"))
	require.ErrorIs(t, err, wal.ErrClosed)
}
