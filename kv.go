package keel

import (
	"context"

	"github.com/keeldb/keel/mvcc"
)

// KV is the key-value API of a Keel member. It mirrors etcd's clientv3.KV:
// the same method names, options, responses and semantics. *Store
// implements it.
type KV interface {
	// Put puts a key-value pair. Options: WithLease, WithPrevKV,
	// WithIgnoreValue, WithIgnoreLease.
	Put(ctx context.Context, key, val string, opts ...OpOption) (*PutResponse, error)
	// Get retrieves a key, or a range of keys with WithRange, WithPrefix or
	// WithFromKey. It is linearizable unless WithSerializable is given.
	Get(ctx context.Context, key string, opts ...OpOption) (*GetResponse, error)
	// GetStream retrieves what Get would, in chunks on a channel, all at
	// one revision, so that a range of any size is read in bounded memory.
	// Cancel ctx to abandon a stream before its end.
	GetStream(ctx context.Context, key string, opts ...OpOption) (GetStreamChan, error)
	// Delete deletes a key, or a range of keys with WithRange, WithPrefix or
	// WithFromKey. WithPrevKV returns the deleted key-value pairs.
	Delete(ctx context.Context, key string, opts ...OpOption) (*DeleteResponse, error)
	// Compact discards the history before revision rev on every member.
	Compact(ctx context.Context, rev int64, opts ...CompactOption) (*CompactResponse, error)
	// Do applies a single Op built by OpGet, OpPut, OpDelete or OpTxn.
	Do(ctx context.Context, op Op) (OpResponse, error)
	// Txn creates a transaction: If(compares).Then(ops).Else(ops).Commit().
	Txn(ctx context.Context) Txn
}

// Txn is a transaction under construction, as in clientv3:
//
//	resp, err := s.Txn(ctx).
//		If(keel.Compare(keel.ModRevision("k"), "=", rev)).
//		Then(keel.OpPut("k", "v2")).
//		Else(keel.OpGet("k")).
//		Commit()
//
// If, Then and Else may each be called once, in that order; a violation
// makes Commit fail with ErrInvalidTxn. A Txn is not safe for concurrent
// use.
type Txn interface {
	// If adds the compares; all must hold for Then to run.
	If(cs ...Cmp) Txn
	// Then sets the operations run when every compare holds.
	Then(ops ...Op) Txn
	// Else sets the operations run otherwise.
	Else(ops ...Op) Txn
	// Commit runs the transaction atomically at one revision.
	Commit() (*TxnResponse, error)
}

// Client is what the lock and discovery packages need from Keel: the KV,
// Watcher and Lease APIs, as in etcd's clientv3.Client. *Store implements
// it.
type Client interface {
	KV
	Watcher
	Lease
}

// KeyValue is one version of a key. CreateRevision is the revision of the
// put that created the key in its current generation (0 if absent),
// ModRevision the revision of its last modification, Version the number of
// puts since it was created (0 if absent), and Lease the ID of the lease
// attached to it (0 if none). A KeyValue returned to the caller is a copy
// the caller owns.
type KeyValue = mvcc.KeyValue

// ResponseHeader is returned with every response. Its field names are
// etcd's (ClusterId, MemberId, as protobuf spells them), so code written
// for clientv3 reads them unchanged; so are its JSON names and its
// getters, which, as protobuf's, return zero on a nil header.
type ResponseHeader struct {
	// ClusterId identifies the cluster; it is the same on every member.
	ClusterId uint64 `json:"cluster_id,omitempty"`
	// MemberId identifies the member that served the request.
	MemberId uint64 `json:"member_id,omitempty"`
	// Revision is the store's revision when the request was served: for a
	// write, the revision it created (or the current one if it changed
	// nothing); for a read, the member's current revision.
	Revision int64 `json:"revision,omitempty"`
	// RaftTerm is the raft term of the serving member.
	RaftTerm uint64 `json:"raft_term,omitempty"`
}

// GetClusterId returns h.ClusterId, or 0 if h is nil.
func (h *ResponseHeader) GetClusterId() uint64 {
	if h == nil {
		return 0
	}
	return h.ClusterId
}

// GetMemberId returns h.MemberId, or 0 if h is nil.
func (h *ResponseHeader) GetMemberId() uint64 {
	if h == nil {
		return 0
	}
	return h.MemberId
}

// GetRevision returns h.Revision, or 0 if h is nil.
func (h *ResponseHeader) GetRevision() int64 {
	if h == nil {
		return 0
	}
	return h.Revision
}

// GetRaftTerm returns h.RaftTerm, or 0 if h is nil.
func (h *ResponseHeader) GetRaftTerm() uint64 {
	if h == nil {
		return 0
	}
	return h.RaftTerm
}

// PutResponse is the response to Put.
type PutResponse struct {
	Header *ResponseHeader
	// PrevKv is the key-value pair before the put, when WithPrevKV was
	// given and the key existed.
	PrevKv *KeyValue
}

// GetResponse is the response to Get.
type GetResponse struct {
	Header *ResponseHeader
	// Kvs are the matching key-value pairs (keys only with WithKeysOnly,
	// none with WithCountOnly).
	Kvs []*KeyValue
	// More is true when WithLimit cut off matching keys.
	More bool
	// Count is the number of keys in the range, unaffected by WithLimit and
	// by the min/max revision filters.
	Count int64
}

// DeleteResponse is the response to Delete.
type DeleteResponse struct {
	Header *ResponseHeader
	// Deleted is the number of keys deleted.
	Deleted int64
	// PrevKvs are the deleted key-value pairs, when WithPrevKV was given.
	PrevKvs []*KeyValue
}

// TxnResponse is the response to a committed transaction.
type TxnResponse struct {
	Header *ResponseHeader
	// Succeeded reports whether every compare held (the Then branch ran).
	Succeeded bool
	// Responses holds one response per operation of the branch that ran,
	// in order.
	Responses []OpResponse
}

// OpResponse is the response to one Op, as returned by Do and held in
// TxnResponse.Responses. Exactly one accessor of each pair returns
// non-nil. It has both clientv3's OpResponse accessors (Put, Get, Del,
// Txn) and the getters of the protobuf ResponseOp that clientv3's
// TxnResponse.Responses holds (GetResponseRange, GetResponsePut,
// GetResponseDeleteRange, GetResponseTxn), so code written against either
// compiles.
type OpResponse struct {
	put *PutResponse
	get *GetResponse
	del *DeleteResponse
	txn *TxnResponse
}

// Put returns the response of a put operation, or nil.
func (r OpResponse) Put() *PutResponse { return r.put }

// Get returns the response of a get operation, or nil.
func (r OpResponse) Get() *GetResponse { return r.get }

// Del returns the response of a delete operation, or nil.
func (r OpResponse) Del() *DeleteResponse { return r.del }

// Txn returns the response of a transaction, or nil.
func (r OpResponse) Txn() *TxnResponse { return r.txn }

// GetResponseRange returns the response of a get operation, or nil: the
// ResponseOp getter of clientv3's TxnResponse.Responses, same as Get.
func (r OpResponse) GetResponseRange() *GetResponse { return r.get }

// GetResponsePut returns the response of a put operation, or nil (same as
// Put).
func (r OpResponse) GetResponsePut() *PutResponse { return r.put }

// GetResponseDeleteRange returns the response of a delete operation, or
// nil (same as Del).
func (r OpResponse) GetResponseDeleteRange() *DeleteResponse { return r.del }

// GetResponseTxn returns the response of a nested transaction, or nil
// (same as Txn).
func (r OpResponse) GetResponseTxn() *TxnResponse { return r.txn }

// OpResponse wraps the response as an OpResponse.
func (r *PutResponse) OpResponse() OpResponse { return OpResponse{put: r} }

// OpResponse wraps the response as an OpResponse.
func (r *GetResponse) OpResponse() OpResponse { return OpResponse{get: r} }

// OpResponse wraps the response as an OpResponse.
func (r *DeleteResponse) OpResponse() OpResponse { return OpResponse{del: r} }

// OpResponse wraps the response as an OpResponse.
func (r *TxnResponse) OpResponse() OpResponse { return OpResponse{txn: r} }
