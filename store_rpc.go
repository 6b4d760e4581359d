package keel

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
)

// Member-to-member messages (over transport.Call):
//
//	request  = msg:byte payload
//	msgPropose   payload = a replicated command; reply = a result (see
//	             result.go), ErrNotLeader if this member does not lead
//	msgReadIndex payload = empty; reply = code:byte [index:uvarint]
//	msgConfirm    payload = term:uvarint leaderID; reply = 1 (yes) or 0
//	msgLeaseRenew payload = id:varint; reply = code:byte [ttl:varint]
//	msgLeaseTTL   payload = id:varint keys:byte; reply = code:byte
//	              [ttl:varint granted:varint n:uvarint key:bytes*n]
const (
	msgPropose    = 1
	msgReadIndex  = 2
	msgLeaseRenew = 3
	msgLeaseTTL   = 4
	msgConfirm    = 5
)

// handleRPC serves requests forwarded by other members.
func (s *Store) handleRPC(ctx context.Context, req []byte) ([]byte, error) {
	select {
	case <-s.started:
	case <-s.stop:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if len(req) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrCorruptCommand)
	}
	switch req[0] {
	case msgPropose:
		if s.raft.State() != raft.Leader {
			return encodeResult(&applyResult{err: ErrNotLeader}), nil
		}
		c, err := decodeCommand(req[1:])
		if err != nil {
			return encodeResult(&applyResult{err: err}), nil
		}
		res, err := s.proposeLocal(ctx, req[1:])
		if err == nil && res.err == nil && c.kind == cmdCompact && c.physical {
			err = waitPhysical(ctx, res, s.stop)
		}
		if err != nil {
			res = &applyResult{err: err}
		}
		return encodeResult(res), nil
	case msgReadIndex:
		if s.raft.State() != raft.Leader {
			return encodeReadIndexResponse(0, ErrNotLeader), nil
		}
		idx, err := s.reads.index(ctx) // batched with this member's own reads
		return encodeReadIndexResponse(idx, err), nil
	case msgConfirm:
		return s.serveConfirm(req[1:]), nil
	case msgLeaseRenew, msgLeaseTTL:
		if s.raft.State() != raft.Leader {
			return encodeReadIndexResponse(0, ErrNotLeader), nil
		}
		d := wire.NewDecoder(req[1:], ErrCorruptCommand)
		id := LeaseID(d.Varint())
		withKeys := req[0] == msgLeaseTTL && d.Bool()
		if err := d.Finish(); err != nil {
			return nil, err
		}
		if req[0] == msgLeaseRenew {
			return s.serveLeaseRenew(ctx, id), nil
		}
		return s.serveLeaseTTL(ctx, id, withKeys), nil
	}
	return nil, fmt.Errorf("%w: unknown message %d", ErrCorruptCommand, req[0])
}

func encodeReadIndexResponse(idx uint64, err error) []byte {
	e := wire.Encoder{}
	if err != nil {
		encodeError(&e, err)
		return e.Buf
	}
	e.Byte(0)
	e.Uvarint(idx)
	return e.Buf
}

func decodeReadIndexResponse(b []byte) (uint64, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	code := d.Byte()
	if code != 0 {
		err := decodeError(d, code)
		if derr := d.Finish(); derr != nil {
			return 0, derr
		}
		return 0, err
	}
	idx := d.Uvarint()
	return idx, d.Finish()
}

// inlineRPC answers leadership confirmations on the connection's reader
// (transport.Config.Inline): serveConfirm only reads raft's state, and a
// read-index round waits for these replies.
func (s *Store) inlineRPC(req []byte) ([]byte, bool) {
	if len(req) == 0 || req[0] != msgConfirm {
		return nil, false
	}
	select {
	case <-s.started:
		return s.serveConfirm(req[1:]), true
	default:
		return nil, false // the regular handler waits for the start
	}
}
