package keel

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/mvcc"
)

func TestAlarmSetCodec(t *testing.T) {
	tests := map[string]alarmSet{
		"empty": {},
		"one":   {{MemberID: 3, Alarm: AlarmNoSpace}},
		"several": {
			{MemberID: 1, Alarm: AlarmNoSpace}, {MemberID: 1, Alarm: AlarmCorrupt},
			{MemberID: 1 << 63, Alarm: AlarmNoSpace},
		},
	}
	for name, as := range tests {
		t.Run(name, func(t *testing.T) {
			b := as.encode()
			got, err := decodeAlarmSet(b)
			require.NoError(t, err)
			require.Equal(t, len(as), len(got))
			require.Equal(t, b, got.encode())
		})
	}
	got, err := decodeAlarmSet(nil)
	require.NoError(t, err)
	require.Empty(t, got, "a store that never had alarms has none")

	rejects := []struct {
		name string
		in   []byte
		want string
	}{
		{name: "version", in: []byte{2, 0}, want: "version"},
		{name: "type none", in: []byte{1, 1, 5, 0}, want: "alarm type"},
		{name: "type unknown", in: []byte{1, 1, 5, 3}, want: "alarm type"},
		{name: "repeated", in: []byte{1, 2, 5, 1, 5, 1}, want: "order"},
		{name: "out of order", in: []byte{1, 2, 5, 2, 5, 1}, want: "order"},
		{name: "forged count", in: []byte{1, 0xff, 0xff, 0x03}, want: "count"},
		{name: "trailing", in: []byte{1, 0, 0}, want: "trailing"},
	}
	for _, tc := range rejects {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			_, err := decodeAlarmSet(tc.in)
			requireCorrupt(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAlarmSetChanges(t *testing.T) {
	var as alarmSet
	nospace := AlarmMember{MemberID: 2, Alarm: AlarmNoSpace}
	corrupt := AlarmMember{MemberID: 1, Alarm: AlarmCorrupt}
	as1, changed := as.with(nospace)
	require.True(t, changed)
	require.Empty(t, as, "sets are never modified in place")
	_, changed = as1.with(nospace)
	require.False(t, changed, "raising an active alarm changes nothing")
	_, changed = as1.with(AlarmMember{MemberID: 2})
	require.False(t, changed, "AlarmNone is never stored")
	as2, _ := as1.with(corrupt)
	require.Equal(t, alarmSet{corrupt, nospace}, as2, "sorted by member")
	require.True(t, as2.has(2, AlarmNoSpace))
	require.False(t, as2.has(1, AlarmNoSpace))
	require.True(t, as2.any(AlarmCorrupt))
	as3, changed := as2.without(nospace)
	require.True(t, changed)
	require.Equal(t, alarmSet{corrupt}, as3)
	require.Len(t, as2, 2)
	_, changed = as3.without(nospace)
	require.False(t, changed)
}

// FuzzAlarmStateDecode checks that decoding the stored alarm state never
// panics, and that whatever decodes re-encodes to the same bytes.
func FuzzAlarmStateDecode(f *testing.F) {
	f.Add(alarmSet{}.encode())
	f.Add(alarmSet{{MemberID: 1, Alarm: AlarmNoSpace}, {MemberID: 9, Alarm: AlarmCorrupt}}.encode())
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := decodeAlarmSet(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptCommand) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(b) == 0 {
			return
		}
		if again := as.encode(); !bytes.Equal(b, again) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, again)
		}
	})
}

// fsmHarness drives an FSM over a fresh mvcc store, one entry at a time.
type fsmHarness struct {
	tb  testing.TB
	kv  *mvcc.Store
	f   *fsm
	idx uint64
}

func newFSMHarness(tb testing.TB) *fsmHarness {
	kv, err := mvcc.Open(filepath.Join(tb.TempDir(), "kv.db"), mvcc.Config{})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, kv.Close()) })
	return &fsmHarness{tb: tb, kv: kv, f: newFSM(kv, slog.New(slog.DiscardHandler))}
}

// apply applies the encoded command cmd as the next entry.
func (h *fsmHarness) apply(cmd []byte) *applyResult {
	h.idx++
	out := h.f.ApplyBatch([]*raft.Log{{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: cmd}})
	res, _ := out[0].(*applyResult)
	require.NotNil(h.tb, res)
	return res
}

func (h *fsmHarness) op(op Op) *applyResult { return h.apply(encodeOpCommand(&op)) }

// state is what a refused command must leave untouched.
type fsmState struct {
	rev    int64
	hash   uint32
	leases int
}

func (h *fsmHarness) state() fsmState {
	hash, rev, err := h.kv.Hash()
	require.NoError(h.tb, err)
	return fsmState{rev: rev, hash: hash, leases: len(h.kv.Leases())}
}

// TestApplyCappedByNoSpace checks the capped applier: while a NOSPACE
// alarm is active, exactly the commands that add data fail with
// ErrNoSpace and leave no trace (same revision, hash and leases; the raft
// index is still recorded), and everything else applies. Once the alarm
// clears, writes apply again.
func TestApplyCappedByNoSpace(t *testing.T) {
	h := newFSMHarness(t)
	require.NoError(t, h.op(OpPut("a", "1")).err)
	require.NoError(t, h.op(OpPut("b", "1")).err)
	require.NoError(t, h.apply(encodeLeaseGrantCommand(7, 60)).err)
	nospace := AlarmMember{MemberID: 3, Alarm: AlarmNoSpace}
	res := h.apply(encodeAlarmCommand(true, nospace))
	require.NoError(t, res.err)
	require.Equal(t, []*AlarmMember{&nospace}, res.alarm.Alarms)
	require.True(t, h.f.alarmSet().has(3, AlarmNoSpace))

	refused := map[string][]byte{
		"put": encodeOpCommand(new(OpPut("c", "1"))),
		"txn putting in then": encodeOpCommand(new(OpTxn([]Cmp{Compare(Value("a"), "=", "1")},
			[]Op{OpDelete("b"), OpPut("c", "1")}, nil))),
		"txn putting in else": encodeOpCommand(new(OpTxn([]Cmp{Compare(Value("a"), "=", "2")},
			[]Op{OpDelete("b")}, []Op{OpDelete("a"), OpPut("c", "1")}))),
		"nested txn putting": encodeOpCommand(new(OpTxn(nil,
			[]Op{OpDelete("b"), OpTxn([]Cmp{Compare(Version("a"), ">", 0)}, []Op{OpPut("a", "3")}, nil)}, nil))),
		"lease grant": encodeLeaseGrantCommand(8, 60),
	}
	for name, cmd := range refused {
		t.Run("refuses "+name, func(t *testing.T) {
			before := h.state()
			idx := h.kv.ConsistentIndex()
			res := h.apply(cmd)
			require.ErrorIs(t, res.err, ErrNoSpace)
			require.Equal(t, before, h.state(), "no trace")
			require.Equal(t, idx+1, h.kv.ConsistentIndex(), "the entry's index is recorded")
		})
	}

	allowed := []struct {
		name string
		cmd  []byte
	}{
		{name: "txn whose executed branch does not put", cmd: encodeOpCommand(new(OpTxn([]Cmp{Compare(Value("a"), "=", "1")},
			[]Op{OpGet("a"), OpTxn(nil, []Op{OpDelete("zz")}, []Op{OpPut("x", "1")})}, []Op{OpPut("c", "1")})))},
		{name: "delete", cmd: encodeOpCommand(new(OpDelete("b")))},
		{name: "lease revoke", cmd: encodeLeaseRevokeCommand(7)},
		{name: "compact", cmd: encodeCompactCommand(2, false)},
		{name: "another alarm", cmd: encodeAlarmCommand(true, AlarmMember{MemberID: 4, Alarm: AlarmNoSpace})},
	}
	for _, tc := range allowed {
		t.Run("applies "+tc.name, func(t *testing.T) {
			require.NoError(t, h.apply(tc.cmd).err)
		})
	}
	rr, err := h.kv.Range([]byte("b"), nil, mvcc.RangeOptions{})
	require.NoError(t, err)
	require.Empty(t, rr.KVs, "the delete applied")

	// One alarm cleared, one left: still capped.
	res = h.apply(encodeAlarmCommand(false, nospace))
	require.NoError(t, res.err)
	require.Equal(t, []*AlarmMember{&nospace}, res.alarm.Alarms)
	require.ErrorIs(t, h.op(OpPut("c", "1")).err, ErrNoSpace)
	res = h.apply(encodeAlarmCommand(false, nospace))
	require.Empty(t, res.alarm.Alarms, "clearing an inactive alarm changes nothing")
	require.NoError(t, h.apply(encodeAlarmCommand(false, AlarmMember{MemberID: 4, Alarm: AlarmNoSpace})).err)
	require.False(t, h.f.alarmSet().any(AlarmNoSpace))
	require.NoError(t, h.op(OpPut("c", "1")).err)
	require.NoError(t, h.apply(encodeLeaseGrantCommand(8, 60)).err)

	t.Run("a corrupt alarm does not cap writes", func(t *testing.T) {
		require.NoError(t, h.apply(encodeAlarmCommand(true, AlarmMember{MemberID: 3, Alarm: AlarmCorrupt})).err)
		require.NoError(t, h.op(OpPut("d", "1")).err)
	})
}

// TestAlarmsSurviveRestartAndSnapshot checks that the FSM's alarms are
// those of the store it opens or restores.
func TestAlarmsSurviveRestartAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	kv, err := mvcc.Open(filepath.Join(dir, "kv.db"), mvcc.Config{})
	require.NoError(t, err)
	h := &fsmHarness{tb: t, kv: kv, f: newFSM(kv, slog.New(slog.DiscardHandler))}
	m := AlarmMember{MemberID: 5, Alarm: AlarmNoSpace}
	require.NoError(t, h.apply(encodeAlarmCommand(true, m)).err)
	sn, err := kv.Snapshot()
	require.NoError(t, err)
	var snap bytes.Buffer
	_, err = sn.WriteTo(&snap)
	require.NoError(t, err)
	require.NoError(t, sn.Close())
	require.NoError(t, kv.Close())

	kv, err = mvcc.Open(filepath.Join(dir, "kv.db"), mvcc.Config{})
	require.NoError(t, err)
	defer kv.Close()
	f := newFSM(kv, slog.New(slog.DiscardHandler))
	require.Equal(t, alarmSet{m}, f.alarmSet(), "after a restart")

	other := newFSMHarness(t)
	require.Empty(t, other.f.alarmSet())
	require.NoError(t, other.f.Restore(readCloser{bytes.NewReader(snap.Bytes())}))
	require.Equal(t, alarmSet{m}, other.f.alarmSet(), "after a snapshot restore")
	other.idx = other.kv.ConsistentIndex()
	require.ErrorIs(t, other.apply(encodeOpCommand(new(OpPut("k", "v")))).err, ErrNoSpace)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
