package keel_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/clientv3util"
)

// The interfaces below have exactly the method sets of etcd clientv3
// 3.7's KV, Txn, Lease and Watcher (client/v3/kv.go, txn.go, lease.go,
// watch.go), with Keel's types in place of clientv3's. Assigning Keel's
// values to them makes any drift from clientv3's shapes a build failure.

type clientv3KV interface {
	Put(ctx context.Context, key, val string, opts ...keel.OpOption) (*keel.PutResponse, error)
	Get(ctx context.Context, key string, opts ...keel.OpOption) (*keel.GetResponse, error)
	GetStream(ctx context.Context, key string, opts ...keel.OpOption) (keel.GetStreamChan, error)
	Delete(ctx context.Context, key string, opts ...keel.OpOption) (*keel.DeleteResponse, error)
	Compact(ctx context.Context, rev int64, opts ...keel.CompactOption) (*keel.CompactResponse, error)
	Do(ctx context.Context, op keel.Op) (keel.OpResponse, error)
	Txn(ctx context.Context) keel.Txn
}

type clientv3Txn interface {
	If(cs ...keel.Cmp) keel.Txn
	Then(ops ...keel.Op) keel.Txn
	Else(ops ...keel.Op) keel.Txn
	Commit() (*keel.TxnResponse, error)
}

type clientv3Lease interface {
	Grant(ctx context.Context, ttl int64) (*keel.LeaseGrantResponse, error)
	Revoke(ctx context.Context, id keel.LeaseID) (*keel.LeaseRevokeResponse, error)
	TimeToLive(ctx context.Context, id keel.LeaseID, opts ...keel.LeaseOption) (*keel.LeaseTimeToLiveResponse, error)
	Leases(ctx context.Context) (*keel.LeaseLeasesResponse, error)
	KeepAlive(ctx context.Context, id keel.LeaseID) (<-chan *keel.LeaseKeepAliveResponse, error)
	KeepAliveOnce(ctx context.Context, id keel.LeaseID) (*keel.LeaseKeepAliveResponse, error)
	Close() error
}

type clientv3Watcher interface {
	Watch(ctx context.Context, key string, opts ...keel.OpOption) keel.WatchChan
	RequestProgress(ctx context.Context) error
	Close() error
}

// clientv3Maintenance is clientv3's Maintenance (client/v3/maintenance.go)
// less SnapshotWithVersion and Downgrade, which Keel lacks (README.md,
// "Porting from etcd's clientv3"). Endpoints name members in Keel.
type clientv3Maintenance interface {
	AlarmList(ctx context.Context) (*keel.AlarmResponse, error)
	AlarmDisarm(ctx context.Context, m *keel.AlarmMember) (*keel.AlarmResponse, error)
	Defragment(ctx context.Context, endpoint string) (*keel.DefragmentResponse, error)
	Status(ctx context.Context, endpoint string) (*keel.StatusResponse, error)
	HashKV(ctx context.Context, endpoint string, rev int64) (*keel.HashKVResponse, error)
	Snapshot(ctx context.Context) (io.ReadCloser, error)
	MoveLeader(ctx context.Context, transfereeID uint64) (*keel.MoveLeaderResponse, error)
}

// The Store, the handles and the root interfaces all fit.
var (
	_ clientv3KV          = (*keel.Store)(nil)
	_ clientv3KV          = keel.KV(nil)
	_ clientv3Txn         = keel.Txn(nil)
	_ clientv3Lease       = (*keel.Store)(nil)
	_ clientv3Lease       = keel.Lease(nil)
	_ clientv3Watcher     = (*keel.Store)(nil)
	_ clientv3Watcher     = keel.Watcher(nil)
	_ clientv3Maintenance = (*keel.Store)(nil)
	// And the other way: nothing in Keel's interfaces that clientv3's lack.
	_ keel.KV      = clientv3KV(nil)
	_ keel.Lease   = clientv3Lease(nil)
	_ keel.Watcher = clientv3Watcher(nil)
)

// The function shapes of clientv3 that ported code calls.
var (
	_ func(*keel.Store) keel.KV                           = keel.NewKV
	_ func(*keel.Store) keel.Lease                        = keel.NewLease
	_ func(*keel.Store) keel.Watcher                      = keel.NewWatcher
	_ func(context.Context) context.Context               = keel.WithRequireLeader
	_ func(int64, ...keel.CompactOption) keel.CompactOp   = keel.OpCompact
	_ func() *keel.Op                                     = keel.NewOp
	_ func([]keel.OpOption) bool                          = keel.IsOptsWithPrefix
	_ func([]keel.OpOption) bool                          = keel.IsOptsWithFromKey
	_ func() keel.OpOption                                = keel.WithFragment
	_ func() keel.OpOption                                = keel.WithWatchBufLog
	_ func(string) keel.Cmp                               = clientv3util.KeyExists
	_ func(string) keel.Cmp                               = clientv3util.KeyMissing
	_ func(keel.OpResponse) *keel.GetResponse             = keel.OpResponse.GetResponseRange
	_ func(keel.OpResponse) *keel.PutResponse             = keel.OpResponse.GetResponsePut
	_ func(keel.OpResponse) *keel.DeleteResponse          = keel.OpResponse.GetResponseDeleteRange
	_ func(keel.OpResponse) *keel.TxnResponse             = keel.OpResponse.GetResponseTxn
	_ func(*keel.ResponseHeader) int64                    = (*keel.ResponseHeader).GetRevision
	_ func(*keel.ResponseHeader) uint64                   = (*keel.ResponseHeader).GetMemberId
	_ func(*keel.ResponseHeader) uint64                   = (*keel.ResponseHeader).GetClusterId
	_ func(*keel.ResponseHeader) uint64                   = (*keel.ResponseHeader).GetRaftTerm
	_ func(*keel.WatchResponse) error                     = (*keel.WatchResponse).Err
	_ func(*keel.WatchResponse) bool                      = (*keel.WatchResponse).IsProgressNotify
	_ func(keel.Op) bool                                  = keel.Op.IsOptsWithPrefix
	_ func(keel.Op) bool                                  = keel.Op.IsSortOptionValid
	_ func(*keel.Cmp) []byte                              = (*keel.Cmp).ValueBytes
	_ func(keel.Cmp) keel.Cmp                             = keel.Cmp.Clone
	_ func(keel.SortTarget, keel.SortOrder) keel.OpOption = keel.WithSort
	_ func(*keel.Op, []byte)                              = (*keel.Op).WithKeyBytes
	_ func(keel.Op) int64                                 = keel.Op.Limit
	_ func(keel.Op) bool                                  = keel.Op.IsFragment
	_ func(keel.ErrKeepAliveHalted) string                = keel.ErrKeepAliveHalted.Error
	_ func(keel.GetStreamChan) (*keel.GetResponse, error) = keel.GetStreamToGetResponse
	_ func(*keel.RangeStreamResponse) error               = (*keel.RangeStreamResponse).Err
)

// TestResponseShapes checks the struct shapes clientv3 code relies on:
// which responses embed their header and which name it, the header's
// field names, and the fields and JSON names of the lease and watch
// responses.
func TestResponseShapes(t *testing.T) {
	h := &keel.ResponseHeader{ClusterId: 1, MemberId: 2, Revision: 3, RaftTerm: 4}

	// Embedded headers: the header's fields read through the response.
	grant := keel.LeaseGrantResponse{ResponseHeader: h, ID: 5, TTL: 6, Error: ""}
	ka := keel.LeaseKeepAliveResponse{ResponseHeader: h, ID: 5, TTL: 6}
	ttl := keel.LeaseTimeToLiveResponse{ResponseHeader: h, ID: 5, TTL: 6, GrantedTTL: 7, Keys: [][]byte{[]byte("k")}}
	leases := keel.LeaseLeasesResponse{ResponseHeader: h, Leases: []keel.LeaseStatus{{ID: 5}}}
	require.Equal(t, []int64{3, 3, 3, 3}, []int64{grant.Revision, ka.Revision, ttl.Revision, leases.Revision})
	require.Equal(t, []uint64{2, 1, 4}, []uint64{grant.MemberId, grant.ClusterId, grant.RaftTerm})
	require.Equal(t, int64(3), grant.GetRevision())

	// Named headers, as in clientv3 (protobuf types there).
	named := []*keel.ResponseHeader{
		(&keel.PutResponse{Header: h}).Header,
		(&keel.GetResponse{Header: h}).Header,
		(&keel.DeleteResponse{Header: h}).Header,
		(&keel.TxnResponse{Header: h}).Header,
		(&keel.CompactResponse{Header: h}).Header,
		(&keel.LeaseRevokeResponse{Header: h}).Header,
		(&keel.WatchResponse{Header: h}).Header,
	}
	for _, got := range named {
		require.Same(t, h, got)
	}

	// Protobuf getters on a nil header return zero, as protobuf's do.
	var nilHeader *keel.ResponseHeader
	require.Zero(t, nilHeader.GetRevision())
	require.Zero(t, nilHeader.GetMemberId())
	require.Zero(t, nilHeader.GetClusterId())
	require.Zero(t, nilHeader.GetRaftTerm())
	require.False(t, (&keel.WatchResponse{}).IsProgressNotify(), "a response without a header is no progress notification")

	// clientv3's JSON field names.
	b, err := json.Marshal(h)
	require.NoError(t, err)
	require.JSONEq(t, `{"cluster_id":1,"member_id":2,"revision":3,"raft_term":4}`, string(b))
	b, err = json.Marshal(keel.LeaseTimeToLiveResponse{ID: 5, TTL: 6, GrantedTTL: 7})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":5,"ttl":6,"granted-ttl":7,"keys":null}`, string(b))
	b, err = json.Marshal(keel.LeaseLeasesResponse{Leases: []keel.LeaseStatus{{ID: 9}}})
	require.NoError(t, err)
	require.JSONEq(t, `{"leases":[{"id":9}]}`, string(b))

	// The maintenance responses have clientv3's fields (StatusResponse
	// less StorageVersion and DowngradeInfo), Leader a member ID.
	_ = keel.StatusResponse{Header: h, Version: "v", DbSize: 1, Leader: h.MemberId, RaftIndex: 2, RaftTerm: 3,
		RaftAppliedIndex: 4, Errors: []string{"e"}, DbSizeInUse: 5, IsLearner: true, DbSizeQuota: 6}
	_ = keel.HashKVResponse{Header: h, Hash: 1, CompactRevision: 2, HashRevision: 3}
	_ = keel.DefragmentResponse{Header: h}

	// SortOption and WatchResponse.CancelReason exist with clientv3's names.
	_ = keel.SortOption{Target: keel.SortByValue, Order: keel.SortDescend}
	_ = keel.WatchResponse{CancelReason: "x"}
}
