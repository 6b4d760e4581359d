package keel_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
)

// backupSource is a cluster's state at the moment of a backup, to compare a
// restored cluster against.
type backupSource struct {
	backup    []byte
	info      *keel.BackupInfo
	clusterID uint64
	// all is every key at the backup's revision; old the keys at an
	// earlier revision above the compaction.
	all, old   []*keel.KeyValue
	oldRev     int64
	hash       *keel.HashKVResponse
	leases     []keel.LeaseID
	leaseTTL   map[keel.LeaseID]int64
	leaseKeys  map[keel.LeaseID][]string
	members    int
	compactRev int64
}

// writeHistory gives s history worth restoring: keys with several
// versions, a deletion, keys on two leases and a compaction. It returns the
// revision of a read above the compaction.
func writeHistory(tb testing.TB, s *keel.Store) (oldRev int64) {
	tb.Helper()
	ctx := tb.Context()
	var l1, l2 *keel.LeaseGrantResponse
	var err error
	l1, err = s.Grant(ctx, 3600)
	require.NoError(tb, err)
	l2, err = s.Grant(ctx, 7200)
	require.NoError(tb, err)
	var compactAt int64
	for i := range 20 {
		r, err := s.Put(ctx, fmt.Sprintf("k%02d", i%7), fmt.Sprintf("v%d", i))
		require.NoError(tb, err)
		if i == 9 {
			compactAt = r.Header.Revision
		}
		if i == 14 {
			oldRev = r.Header.Revision
		}
	}
	_, err = s.Delete(ctx, "k03")
	require.NoError(tb, err)
	_, err = s.Put(ctx, "leased/a", "1", keel.WithLease(l1.ID))
	require.NoError(tb, err)
	_, err = s.Put(ctx, "leased/b", "2", keel.WithLease(l1.ID))
	require.NoError(tb, err)
	_, err = s.Put(ctx, "leased/c", "3", keel.WithLease(l2.ID))
	require.NoError(tb, err)
	_, err = s.Compact(ctx, compactAt, keel.WithCompactPhysical())
	require.NoError(tb, err)
	return oldRev
}

// takeBackup backs s up and records what a restore must reproduce.
func takeBackup(tb testing.TB, s *keel.Store, oldRev int64) *backupSource {
	tb.Helper()
	ctx := tb.Context()
	backup := snapshotBytes(tb, s)
	src := &backupSource{backup: backup, oldRev: oldRev, leaseTTL: map[keel.LeaseID]int64{}, leaseKeys: map[keel.LeaseID][]string{}}
	var err error
	src.info, err = keel.VerifyBackup(bytes.NewReader(src.backup))
	require.NoError(tb, err)
	all, err := s.Get(ctx, "\x00", keel.WithFromKey(), keel.WithSerializable())
	require.NoError(tb, err)
	require.Equal(tb, all.Header.Revision, src.info.Revision, "nothing was written since the backup")
	src.all, src.clusterID = all.Kvs, all.Header.ClusterId
	old, err := s.Get(ctx, "\x00", keel.WithFromKey(), keel.WithRev(oldRev), keel.WithSerializable())
	require.NoError(tb, err)
	src.old = old.Kvs
	src.hash, err = s.HashKV(ctx, "", src.info.Revision)
	require.NoError(tb, err)
	src.compactRev = src.hash.CompactRevision
	require.Equal(tb, src.compactRev, src.info.CompactRevision)
	require.Positive(tb, src.compactRev)
	ls, err := s.Leases(ctx)
	require.NoError(tb, err)
	for _, l := range ls.Leases {
		src.leases = append(src.leases, l.ID)
		ttl, err := s.TimeToLive(ctx, l.ID, keel.WithAttachedKeys())
		require.NoError(tb, err)
		src.leaseTTL[l.ID] = ttl.GrantedTTL
		for _, k := range ttl.Keys {
			src.leaseKeys[l.ID] = append(src.leaseKeys[l.ID], string(k))
		}
	}
	slices.Sort(src.leases)
	require.Len(tb, src.leases, 2)
	ml, err := s.MemberList(ctx)
	require.NoError(tb, err)
	src.members = len(ml.Members)
	return src
}

// requireRestored checks that member s of a restored cluster holds src's
// data, history, hash and leases under a new cluster ID.
func requireRestored(tb testing.TB, s *keel.Store, src *backupSource) {
	tb.Helper()
	ctx := tb.Context()
	all, err := s.Get(ctx, "\x00", keel.WithFromKey(), keel.WithRev(src.info.Revision), keel.WithSerializable())
	require.NoError(tb, err)
	require.Equal(tb, src.all, all.Kvs)
	require.NotEqual(tb, src.clusterID, all.Header.ClusterId, "a restored cluster has a new ID")
	old, err := s.Get(ctx, "\x00", keel.WithFromKey(), keel.WithRev(src.oldRev), keel.WithSerializable())
	require.NoError(tb, err)
	require.Equal(tb, src.old, old.Kvs, "history is restored")
	_, err = s.Get(ctx, "k00", keel.WithRev(src.compactRev-1), keel.WithSerializable())
	require.ErrorIs(tb, err, keel.ErrCompacted, "so is the compaction")
	h, err := s.HashKV(ctx, "", src.info.Revision)
	require.NoError(tb, err)
	require.Equal(tb, src.hash.Hash, h.Hash)
	require.Equal(tb, src.hash.HashRevision, h.HashRevision)
	require.Equal(tb, src.hash.CompactRevision, h.CompactRevision)
	ls, err := s.Leases(ctx)
	require.NoError(tb, err)
	var ids []keel.LeaseID
	for _, l := range ls.Leases {
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	require.Equal(tb, src.leases, ids)
	for _, id := range src.leases {
		ttl, err := s.TimeToLive(ctx, id, keel.WithAttachedKeys())
		require.NoError(tb, err)
		require.Equal(tb, src.leaseTTL[id], ttl.GrantedTTL)
		require.Positive(tb, ttl.TTL)
		var keys []string
		for _, k := range ttl.Keys {
			keys = append(keys, string(k))
		}
		require.Equal(tb, src.leaseKeys[id], keys)
	}
}

// sourceCluster is a cluster with history and a member that joined (so
// its membership records are not empty), backed up from its leader.
func sourceCluster(t *testing.T) *backupSource {
	t.Helper()
	c := keeltest.NewCluster(t, 1)
	c.Join(nil)
	l := c.Leader()
	// A reserved member that never started: a record with no raft server.
	_, err := l.MemberAdd(t.Context(), []string{"127.0.0.1:9"})
	require.NoError(t, err)
	oldRev := writeHistory(t, l)
	src := takeBackup(t, l, oldRev)
	require.Equal(t, 3, src.members)
	// Writes after the backup are not in it.
	_, err = l.Put(t.Context(), "after", "backup")
	require.NoError(t, err)
	return src
}

func TestRestoreThreeMembers(t *testing.T) {
	src := sourceCluster(t)
	c := keeltest.NewCluster(t, 3, keeltest.WithBackup(src.backup))
	ctx := t.Context()
	l := c.Leader()
	// A linearizable read on each member brings it up to date first.
	var clusterID uint64
	for i, s := range c.Members() {
		r, err := s.Get(ctx, "after")
		require.NoError(t, err, "member %d", i)
		require.Empty(t, r.Kvs, "member %d: a write after the backup is not restored", i)
		require.Equal(t, src.info.Revision, r.Header.Revision, "member %d", i)
		if i == 0 {
			clusterID = r.Header.ClusterId
		}
		require.Equal(t, clusterID, r.Header.ClusterId, "member %d: the members agree on the new cluster ID", i)
		requireRestored(t, s, src)
	}
	ml, err := l.MemberList(ctx)
	require.NoError(t, err)
	var names []string
	for _, m := range ml.Members {
		names = append(names, m.Name)
		require.False(t, m.IsLearner)
	}
	require.Equal(t, []string{"m0", "m1", "m2"}, sortedStrings(names), "the source's membership does not carry over")

	// The restored cluster takes writes and keeps its leases alive.
	put, err := c.Follower().Put(ctx, "after", "restore")
	require.NoError(t, err)
	require.Equal(t, src.info.Revision+1, put.Header.Revision)
	ka, err := c.Follower().KeepAliveOnce(ctx, src.leases[0])
	require.NoError(t, err)
	require.Equal(t, src.leaseTTL[src.leases[0]], ka.TTL)
	require.NoError(t, c.WaitConverged(ctx))

	// After a restart every member still holds the restored data.
	c.Restart(0)
	r, err := c.Member(0).Get(ctx, "leased/", keel.WithPrefix())
	require.NoError(t, err)
	require.Len(t, r.Kvs, 3)
	require.NoError(t, c.WaitConverged(ctx))
}

func TestRestoreOneAndJoin(t *testing.T) {
	src := sourceCluster(t)
	c := keeltest.NewCluster(t, 1, keeltest.WithBackup(src.backup))
	ctx := t.Context()
	requireRestored(t, c.Member(0), src)
	// The joiners receive the restored data from the cluster (as a raft
	// snapshot: it is in no log entry).
	for range 2 {
		i := c.Join(nil)
		requireRestored(t, c.Member(i), src)
	}
	put, err := c.Member(2).Put(ctx, "after", "restore")
	require.NoError(t, err)
	require.Equal(t, src.info.Revision+1, put.Header.Revision)
	require.NoError(t, c.WaitConverged(ctx))
	ml, err := c.Member(1).MemberList(ctx)
	require.NoError(t, err)
	require.Len(t, ml.Members, 3)
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
