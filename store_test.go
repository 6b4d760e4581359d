package keel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClosedStore(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	require.NoError(t, err)
	ctx := testCtx(t)
	_, err = s.Put(ctx, "k", "v")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Put(ctx, "k", "v")
	require.ErrorIs(t, err, ErrStopped)
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, ErrStopped)
	_, err = s.Get(ctx, "k", WithSerializable())
	require.ErrorIs(t, err, ErrStopped)
}

func TestOpenConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no dir", cfg: Config{}},
		{name: "peers without id", cfg: Config{Dir: t.TempDir(), Peers: []Peer{{ID: "a", Addr: "127.0.0.1:1"}}}},
		{name: "id not in peers", cfg: Config{Dir: t.TempDir(), ID: "b", Peers: []Peer{{ID: "a", Addr: "127.0.0.1:1"}}}},
		{name: "duplicate peer", cfg: Config{Dir: t.TempDir(), ID: "a", Peers: []Peer{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "a", Addr: "127.0.0.1:2"}}}},
		{name: "peer without addr", cfg: Config{Dir: t.TempDir(), ID: "a", Peers: []Peer{{ID: "a"}}}},
		{name: "lease above heartbeat", cfg: Config{Dir: t.TempDir(), HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second}},
		{name: "too many append entries", cfg: Config{Dir: t.TempDir(), MaxAppendEntries: 5000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	// A Dir remembers its member: reopening it as another member fails.
	s, err := Open(Config{Dir: dir, ID: "one"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(Config{Dir: dir, ID: "two"})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestSingleNodeReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	s, err := Open(Config{Dir: dir})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		_, err := s.Put(ctx, k, k)
		require.NoError(t, err)
	}
	_, err = s.Delete(ctx, "b")
	require.NoError(t, err)
	id := s.id
	require.NoError(t, s.Close())

	s, err = Open(Config{Dir: dir})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, id, s.id)
	gr, err := s.Get(ctx, "", WithPrefix())
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, keys(gr.Kvs))
	require.Equal(t, int64(5), gr.Header.Revision)
	pr, err := s.Put(ctx, "d", "d")
	require.NoError(t, err)
	require.Equal(t, int64(6), pr.Header.Revision)
}

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
