package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

// failingKV fails every call with err.
type failingKV struct{ err error }

func (f failingKV) Put(context.Context, string, string, ...keel.OpOption) (*keel.PutResponse, error) {
	return nil, f.err
}

func (f failingKV) Get(context.Context, string, ...keel.OpOption) (*keel.GetResponse, error) {
	return nil, f.err
}

func (f failingKV) GetStream(context.Context, string, ...keel.OpOption) (keel.GetStreamChan, error) {
	return nil, f.err
}

func (f failingKV) Delete(context.Context, string, ...keel.OpOption) (*keel.DeleteResponse, error) {
	return nil, f.err
}

func (f failingKV) Compact(context.Context, int64, ...keel.CompactOption) (*keel.CompactResponse, error) {
	return nil, f.err
}

func (f failingKV) Do(context.Context, keel.Op) (keel.OpResponse, error) {
	return keel.OpResponse{}, f.err
}

func (f failingKV) Txn(context.Context) keel.Txn { return failingTxn(f) }

type failingTxn struct{ err error }

func (t failingTxn) If(...keel.Cmp) keel.Txn            { return t }
func (t failingTxn) Then(...keel.Op) keel.Txn           { return t }
func (t failingTxn) Else(...keel.Op) keel.Txn           { return t }
func (t failingTxn) Commit() (*keel.TxnResponse, error) { return nil, t.err }

func TestClientOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		maxUnknown int
		unknown    int
	}{
		{"no leader drops everything", keel.ErrNoLeader, 0, 0},
		{"timeouts are unknown, capped", keel.ErrTimeout, 5, 5},
		{"uncapped", keel.ErrTimeout, -1, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := NewRecorder()
			c := NewClient(3, failingKV{tc.err}, rec, rand.New(rand.NewSource(1)), WorkloadConfig{MaxOps: 200, MaxUnknown: tc.maxUnknown})
			n := c.Run(context.Background())
			require.Zero(t, n.Completed)
			require.Equal(t, 200, n.Completed+n.Unknown+n.Failed)
			if tc.unknown >= 0 {
				require.Equal(t, tc.unknown, n.Unknown)
			} else {
				require.Greater(t, n.Unknown, 50)
			}
			ops := rec.Operations()
			require.Len(t, ops, n.Unknown)
			for _, op := range ops {
				require.True(t, op.Output.Unknown)
				require.NotEqual(t, OpGet, op.Input.Kind)
			}
		})
	}
}

func TestClientMixAndUniqueValues(t *testing.T) {
	s := openStore(t)
	rec := NewRecorder()
	keys := []string{"a", "b"}
	var total Counts
	for id := range 2 {
		c := NewClient(id, s, rec, rand.New(rand.NewSource(int64(id))), WorkloadConfig{Keys: keys, MaxOps: 300})
		total = total.Add(c.Run(context.Background()))
	}
	require.Equal(t, Counts{Completed: 600}, total)
	kinds := map[OpKind]int{}
	values := map[string]bool{}
	casOK := map[bool]int{}
	for _, op := range rec.Operations() {
		kinds[op.Input.Kind]++
		require.Contains(t, keys, op.Input.Key)
		if op.Input.Kind == OpPut || op.Input.Kind == OpCAS {
			require.False(t, values[op.Input.Value], "value %q reused", op.Input.Value)
			values[op.Input.Value] = true
		}
		if op.Input.Kind == OpCAS {
			casOK[op.Output.OK]++
		}
	}
	for _, k := range []OpKind{OpGet, OpPut, OpDelete, OpCAS} {
		require.Positive(t, kinds[k], "kind %s", k)
	}
	require.Positive(t, casOK[true], "some CAS succeed")
	require.Positive(t, casOK[false], "some CAS fail")
	ok, res, _, err := Check(rec.Operations(), 30*time.Second)
	require.True(t, ok, "%s %v", res, err)
}

func TestClientPadBytes(t *testing.T) {
	s := openStore(t)
	rec := NewRecorder()
	const pad = 6000
	c := NewClient(0, s, rec, rand.New(rand.NewSource(1)), WorkloadConfig{Keys: []string{"a", "b"}, MaxOps: 300, PadBytes: pad})
	require.Equal(t, Counts{Completed: 300}, c.Run(t.Context()))
	var writes, padded int
	for _, op := range rec.Operations() {
		if op.Input.Kind != OpPut && op.Input.Kind != OpCAS {
			continue
		}
		writes++
		v := op.Input.Value
		if len(v) < pad/2 {
			require.NotContains(t, v, string(padSep), "short value %q", v)
			continue
		}
		padded++
		require.LessOrEqual(t, len(v), pad)
		head, _, ok := strings.Cut(v, string(padSep))
		require.True(t, ok)
		require.Regexp(t, `^c0-[0-9]+$`, head)
		require.Equal(t, fmt.Sprintf("%q+%dB", head, len(v)-len(head)), shortValue(v))
	}
	require.Positive(t, padded, "some of %d writes padded", writes)
	require.Less(t, padded, writes, "not every write padded")
	ok, res, _, err := Check(rec.Operations(), 30*time.Second)
	require.True(t, ok, "%s %v", res, err)
}
