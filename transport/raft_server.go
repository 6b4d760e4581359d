package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"

	"github.com/hashicorp/raft"
)

// serveRaft serves raft requests arriving on c, one at a time, until c
// fails, the peer sends something malformed, or the RaftTransport or the
// Transport closes. It runs on the goroutine that accepted c, which hands
// each request to raft (or to the heartbeat handler) and writes raft's
// reply itself: no goroutine per request.
func (rt *RaftTransport) serveRaft(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	respCh := make(chan raft.RPCResponse, 1) // one request at a time: reused
	var out []byte
	for {
		select {
		case <-rt.shutdown:
			return
		default:
		}
		cmd, err := readRaftRequest(r)
		if err != nil {
			rt.logReadErr(c, err)
			return
		}
		rpc := raft.RPC{Command: cmd, RespChan: respCh}
		snapshot := false
		if is, ok := cmd.(*raft.InstallSnapshotRequest); ok {
			rpc.Reader = io.LimitReader(r, is.Size)
			snapshot = true
		}
		if !rt.dispatch(rpc) {
			return
		}
		var resp raft.RPCResponse
		select {
		case resp = <-respCh:
		case <-rt.shutdown:
			return
		case <-rt.t.ctx.Done():
			return
		}
		if out, err = encodeRaftReply(out, resp.Response, resp.Error); err != nil {
			rt.t.log.Warn("encoding raft reply failed", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
		if snapshot {
			// The dialer uses a snapshot's connection for nothing else,
			// and raft may have left part of the data unread.
			return
		}
		if cap(out) > 64<<10 {
			out = nil
		}
	}
}

// readRaftRequest reads and decodes one request frame: the header, checked
// against its kind's cap before anything else is read, then the payload.
// An InstallSnapshot's data is left in r.
func readRaftRequest(r io.Reader) (any, error) {
	var h [raftFrameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if err := checkRaftHeader(h, false); err != nil {
		return nil, err
	}
	p, err := readPayload(r, binary.BigEndian.Uint32(h[1:]))
	if err != nil {
		return nil, err
	}
	return decodeRaftRequest(h[0], p)
}

// dispatch hands rpc to the heartbeat handler (heartbeats, when one is
// set) or, through the interceptor, to raft's consumer; false means the
// transport closed first.
func (rt *RaftTransport) dispatch(rpc raft.RPC) bool {
	select {
	case <-rt.shutdown: // closed: raft gets nothing more, whatever the select below would pick
		return false
	default:
	}
	if ae, ok := rpc.Command.(*raft.AppendEntriesRequest); ok && isHeartbeat(ae) {
		if fn := rt.heartbeat.Load(); fn != nil {
			(*fn)(rpc)
			return true
		}
	}
	if f := rt.intercept.Load(); f != nil {
		rpc = (*f)(rpc)
	}
	select {
	case rt.consumer <- rpc:
		return true
	case <-rt.shutdown:
		return false
	case <-rt.t.ctx.Done():
		return false
	}
}

// isHeartbeat reports whether ae is one of raft's heartbeats: a term and
// the leader, nothing else (the test raft's NetworkTransport applies).
func isHeartbeat(ae *raft.AppendEntriesRequest) bool {
	leader := ae.Addr
	if len(leader) == 0 {
		leader = ae.Leader
	}
	return ae.Term != 0 && len(leader) != 0 && ae.PrevLogEntry == 0 && ae.PrevLogTerm == 0 &&
		len(ae.Entries) == 0 && ae.LeaderCommitIndex == 0
}

// logReadErr logs why a raft connection is being dropped, unless it simply
// ended or the transport is closing.
func (rt *RaftTransport) logReadErr(c net.Conn, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || rt.t.ctx.Err() != nil {
		return
	}
	select {
	case <-rt.shutdown:
		return
	default:
	}
	rt.t.log.Warn("dropping raft connection", "remote", c.RemoteAddr().String(), "err", err)
}
