package transport

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
)

// Wire format of a raft connection (after the 'R' header and cluster ID):
// the dialer sends requests and the acceptor answers each in turn, one at
// a time. A request is
//
//	kind    uint8   raftAppendEntries … raftTimeoutNow
//	length  uint32  payload length, big-endian, at most the kind's cap
//	                (raftRequestCap)
//	payload [length]byte
//
// followed, for raftInstallSnapshot only, by the snapshot's Size bytes. A
// reply is
//
//	status  uint8   raftReplyOK (payload is the response) or raftReplyError
//	                (payload is the error's text)
//	length  uint32  at most maxRaftReplySize
//	payload [length]byte
//
// Payloads are the fields of hashicorp/raft's request and response structs
// in declaration order, in internal/wire's primitives: unsigned integers
// as uvarints, signed ones as varints, booleans as one byte (0 or 1), byte
// strings as a uvarint length and the bytes, a time as a varint of Unix
// nanoseconds (0 is the zero time). An AppendEntries payload holds its
// entries inline; decoding slices their Data and Extensions out of the
// payload without copying. Decoding fails with ErrBadFrame on trailing
// bytes after the last field, on a varint in other than its minimal
// encoding (so every message has exactly one encoding), on a bool other
// than 0 or 1, and on a length or entry count the rest of the payload
// cannot hold (an entry takes at least raftLogMinSize bytes).

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

// MaxRaftMessageSize is the largest raft AppendEntries payload, in bytes.
// An AppendEntries carries at most raft's MaxAppendEntries entries of at
// most a request's size each; 1 GiB leaves room for any Keel
// configuration. A frame announcing more is refused with ErrTooLarge
// before its payload is read, and a payload's buffer grows only with the
// bytes received, so a forged length costs the receiver nothing.
const MaxRaftMessageSize = 1 << 30

// Caps of raft's other messages, far below MaxRaftMessageSize: a vote or
// TimeoutNow request carries a few IDs and addresses, an InstallSnapshot
// request the cluster's configuration (its data follows the frame), and a
// reply a few integers or an error's text.
const (
	maxRaftVoteSize     = 64 << 10
	maxRaftSnapshotSize = 4 << 20
	maxRaftReplySize    = 64 << 10
)

// raftRequestCap returns the largest payload a request of kind may have,
// or 0 for an unknown kind.
func raftRequestCap(kind byte) uint32 {
	switch kind {
	case raftAppendEntries:
		return MaxRaftMessageSize
	case raftInstallSnapshot:
		return maxRaftSnapshotSize
	case raftRequestVote, raftRequestPreVote, raftTimeoutNow:
		return maxRaftVoteSize
	}
	return 0
}

// checkRaftHeader validates a request frame's header (reply false) or a
// reply's before its payload is read: the kind or status must be known
// and the length within its cap.
func checkRaftHeader(h [raftFrameHeaderSize]byte, reply bool) error {
	n := binary.BigEndian.Uint32(h[1:])
	limit := raftRequestCap(h[0])
	what := "request kind"
	if reply {
		limit, what = 0, "reply status"
		if h[0] == raftReplyOK || h[0] == raftReplyError {
			limit = maxRaftReplySize
		}
	}
	switch {
	case limit == 0:
		return fmt.Errorf("%w: raft %s %d", ErrBadFrame, what, h[0])
	case n > limit:
		return fmt.Errorf("%w: raft %s %d of %d bytes, limit %d", ErrTooLarge, what, h[0], n, limit)
	}
	return nil
}

// raftFrameHeaderSize is the kind (or status) byte plus the length.
const raftFrameHeaderSize = 1 + 4

// appendRaftFrameHeader reserves a frame header at the start of dst; the
// payload is appended after it and finishRaftFrame fills the header in.
func appendRaftFrameHeader(dst []byte) []byte {
	return append(dst[:0], 0, 0, 0, 0, 0)
}

// finishRaftFrame writes kind and the payload's length into the header
// reserved by appendRaftFrameHeader, refusing a payload over limit, which
// the peer would refuse.
func finishRaftFrame(frame []byte, kind byte, limit uint32) ([]byte, error) {
	n := len(frame) - raftFrameHeaderSize
	if n > int(limit) {
		return nil, fmt.Errorf("%w: raft message of %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	frame[0] = kind
	binary.BigEndian.PutUint32(frame[1:raftFrameHeaderSize], uint32(n))
	return frame, nil
}

// encodeRaftRequest appends a request frame for cmd (a pointer to one of
// raft's request structs) to dst[:0].
func encodeRaftRequest(dst []byte, cmd any) ([]byte, error) {
	e := raftEncoder{wire.Encoder{Buf: appendRaftFrameHeader(dst)}}
	var kind byte
	switch r := cmd.(type) {
	case *raft.AppendEntriesRequest:
		kind = raftAppendEntries
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Bytes(r.Leader)
		e.Uvarint(r.PrevLogEntry)
		e.Uvarint(r.PrevLogTerm)
		e.Uvarint(uint64(len(r.Entries)))
		for _, l := range r.Entries {
			e.log(l)
		}
		e.Uvarint(r.LeaderCommitIndex)
	case *raft.RequestVoteRequest:
		kind = raftRequestVote
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Bytes(r.Candidate)
		e.Uvarint(r.LastLogIndex)
		e.Uvarint(r.LastLogTerm)
		e.Bool(r.LeadershipTransfer)
	case *raft.RequestPreVoteRequest:
		kind = raftRequestPreVote
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Uvarint(r.LastLogIndex)
		e.Uvarint(r.LastLogTerm)
	case *raft.InstallSnapshotRequest:
		kind = raftInstallSnapshot
		e.header(r.RPCHeader)
		e.Varint(int64(r.SnapshotVersion))
		e.Uvarint(r.Term)
		e.Bytes(r.Leader)
		e.Uvarint(r.LastLogIndex)
		e.Uvarint(r.LastLogTerm)
		e.Bytes(r.Peers)
		e.Bytes(r.Configuration)
		e.Uvarint(r.ConfigurationIndex)
		e.Varint(r.Size)
	case *raft.TimeoutNowRequest:
		kind = raftTimeoutNow
		e.header(r.RPCHeader)
	default:
		return nil, fmt.Errorf("%w: raft request of type %T", ErrBadFrame, cmd)
	}
	return finishRaftFrame(e.Buf, kind, raftRequestCap(kind))
}

// decodeRaftRequest decodes a request payload of the given kind. Byte
// strings and entries' Data and Extensions alias p, which the caller must
// not reuse.
func decodeRaftRequest(kind byte, p []byte) (any, error) {
	d := raftDecoder{wire.NewDecoder(p, errBadRaftMessage)}
	var cmd any
	switch kind {
	case raftAppendEntries:
		r := &raft.AppendEntriesRequest{}
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.Leader = d.View()
		r.PrevLogEntry = d.Uvarint()
		r.PrevLogTerm = d.Uvarint()
		if n := d.Count(raftLogMinSize); n > 0 {
			logs := make([]raft.Log, n)
			r.Entries = make([]*raft.Log, n)
			for i := range logs {
				d.log(&logs[i])
				r.Entries[i] = &logs[i]
			}
		}
		r.LeaderCommitIndex = d.Uvarint()
		cmd = r
	case raftRequestVote:
		r := &raft.RequestVoteRequest{}
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.Candidate = d.View()
		r.LastLogIndex = d.Uvarint()
		r.LastLogTerm = d.Uvarint()
		r.LeadershipTransfer = d.Bool()
		cmd = r
	case raftRequestPreVote:
		r := &raft.RequestPreVoteRequest{}
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.LastLogIndex = d.Uvarint()
		r.LastLogTerm = d.Uvarint()
		cmd = r
	case raftInstallSnapshot:
		r := &raft.InstallSnapshotRequest{}
		r.RPCHeader = d.header()
		r.SnapshotVersion = raft.SnapshotVersion(d.Varint())
		r.Term = d.Uvarint()
		r.Leader = d.View()
		r.LastLogIndex = d.Uvarint()
		r.LastLogTerm = d.Uvarint()
		r.Peers = d.View()
		r.Configuration = d.View()
		r.ConfigurationIndex = d.Uvarint()
		r.Size = d.Varint()
		if r.Size < 0 {
			d.Fail("negative snapshot size")
		}
		cmd = r
	case raftTimeoutNow:
		r := &raft.TimeoutNowRequest{}
		r.RPCHeader = d.header()
		cmd = r
	default:
		return nil, fmt.Errorf("%w: raft request kind %d", ErrBadFrame, kind)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// encodeRaftReply appends a reply frame to dst[:0]: the response (a pointer
// to one of raft's response structs) when rpcErr is nil, else rpcErr's text.
func encodeRaftReply(dst []byte, resp any, rpcErr error) ([]byte, error) {
	e := raftEncoder{wire.Encoder{Buf: appendRaftFrameHeader(dst)}}
	if rpcErr != nil {
		msg := rpcErr.Error()
		e.Buf = append(e.Buf, msg[:min(len(msg), maxRaftReplySize)]...)
		return finishRaftFrame(e.Buf, raftReplyError, maxRaftReplySize)
	}
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Uvarint(r.LastLog)
		e.Bool(r.Success)
		e.Bool(r.NoRetryBackoff)
	case *raft.RequestVoteResponse:
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Bytes(r.Peers)
		e.Bool(r.Granted)
	case *raft.RequestPreVoteResponse:
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Bool(r.Granted)
	case *raft.InstallSnapshotResponse:
		e.header(r.RPCHeader)
		e.Uvarint(r.Term)
		e.Bool(r.Success)
	case *raft.TimeoutNowResponse:
		e.header(r.RPCHeader)
	default:
		return nil, fmt.Errorf("%w: raft response of type %T", ErrBadFrame, resp)
	}
	return finishRaftFrame(e.Buf, raftReplyOK, maxRaftReplySize)
}

// decodeRaftResponse decodes a reply payload with status raftReplyOK into
// resp, which must be the response type matching the request sent.
func decodeRaftResponse(p []byte, resp any) error {
	d := raftDecoder{wire.NewDecoder(p, errBadRaftMessage)}
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.LastLog = d.Uvarint()
		r.Success = d.Bool()
		r.NoRetryBackoff = d.Bool()
	case *raft.RequestVoteResponse:
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.Peers = d.View()
		r.Granted = d.Bool()
	case *raft.RequestPreVoteResponse:
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.Granted = d.Bool()
	case *raft.InstallSnapshotResponse:
		r.RPCHeader = d.header()
		r.Term = d.Uvarint()
		r.Success = d.Bool()
	case *raft.TimeoutNowResponse:
		r.RPCHeader = d.header()
	default:
		return fmt.Errorf("%w: raft response of type %T", ErrBadFrame, resp)
	}
	return d.Finish()
}

// raftEncoder adds raft's compound fields to wire.Encoder.
type raftEncoder struct{ wire.Encoder }

func (e *raftEncoder) header(h raft.RPCHeader) {
	e.Varint(int64(h.ProtocolVersion))
	e.Bytes(h.ID)
	e.Bytes(h.Addr)
}

func (e *raftEncoder) log(l *raft.Log) {
	e.Uvarint(l.Index)
	e.Uvarint(l.Term)
	e.Uvarint(uint64(l.Type))
	e.Bytes(l.Data)
	e.Bytes(l.Extensions)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	e.Varint(at)
}

// raftLogMinSize is the smallest encoded log entry: six one-byte fields.
// Decoding an AppendEntries refuses an entry count the payload's remaining
// bytes cannot hold at this size before allocating the entries.
const raftLogMinSize = 6

// raftDecoder adds raft's compound fields to wire.Decoder, whose errors
// wrap errBadRaftMessage (an ErrBadFrame). Byte strings alias the payload
// (wire.Decoder.View).
type raftDecoder struct{ *wire.Decoder }

func (d *raftDecoder) header() raft.RPCHeader {
	return raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersion(d.Varint()),
		ID:              d.View(),
		Addr:            d.View(),
	}
}

func (d *raftDecoder) log(l *raft.Log) {
	l.Index = d.Uvarint()
	l.Term = d.Uvarint()
	t := d.Uvarint()
	if t > 255 {
		d.Fail("log type out of range")
	}
	l.Type = raft.LogType(t)
	l.Data = d.View()
	l.Extensions = d.View()
	if at := d.Varint(); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
}
