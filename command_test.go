package keel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/allocs"
)

// sampleOps covers every op type and option the command format carries.
func sampleOps() map[string]Op {
	return map[string]Op{
		"put":            OpPut("k", "v"),
		"put options":    OpPut("k", "", WithPrevKV(), WithIgnoreValue(), WithLease(42)),
		"empty value":    OpPut("k", ""),
		"delete range":   OpDelete("a", WithRange("b"), WithPrevKV()),
		"delete prefix":  OpDelete("", WithPrefix()),
		"get everything": OpGet("a", WithFromKey(), WithLimit(5), WithRev(9), WithSort(SortByValue, SortDescend), WithKeysOnly(), WithSerializable(), WithMinModRev(1), WithMaxModRev(2), WithMinCreateRev(3), WithMaxCreateRev(4)),
		"get count":      OpGet("a", WithCountOnly()),
		"txn": OpTxn(
			[]Cmp{Compare(Value("a"), "=", ""), Compare(Version("b"), ">", 3).WithPrefix(), Compare(LeaseValue("c"), "!=", LeaseID(-1))},
			[]Op{OpPut("x", "1"), OpTxn(nil, []Op{OpGet("y")}, []Op{OpDelete("z")})},
			[]Op{OpGet("q", WithPrefix())},
		),
		"empty txn": OpTxn(nil, nil, nil),
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for name, op := range sampleOps() {
		t.Run(name, func(t *testing.T) {
			b := encodeOpCommand(&op)
			c, err := decodeCommand(b)
			require.NoError(t, err)
			require.Equal(t, byte(cmdOp), c.kind)
			// Re-encoding the decoded op gives the same bytes.
			require.Equal(t, b, encodeOpCommand(&c.op))
			require.Equal(t, op.t, c.op.t)
			require.Equal(t, op.key, c.op.key)
		})
	}
	c, err := decodeCommand(encodeNoop())
	require.NoError(t, err)
	require.Equal(t, byte(cmdNoop), c.kind)
	for _, raise := range []bool{true, false} {
		m := AlarmMember{MemberID: 1 << 60, Alarm: AlarmCorrupt}
		b := encodeAlarmCommand(raise, m)
		c, err := decodeCommand(b)
		require.NoError(t, err)
		require.Equal(t, byte(cmdAlarm), c.kind)
		require.Equal(t, raise, c.raise)
		require.Equal(t, m, c.alarm)
		require.Equal(t, b, c.encode())
	}
}

func TestCommandDecodeRejects(t *testing.T) {
	vop := OpTxn(nil, []Op{OpPut("a", "b")}, nil)
	valid := encodeOpCommand(&vop)
	deep := OpPut("k", "v")
	for range maxTxnDepth + 1 {
		deep = OpTxn(nil, []Op{deep}, nil)
	}
	// cmd is a command of kind with request ID 0 and body, so that each
	// case reaches the check it is named for.
	cmd := func(kind byte, body ...byte) []byte {
		return append([]byte{commandVersion, kind, 0, 0, 0, 0, 0, 0, 0, 0}, body...)
	}
	tests := []struct {
		name string
		in   []byte
		want string // in the error's text
	}{
		{name: "empty", in: nil, want: "truncated"},
		{name: "unknown version", in: []byte{9, cmdNoop}, want: "version"},
		{name: "no request ID", in: []byte{commandVersion, cmdNoop, 0}, want: "8-byte"},
		{name: "unknown kind", in: cmd(77), want: "kind"},
		{name: "unknown op type", in: cmd(cmdOp, 99), want: "op type"},
		{name: "trailing bytes", in: append(encodeNoop(), 0), want: "trailing"},
		{name: "truncated", in: valid[:len(valid)-1]},
		{name: "forged length", in: cmd(cmdOp, byte(tPut), 0xff, 0xff, 0xff, 0xff, 0x0f), want: "length"},
		{name: "forged count", in: cmd(cmdOp, byte(tTxn), 0xff, 0xff, 0xff, 0xff, 0x0f), want: "count"},
		{name: "bad flags", in: cmd(cmdOp, byte(tDeleteRange), 1, 'a', 0, 0xf0), want: "flags"},
		{name: "too deep", in: encodeOpCommand(&deep), want: "deep"},
		{name: "non-minimal varint", in: cmd(cmdLeaseRevoke, 0x80, 0x00), want: "non-minimal"},
		{name: "bad bool", in: cmd(cmdCompact, 2, 2), want: "bool"},
		{name: "member state version", in: cmd(cmdMember, 0, 3, 9, 0, 0), want: "version"},
		{name: "member flags", in: cmd(cmdMember, 0, 8, 1, 0, 0, 1, 1, 0, 0, 8), want: "flags"},
		{name: "member order", in: cmd(cmdMember, 0, 12, 1, 0, 0, 2, 2, 0, 0, 0, 1, 0, 0, 0), want: "order"},
		{name: "alarm action", in: cmd(cmdAlarm, 3, 1, byte(AlarmNoSpace)), want: "alarm action"},
		{name: "alarm type none", in: cmd(cmdAlarm, alarmActivate, 1, byte(AlarmNone)), want: "alarm type"},
		{name: "alarm type unknown", in: cmd(cmdAlarm, alarmDeactivate, 1, 3), want: "alarm type"},
		{name: "alarm truncated", in: cmd(cmdAlarm, alarmActivate, 1), want: "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeCommand(tc.in)
			requireCorrupt(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// requireCorrupt checks that err wraps ErrCorruptCommand and that its text
// starts with the sentinel's.
func requireCorrupt(tb testing.TB, err error) {
	tb.Helper()
	require.ErrorIs(tb, err, ErrCorruptCommand)
	require.True(tb, strings.HasPrefix(err.Error(), ErrCorruptCommand.Error()), "error %q keeps the sentinel's prefix", err)
}

// FuzzCommandDecode checks that decoding never panics, and that whatever
// decodes re-encodes to the same bytes (the format has one encoding per
// command).
func FuzzCommandDecode(f *testing.F) {
	for _, op := range sampleOps() {
		f.Add(encodeOpCommand(&op))
	}
	f.Add(encodeNoop())
	f.Add(encodeCompactCommand(12, true))
	f.Add(encodeLeaseGrantCommand(7, 60))
	f.Add(encodeLeaseRevokeCommand(7))
	f.Add(encodeLeaseCheckpointCommand([]leaseCheckpoint{{id: 1, remaining: 1500}, {id: 9, remaining: 1}}))
	f.Add(encodeMemberCommand(3, &clusterState{index: 3, initial: 3, records: []memberRecord{
		{id: 5, name: "m5", addr: "127.0.0.1:7", learner: true}, {id: 9, addr: "h:1", removed: true},
	}}))
	f.Add(encodeAlarmCommand(true, AlarmMember{MemberID: 7, Alarm: AlarmNoSpace}))
	f.Add(encodeAlarmCommand(false, AlarmMember{MemberID: 1 << 63, Alarm: AlarmCorrupt}))
	f.Add([]byte{commandVersion, cmdOp, 0, 0, 0, 0, 0, 0, 0, 0, byte(tTxn), 0xff, 0xff, 0x03}) // a forged txn count
	f.Add(forgedNestedTxn(maxTxnDepth, 4096))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c command
		var err error
		alloc := allocs.Least(3, func() { c, err = decodeCommand(b) })
		if budget := decodeAllocBudget(len(b)); alloc > budget {
			t.Fatalf("decoding %d bytes allocated %d, budget %d", len(b), alloc, budget)
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptCommand) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if again := c.encode(); !bytes.Equal(b, again) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, again)
		}
	})
}

// decodeAllocBudget is what decoding an n-byte command may allocate: the
// ops and compares that decode, an Op of 264 bytes per 4 encoded at least
// and the slices holding them allocating up to four times their final
// length (doubling, to at most twice what decoded before a failure), plus
// decodePrealloc Ops per nesting level.
func decodeAllocBudget(n int) uint64 { return 256<<10 + 280*uint64(n) }

// forgedNestedTxn returns a command of txns nested depth deep, each
// claiming as many then-ops as pad bytes could hold, followed by pad zero
// bytes: decoding fails, having allocated (before decodePrealloc)
// about depth × 66 × pad bytes.
func forgedNestedTxn(depth, pad int) []byte {
	b := []byte{commandVersion, cmdOp, 0, 0, 0, 0, 0, 0, 0, 0}
	for range depth {
		b = append(b, byte(tTxn), 0)                       // no compares
		b = binary.AppendUvarint(b, uint64(pad/minOpSize)) // then-ops claimed
	}
	return append(b, make([]byte, pad)...)
}

func TestDecodeCommandForgedCounts(t *testing.T) {
	b := forgedNestedTxn(maxTxnDepth, 64<<10)
	var err error
	alloc := allocs.Least(3, func() { _, err = decodeCommand(b) })
	requireCorrupt(t, err)
	require.Less(t, alloc, decodeAllocBudget(len(b)), "decoding %d forged bytes allocated %d", len(b), alloc)
}

// BenchmarkCommandCodec encodes and decodes a replicated command: a put as
// raft carries it under load, and a small transaction.
func BenchmarkCommandCodec(b *testing.B) {
	ops := map[string]Op{
		"put": OpPut("some/key/0001", string(bytes.Repeat([]byte{'v'}, 300)), WithLease(7)),
		"txn": OpTxn([]Cmp{Compare(Version("a"), "=", 3), Compare(Value("b"), "=", "x")},
			[]Op{OpPut("a", "1"), OpPut("b", "2"), OpDelete("c", WithPrefix())}, []Op{OpGet("a")}),
	}
	for _, name := range []string{"put", "txn"} {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeCommand(encodeOpCommand(&op)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
