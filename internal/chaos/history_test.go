package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		kind OpKind
		err  error
		want Outcome
	}{
		{"success write", OpPut, nil, Definite},
		{"success read", OpGet, nil, Definite},
		{"cas success", OpCAS, nil, Definite},
		{"failed read", OpGet, keel.ErrTimeout, Dropped},
		{"failed read no leader", OpGet, keel.ErrNoLeader, Dropped},
		{"timeout write", OpPut, keel.ErrTimeout, Unknown},
		{"timeout wrapping ctx", OpDelete, fmt.Errorf("%w: %w", keel.ErrTimeout, context.DeadlineExceeded), Unknown},
		{"timeout wrapping stopped", OpCAS, fmt.Errorf("%w: %w", keel.ErrTimeout, keel.ErrStopped), Unknown},
		{"timeout wrapping no leader", OpPut, fmt.Errorf("%w: %w", keel.ErrTimeout, keel.ErrNoLeader), Unknown},
		{"no leader", OpPut, keel.ErrNoLeader, Dropped},
		{"no leader wrapping ctx", OpPut, fmt.Errorf("%w: %w", keel.ErrNoLeader, context.DeadlineExceeded), Dropped},
		{"not leader", OpCAS, keel.ErrNotLeader, Dropped},
		{"stopped", OpPut, keel.ErrStopped, Dropped},
		// A removed member refuses a write before proposing it with
		// ErrRemoved (which wraps ErrStopped); one in flight when it
		// stops ends with ErrTimeout wrapping it.
		{"removed", OpPut, keel.ErrRemoved, Dropped},
		{"timeout wrapping removed", OpCAS, fmt.Errorf("%w: %w", keel.ErrTimeout, keel.ErrRemoved), Unknown},
		{"validation", OpPut, fmt.Errorf("x: %w", keel.ErrEmptyKey), Dropped},
		{"too large", OpPut, keel.ErrRequestTooLarge, Dropped},
		{"unclassified write error", OpPut, errors.New("connection reset"), Unknown},
		{"bare ctx error on write", OpPut, context.Canceled, Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Classify(tc.kind, tc.err))
		})
	}
}

func TestRecorderRecord(t *testing.T) {
	r := NewRecorder()
	in := Input{Kind: OpPut, Key: "a", Value: "c0-1"}
	call := r.Now()
	require.Equal(t, Definite, r.Record(0, in, call, Output{Revision: 7}, nil))
	require.Equal(t, Unknown, r.Record(1, in, r.Now(), Output{Revision: 9}, keel.ErrTimeout))
	require.Equal(t, Dropped, r.Record(2, in, r.Now(), Output{}, keel.ErrNoLeader))
	require.Equal(t, Dropped, r.Record(2, Input{Kind: OpGet, Key: "a"}, r.Now(), Output{}, keel.ErrTimeout))

	ops := r.Operations()
	require.Len(t, ops, 2)
	require.Equal(t, 1, r.Completed(), "only the definite operation counts as completed")
	require.Equal(t, int64(7), ops[0].Output.Revision)
	require.GreaterOrEqual(t, ops[0].Return, ops[0].Call)
	require.Equal(t, Output{Unknown: true}, ops[1].Output)
	require.Equal(t, int64(math.MaxInt64), ops[1].Return)
	require.Equal(t, "definite", Definite.String())
	require.Equal(t, "unknown", Unknown.String())
	require.Equal(t, "dropped", Dropped.String())
}

func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				r.Record(c, Input{Kind: OpPut, Key: "k", Value: fmt.Sprintf("c%d-%d", c, i)}, r.Now(), Output{}, nil)
			}
			end := r.BeginFault(Pause, "p", fmt.Sprint(c))
			end()
			end() // second call is a no-op
		}()
	}
	wg.Wait()
	require.Len(t, r.Operations(), 800)
	require.Equal(t, 800, r.Completed())
	faults := r.Faults()
	require.Len(t, faults, 8)
	for _, f := range faults {
		require.LessOrEqual(t, f.Start, f.End)
	}
}
