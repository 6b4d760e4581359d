package keel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/transport"
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
//	msgMember     payload = a membership change (reconfig.go); run on the
//	              leader, forwarded there by any other member
//	msgProgress   payload = empty; reply = memberID:bytes lastIndex:uvarint
//	              applied:uvarint (probe.go)
//	msgDefragSlot payload = op:byte member:uvarint; reply = code:byte
//	              [granted:uvarint, 0 or 1] (autodefrag.go)
//	msgHash       payload = rev:varint index:uvarint; reply = code:byte
//	              [name:bytes id:uvarint hash:uvarint compactRev:varint]
//	              (corrupt.go)
//	msgStatus     payload = member:uvarint; reply = code:byte [status]
//	msgHashKV     payload = member:uvarint rev:varint; reply = code:byte
//	              [hashKV]
//	msgDefragment payload = member:uvarint; reply = code:byte [defrag]
//	              the maintenance calls on another member (endpoint.go;
//	              responses in maintwire.go); member is the ID of the
//	              member asked, which checks it is that member
const (
	msgPropose    = 1
	msgReadIndex  = 2
	msgLeaseRenew = 3
	msgLeaseTTL   = 4
	msgConfirm    = 5
	msgMember     = 6
	msgProgress   = 7
	msgDefragSlot = 8
	msgHash       = 9
	msgStatus     = 10
	msgHashKV     = 11
	msgDefragment = 12
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
		// The forwarding member checked the size; a peer is not trusted
		// to have done so, and the size bounds what decoding allocates.
		if n := len(req) - 1; n > s.cfg.MaxRequestBytes {
			return encodeResult(&applyResult{err: fmt.Errorf("%w: %d bytes, limit %d", ErrRequestTooLarge, n, s.cfg.MaxRequestBytes)}), nil
		}
		c, err := decodeCommand(req[1:])
		if err == nil && !forwardable(c.kind) {
			err = fmt.Errorf("%w: command kind %d is not proposed by followers", ErrCorruptCommand, c.kind)
		}
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
	case msgProgress:
		return s.serveProgress(), nil
	case msgDefragSlot:
		return s.serveDefragSlot(ctx, req[1:])
	case msgHash:
		return s.serveHash(ctx, req[1:])
	case msgStatus, msgHashKV, msgDefragment:
		return s.serveMember(ctx, req[0], req[1:])
	case msgMember:
		c, err := decodeMemberChange(req[1:])
		if err != nil {
			return nil, err
		}
		local := func(ctx context.Context) ([]byte, error) {
			res, err := s.changeMembers(ctx, c)
			if s.stopped() && errors.Is(err, ErrStopped) && !errors.Is(err, ErrTimeout) {
				// This leader stopped mid-change: to the member that
				// asked, the leader is lost, and the change may have
				// been made (a removal marked, say); it asks the next.
				// (ErrRemoved from a running leader is its answer about
				// the member that asked, and stays.)
				err = ErrTimeoutDueToLeaderFail
			}
			return encodeChangeReply(res, err), nil
		}
		if c.kind == changeRejoin {
			// From a member that may not know the leader: relay it.
			return s.callLeader(ctx, req, local)
		}
		// The caller retries with the leader itself: a relay could lose
		// the reply (a leader relaying its own removal stops before it
		// relays the answer) and make the caller run the change twice.
		if s.raft.State() != raft.Leader {
			return encodeChangeReply(changeResult{}, ErrNotLeader), nil
		}
		return local(ctx)
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

// forwardable reports whether a follower forwards commands of kind to the
// leader (propose; alarms: a member raises and clears its own): the
// others (no-ops, lease checkpoints, membership records) are proposed by
// the leader itself, after checks a forwarded command would skip.
func forwardable(kind byte) bool {
	switch kind {
	case cmdOp, cmdCompact, cmdLeaseGrant, cmdLeaseRevoke, cmdAlarm:
		return true
	}
	return false
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

// callLeader runs a leader-only request: locally on the leader, else
// forwarded to it. The requests it carries are idempotent, so it retries
// until ctx ends on any failure that is not a definite answer.
func (s *Store) callLeader(ctx context.Context, req []byte, local func(context.Context) ([]byte, error)) ([]byte, error) {
	reply, _, err := s.callLeaderTracked(ctx, req, local)
	return reply, err
}

// callLeaderTracked is callLeader that also reports whether an attempt
// before the last one may have taken effect: it was sent and its answer
// was lost or was an ErrTimeout. The last reply's definite answer (say,
// a refusal because a change is in flight) then does not show that
// nothing was done: the earlier attempt may be that change.
func (s *Store) callLeaderTracked(ctx context.Context, req []byte, local func(context.Context) ([]byte, error)) (_ []byte, unknown bool, _ error) {
	if err := s.checkLeader(ctx); err != nil {
		return nil, false, err
	}
	backoff := 5 * time.Millisecond
	for {
		if s.stopped() {
			return nil, unknown, s.errStopped()
		}
		var reply []byte
		var err error
		if s.raft.State() == raft.Leader {
			reply, err = local(ctx)
		} else if addr := s.leaderAddr(); addr != "" {
			reply, err = s.trans.Call(ctx, addr, req)
		} else {
			err = ErrNoLeader
		}
		if err == nil && !(len(reply) > 0 && retryableCode(reply[0])) {
			return reply, unknown, nil
		}
		switch {
		case err == nil:
			unknown = unknown || errors.Is(errorCodes[reply[0]], ErrTimeout)
		case errors.Is(err, ErrNoLeader), errors.Is(err, transport.ErrUnreachable):
			// never sent
		default:
			unknown = true
		}
		select {
		case <-ctx.Done():
			if s.leaderAddr() == "" {
				return nil, unknown, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
			}
			return nil, unknown, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		case <-s.stop:
			return nil, unknown, s.errStopped()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}
