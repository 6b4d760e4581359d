package clientv3util_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/clientv3util"
)

func openStore(tb testing.TB) *keel.Store {
	tb.Helper()
	s, err := keel.Open(keel.Config{Dir: tb.TempDir()})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// TestKeyExistsMissing follows one key through its life (absent, put,
// overwritten, deleted) and checks that KeyExists and KeyMissing hold
// exactly when etcd's do (version > 0, version = 0), alone and over a
// prefix, where they must hold for every key.
func TestKeyExistsMissing(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	holds := func(c keel.Cmp) bool {
		t.Helper()
		r, err := s.Txn(ctx).If(c).Commit()
		require.NoError(t, err)
		return r.Succeeded
	}
	steps := []struct {
		name   string
		do     func() error
		exists bool
	}{
		{name: "never written", do: func() error { return nil }},
		{name: "put", do: func() error { _, err := s.Put(ctx, "p/k", "v"); return err }, exists: true},
		{name: "overwritten", do: func() error { _, err := s.Put(ctx, "p/k", "w"); return err }, exists: true},
		{name: "deleted", do: func() error { _, err := s.Delete(ctx, "p/k"); return err }},
		{name: "put again", do: func() error { _, err := s.Put(ctx, "p/k", ""); return err }, exists: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			require.NoError(t, st.do())
			require.Equal(t, st.exists, holds(clientv3util.KeyExists("p/k")))
			require.Equal(t, !st.exists, holds(clientv3util.KeyMissing("p/k")))
		})
	}

	// Over a range: KeyMissing holds only if no key in it exists, and
	// KeyExists only if some does (an empty range compares as one absent
	// key, as in etcd).
	require.False(t, holds(clientv3util.KeyMissing("p/").WithPrefix()))
	require.True(t, holds(clientv3util.KeyExists("p/").WithPrefix()))
	_, err := s.Delete(ctx, "p/", keel.WithPrefix())
	require.NoError(t, err)
	require.True(t, holds(clientv3util.KeyMissing("p/").WithPrefix()))
	require.False(t, holds(clientv3util.KeyExists("p/").WithPrefix()))
}

// TestKeyMissingGuardsPut checks the use clientv3util documents: a put
// that only happens if the key is missing, atomically.
func TestKeyMissingGuardsPut(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	create := func(v string) bool {
		r, err := s.Txn(ctx).If(clientv3util.KeyMissing("owner")).Then(keel.OpPut("owner", v)).Commit()
		require.NoError(t, err)
		return r.Succeeded
	}
	require.True(t, create("a"))
	require.False(t, create("b"))
	r, err := s.Get(ctx, "owner")
	require.NoError(t, err)
	require.Equal(t, "a", string(r.Kvs[0].Value))
}
