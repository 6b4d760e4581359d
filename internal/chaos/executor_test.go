package chaos

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

func TestClassifyRemoteError(t *testing.T) {
	tests := []struct {
		name string
		kind OpKind
		err  error
		want Outcome
	}{
		{name: "remote dropped write", kind: OpPut, err: &RemoteError{Outcome: Dropped, Msg: "no leader"}, want: Dropped},
		{name: "remote unknown write", kind: OpCAS, err: &RemoteError{Outcome: Unknown, Msg: "timeout"}, want: Unknown},
		{name: "wrapped remote dropped", kind: OpDelete, err: fmt.Errorf("x: %w", &RemoteError{Outcome: Dropped}), want: Dropped},
		{name: "remote read failure", kind: OpGet, err: &RemoteError{Outcome: Unknown}, want: Dropped},
		{name: "remote definite is not trusted", kind: OpPut, err: &RemoteError{Outcome: Definite}, want: Unknown},
		{name: "timeout wins", kind: OpPut, err: fmt.Errorf("%w: %w", keel.ErrTimeout, &RemoteError{Outcome: Dropped}), want: Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Classify(tc.kind, tc.err))
		})
	}
	require.Contains(t, (&RemoteError{Outcome: Dropped, Msg: "boom"}).Error(), "dropped: boom")
}

func TestKVExecutor(t *testing.T) {
	s := openStore(t)
	ex := KVExecutor{KV: s}
	ctx := context.Background()
	_, err := ex.Exec(ctx, Input{Kind: OpPut, Key: "k", Value: "v"})
	require.NoError(t, err)
	out, err := ex.Exec(ctx, Input{Kind: OpGet, Key: "k"})
	require.NoError(t, err)
	require.True(t, out.Found)
	require.Equal(t, "v", out.Value)
	_, err = ex.Exec(ctx, Input{Kind: "bogus", Key: "k"})
	require.ErrorIs(t, err, ErrInvalidArgument)
}
