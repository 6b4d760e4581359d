package transport

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Wire format of a raft connection (after the 'R' header and cluster ID):
// the dialer sends requests and the acceptor answers each in turn, one at
// a time. A request is
//
//	kind    uint8   raftAppendEntries … raftTimeoutNow
//	length  uint32  payload length, big-endian, at most maxRaftFrame
//	payload [length]byte
//
// followed, for raftInstallSnapshot only, by the snapshot's Size bytes. A
// reply is
//
//	status  uint8   raftReplyOK (payload is the response) or raftReplyError
//	                (payload is the error's text)
//	length  uint32
//	payload [length]byte
//
// Payloads are the fields of hashicorp/raft's request and response structs
// in declaration order: unsigned integers as uvarints, signed ones as
// varints, booleans as one byte (0 or 1), byte strings as a uvarint length
// and the bytes, a time as a varint of Unix nanoseconds (0 is the zero
// time). An AppendEntries payload holds its entries inline; decoding
// slices their Data and Extensions out of the payload without copying.
// Trailing bytes after the last field are an error.

// Raft request kinds.
const (
	raftAppendEntries   byte = 1
	raftRequestVote     byte = 2
	raftRequestPreVote  byte = 3
	raftInstallSnapshot byte = 4
	raftTimeoutNow      byte = 5
)

// Raft reply statuses.
const (
	raftReplyOK    byte = 0
	raftReplyError byte = 1
)

// maxRaftFrame bounds a raft request or reply payload. An AppendEntries
// carries at most raft's MaxAppendEntries entries of at most a request's
// size each; 1 GiB leaves room for any Keel configuration.
const maxRaftFrame = 1 << 30

// raftFrameHeaderSize is the kind (or status) byte plus the length.
const raftFrameHeaderSize = 1 + 4

// appendRaftFrameHeader reserves a frame header at the start of dst; the
// payload is appended after it and finishRaftFrame fills the header in.
func appendRaftFrameHeader(dst []byte) []byte {
	return append(dst[:0], 0, 0, 0, 0, 0)
}

// finishRaftFrame writes kind and the payload's length into the header
// reserved by appendRaftFrameHeader.
func finishRaftFrame(frame []byte, kind byte) ([]byte, error) {
	n := len(frame) - raftFrameHeaderSize
	if n > maxRaftFrame {
		return nil, fmt.Errorf("%w: raft message of %d bytes", ErrTooLarge, n)
	}
	frame[0] = kind
	binary.BigEndian.PutUint32(frame[1:raftFrameHeaderSize], uint32(n))
	return frame, nil
}

// encodeRaftRequest appends a request frame for cmd (a pointer to one of
// raft's request structs) to dst[:0].
func encodeRaftRequest(dst []byte, cmd any) ([]byte, error) {
	e := raftEncoder{b: appendRaftFrameHeader(dst)}
	var kind byte
	switch r := cmd.(type) {
	case *raft.AppendEntriesRequest:
		kind = raftAppendEntries
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.bytes(r.Leader)
		e.uint(r.PrevLogEntry)
		e.uint(r.PrevLogTerm)
		e.uint(uint64(len(r.Entries)))
		for _, l := range r.Entries {
			e.log(l)
		}
		e.uint(r.LeaderCommitIndex)
	case *raft.RequestVoteRequest:
		kind = raftRequestVote
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.bytes(r.Candidate)
		e.uint(r.LastLogIndex)
		e.uint(r.LastLogTerm)
		e.bool(r.LeadershipTransfer)
	case *raft.RequestPreVoteRequest:
		kind = raftRequestPreVote
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.uint(r.LastLogIndex)
		e.uint(r.LastLogTerm)
	case *raft.InstallSnapshotRequest:
		kind = raftInstallSnapshot
		e.header(r.RPCHeader)
		e.int(int64(r.SnapshotVersion))
		e.uint(r.Term)
		e.bytes(r.Leader)
		e.uint(r.LastLogIndex)
		e.uint(r.LastLogTerm)
		e.bytes(r.Peers)
		e.bytes(r.Configuration)
		e.uint(r.ConfigurationIndex)
		e.int(r.Size)
	case *raft.TimeoutNowRequest:
		kind = raftTimeoutNow
		e.header(r.RPCHeader)
	default:
		return nil, fmt.Errorf("%w: raft request of type %T", ErrBadFrame, cmd)
	}
	return finishRaftFrame(e.b, kind)
}

// decodeRaftRequest decodes a request payload of the given kind. Byte
// strings and entries' Data and Extensions alias p, which the caller must
// not reuse.
func decodeRaftRequest(kind byte, p []byte) (any, error) {
	d := raftDecoder{b: p}
	var cmd any
	switch kind {
	case raftAppendEntries:
		r := &raft.AppendEntriesRequest{}
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.Leader = d.bytes()
		r.PrevLogEntry = d.uint()
		r.PrevLogTerm = d.uint()
		if n := d.count(); n > 0 {
			logs := make([]raft.Log, n)
			r.Entries = make([]*raft.Log, n)
			for i := range logs {
				d.log(&logs[i])
				r.Entries[i] = &logs[i]
			}
		}
		r.LeaderCommitIndex = d.uint()
		cmd = r
	case raftRequestVote:
		r := &raft.RequestVoteRequest{}
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.Candidate = d.bytes()
		r.LastLogIndex = d.uint()
		r.LastLogTerm = d.uint()
		r.LeadershipTransfer = d.bool()
		cmd = r
	case raftRequestPreVote:
		r := &raft.RequestPreVoteRequest{}
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.LastLogIndex = d.uint()
		r.LastLogTerm = d.uint()
		cmd = r
	case raftInstallSnapshot:
		r := &raft.InstallSnapshotRequest{}
		r.RPCHeader = d.header()
		r.SnapshotVersion = raft.SnapshotVersion(d.int())
		r.Term = d.uint()
		r.Leader = d.bytes()
		r.LastLogIndex = d.uint()
		r.LastLogTerm = d.uint()
		r.Peers = d.bytes()
		r.Configuration = d.bytes()
		r.ConfigurationIndex = d.uint()
		r.Size = d.int()
		if d.err == nil && r.Size < 0 {
			d.fail("negative snapshot size")
		}
		cmd = r
	case raftTimeoutNow:
		r := &raft.TimeoutNowRequest{}
		r.RPCHeader = d.header()
		cmd = r
	default:
		return nil, fmt.Errorf("%w: raft request kind %d", ErrBadFrame, kind)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// encodeRaftReply appends a reply frame to dst[:0]: the response (a pointer
// to one of raft's response structs) when rpcErr is nil, else rpcErr's text.
func encodeRaftReply(dst []byte, resp any, rpcErr error) ([]byte, error) {
	e := raftEncoder{b: appendRaftFrameHeader(dst)}
	if rpcErr != nil {
		e.b = append(e.b, rpcErr.Error()...)
		return finishRaftFrame(e.b, raftReplyError)
	}
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.uint(r.LastLog)
		e.bool(r.Success)
		e.bool(r.NoRetryBackoff)
	case *raft.RequestVoteResponse:
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.bytes(r.Peers)
		e.bool(r.Granted)
	case *raft.RequestPreVoteResponse:
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.bool(r.Granted)
	case *raft.InstallSnapshotResponse:
		e.header(r.RPCHeader)
		e.uint(r.Term)
		e.bool(r.Success)
	case *raft.TimeoutNowResponse:
		e.header(r.RPCHeader)
	default:
		return nil, fmt.Errorf("%w: raft response of type %T", ErrBadFrame, resp)
	}
	return finishRaftFrame(e.b, raftReplyOK)
}

// decodeRaftResponse decodes a reply payload with status raftReplyOK into
// resp, which must be the response type matching the request sent.
func decodeRaftResponse(p []byte, resp any) error {
	d := raftDecoder{b: p}
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.LastLog = d.uint()
		r.Success = d.bool()
		r.NoRetryBackoff = d.bool()
	case *raft.RequestVoteResponse:
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.Peers = d.bytes()
		r.Granted = d.bool()
	case *raft.RequestPreVoteResponse:
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.Granted = d.bool()
	case *raft.InstallSnapshotResponse:
		r.RPCHeader = d.header()
		r.Term = d.uint()
		r.Success = d.bool()
	case *raft.TimeoutNowResponse:
		r.RPCHeader = d.header()
	default:
		return fmt.Errorf("%w: raft response of type %T", ErrBadFrame, resp)
	}
	return d.finish()
}

// raftEncoder appends fields to b.
type raftEncoder struct{ b []byte }

func (e *raftEncoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *raftEncoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *raftEncoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *raftEncoder) bytes(p []byte) {
	e.uint(uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *raftEncoder) header(h raft.RPCHeader) {
	e.int(int64(h.ProtocolVersion))
	e.bytes(h.ID)
	e.bytes(h.Addr)
}

func (e *raftEncoder) log(l *raft.Log) {
	e.uint(l.Index)
	e.uint(l.Term)
	e.uint(uint64(l.Type))
	e.bytes(l.Data)
	e.bytes(l.Extensions)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	e.int(at)
}

// raftDecoder reads fields from b; the first error sticks and makes every
// later read return zero values.
type raftDecoder struct {
	b   []byte
	err error
}

func (d *raftDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: raft message: %s", ErrBadFrame, what)
		d.b = nil
	}
}

func (d *raftDecoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *raftDecoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *raftDecoder) bool() bool {
	if len(d.b) == 0 {
		d.fail("truncated bool")
		return false
	}
	v := d.b[0]
	if v > 1 {
		d.fail("bad bool")
		return false
	}
	d.b = d.b[1:]
	return v == 1
}

// bytes returns the next byte string, aliasing the payload (capacity
// capped, so appending to it cannot overwrite what follows); nil if empty.
func (d *raftDecoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("byte string past the end")
		return nil
	}
	if n == 0 {
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

// count reads an entry count, refusing one larger than the bytes left (an
// entry takes at least one byte per field), so a forged count cannot make
// the decoder allocate more than the payload justifies.
func (d *raftDecoder) count() int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)) {
		d.fail("entry count past the end")
		return 0
	}
	return int(n)
}

func (d *raftDecoder) header() raft.RPCHeader {
	return raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersion(d.int()),
		ID:              d.bytes(),
		Addr:            d.bytes(),
	}
}

func (d *raftDecoder) log(l *raft.Log) {
	l.Index = d.uint()
	l.Term = d.uint()
	t := d.uint()
	if t > 255 {
		d.fail("bad log type")
	}
	l.Type = raft.LogType(t)
	l.Data = d.bytes()
	l.Extensions = d.bytes()
	if at := d.int(); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
}

// finish reports the first error, or an error if bytes are left over.
func (d *raftDecoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}
