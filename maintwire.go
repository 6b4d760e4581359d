package keel

import (
	"time"

	"github.com/keeldb/keel/internal/wire"
)

// The responses a member sends back for the maintenance requests of
// endpoint.go, after the reply's 0 code:
//
//	header    = cluster:uvarint member:uvarint rev:varint term:uvarint
//	status    = header version:bytes leader:uvarint leaderName:bytes
//	            isLeader:bool isLearner:bool dbSize:varint
//	            dbSizeInUse:varint dbSizeQuota:varint n:uvarint error:bytes*n
//	            raftTerm:uvarint raftIndex:uvarint raftCommitIndex:uvarint
//	            raftAppliedIndex:uvarint compactRevision:varint
//	hashKV    = header hash:uvarint compactRevision:varint hashRevision:varint
//	defrag    = header sizeBefore:varint sizeAfter:varint duration:varint
//	            commitPause:varint (durations in nanoseconds)
//
// Decoding fails with ErrCorruptCommand on truncated input, trailing
// bytes and a hash beyond 32 bits.

func encodeHeader(e *wire.Encoder, h *ResponseHeader) {
	e.Uvarint(h.ClusterId)
	e.Uvarint(h.MemberId)
	e.Varint(h.Revision)
	e.Uvarint(h.RaftTerm)
}

func decodeHeader(d *wire.Decoder) *ResponseHeader {
	return &ResponseHeader{ClusterId: d.Uvarint(), MemberId: d.Uvarint(), Revision: d.Varint(), RaftTerm: d.Uvarint()}
}

func encodeStatus(e *wire.Encoder, st *StatusResponse) {
	encodeHeader(e, st.Header)
	e.Bytes([]byte(st.Version))
	e.Uvarint(st.Leader)
	e.Bytes([]byte(st.LeaderName))
	e.Bool(st.IsLeader)
	e.Bool(st.IsLearner)
	e.Varint(st.DbSize)
	e.Varint(st.DbSizeInUse)
	e.Varint(st.DbSizeQuota)
	e.Uvarint(uint64(len(st.Errors)))
	for _, msg := range st.Errors {
		e.Bytes([]byte(msg))
	}
	e.Uvarint(st.RaftTerm)
	e.Uvarint(st.RaftIndex)
	e.Uvarint(st.RaftLastIndex)
	e.Uvarint(st.RaftAppliedIndex)
	e.Varint(st.CompactRevision)
}

func decodeStatus(d *wire.Decoder) *StatusResponse {
	st := &StatusResponse{
		Header: decodeHeader(d), Version: string(d.View()), Leader: d.Uvarint(), LeaderName: string(d.View()),
		IsLeader: d.Bool(), IsLearner: d.Bool(),
		DbSize: d.Varint(), DbSizeInUse: d.Varint(), DbSizeQuota: d.Varint(),
	}
	if n := d.Count(1); n > 0 {
		st.Errors = make([]string, 0, n)
		for range n {
			st.Errors = append(st.Errors, string(d.View()))
		}
	}
	st.RaftTerm, st.RaftIndex, st.RaftLastIndex, st.RaftAppliedIndex = d.Uvarint(), d.Uvarint(), d.Uvarint(), d.Uvarint()
	st.CompactRevision = d.Varint()
	return st
}

func encodeHashKV(e *wire.Encoder, h *HashKVResponse) {
	encodeHeader(e, h.Header)
	e.Uvarint(uint64(h.Hash))
	e.Varint(h.CompactRevision)
	e.Varint(h.HashRevision)
}

func decodeHashKV(d *wire.Decoder) *HashKVResponse {
	h := &HashKVResponse{Header: decodeHeader(d)}
	hash := d.Uvarint()
	if hash > 1<<32-1 {
		d.Fail("hash beyond 32 bits")
	}
	h.Hash, h.CompactRevision, h.HashRevision = uint32(hash), d.Varint(), d.Varint()
	return h
}

func encodeDefragment(e *wire.Encoder, r *DefragmentResponse) {
	encodeHeader(e, r.Header)
	e.Varint(r.SizeBefore)
	e.Varint(r.SizeAfter)
	e.Varint(int64(r.Duration))
	e.Varint(int64(r.CommitPause))
}

func decodeDefragment(d *wire.Decoder) *DefragmentResponse {
	return &DefragmentResponse{
		Header: decodeHeader(d), SizeBefore: d.Varint(), SizeAfter: d.Varint(),
		Duration: time.Duration(d.Varint()), CommitPause: time.Duration(d.Varint()),
	}
}
