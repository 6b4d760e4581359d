package keel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSingleNodeSmoke(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	pr, err := s.Put(ctx, "a", "1")
	require.NoError(t, err)
	require.Equal(t, int64(2), pr.Header.Revision)
	gr, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Len(t, gr.Kvs, 1)
	require.Equal(t, "1", string(gr.Kvs[0].Value))
}
