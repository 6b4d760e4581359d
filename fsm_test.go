package keel

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/mvcc"
)

// TestApplyDoesNotRetainEntryData checks the contract decodeCommand relies
// on: the keys and values it decodes alias the raft entry's Data, and
// nothing the apply keeps (the store's values, watch events) may alias it.
// Each case applies a command, then overwrites the entry's Data, and reads
// back what was applied.
func TestApplyDoesNotRetainEntryData(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		key  string
		want string
	}{
		{name: "put", op: OpPut("key-a", "value-a"), key: "key-a", want: "value-a"},
		{name: "put in txn", op: OpTxn([]Cmp{Compare(Version("key-b"), "=", 0)}, []Op{OpPut("key-b", "value-b")}, nil), key: "key-b", want: "value-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv, err := mvcc.Open(filepath.Join(t.TempDir(), "db"), mvcc.Config{})
			require.NoError(t, err)
			defer kv.Close()
			events := make(aliasSink, 4)
			_, err = kv.Watch([]byte(tc.key), nil, mvcc.WatchOptions{}, events)
			require.NoError(t, err)
			f := newFSM(kv, slog.New(slog.DiscardHandler))

			data := encodeOpCommand(&tc.op)
			res := f.ApplyBatch([]*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: data}})
			require.Len(t, res, 1)
			require.NoError(t, res[0].(*applyResult).err)
			for i := range data {
				data[i] = 0xff
			}

			rr, err := kv.Range([]byte(tc.key), nil, mvcc.RangeOptions{})
			require.NoError(t, err)
			require.Len(t, rr.KVs, 1)
			require.Equal(t, tc.key, string(rr.KVs[0].Key))
			require.Equal(t, tc.want, string(rr.KVs[0].Value))
			resp := <-events
			require.Len(t, resp.Events, 1)
			require.Equal(t, tc.key, string(resp.Events[0].Kv.Key))
			require.Equal(t, tc.want, string(resp.Events[0].Kv.Value))
		})
	}
}

// TestDecodedViewsCannotWriteIntoInput checks that appending to a decoded
// key or value (which alias the input) reallocates instead of overwriting
// the bytes that follow it in the input.
func TestDecodedViewsCannotWriteIntoInput(t *testing.T) {
	op := OpPut("k", "v")
	b := encodeOpCommand(&op)
	orig := bytes.Clone(b)
	c, err := decodeCommand(b)
	require.NoError(t, err)
	_ = append(c.op.key, "XXXXXXXX"...)
	_ = append(c.op.val, "XXXXXXXX"...)
	require.Equal(t, orig, b)
}

// aliasSink is a buffered-channel mvcc.WatchSink.
type aliasSink chan mvcc.WatchResponse

func (c aliasSink) Send(r mvcc.WatchResponse) bool {
	select {
	case c <- r:
		return true
	default:
		return false
	}
}

func (c aliasSink) Close() {}
