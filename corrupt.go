package keel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/mvcc"
)

// Corruption checks (doc.go, "Corruption detection"). A member that has
// caught up after it starts, and the leader every CorruptCheckInterval,
// compare the members' HashKV at one revision: the checking member's
// current revision R, asked of every member in the configuration over
// the member port (msgHash), each answering once it has applied as far
// as the checker had when it read R. Members whose hash differs from the
// one most members share get a CORRUPT alarm (replicated, like NOSPACE),
// and a member with one refuses to serve (corruptErr).
//
// Hashes are only compared between members that report the same
// compacted revision: a member that has applied a later compaction hashes
// less history, legitimately. A verdict needs a strict majority of at
// least three comparable members, so two members that disagree mark
// neither.

// corruptCheckTimeout bounds one check: the members' answers, each
// after it has applied up to the checker's index.
const corruptCheckTimeout = 10 * time.Second

// minCorruptVote is the least number of comparable members whose hashes
// can outvote another's.
const minCorruptVote = 3

// memberHash is one member's answer in a corruption check.
type memberHash struct {
	name       string
	id         uint64
	hash       uint32
	compactRev int64
}

// corruptErr returns ErrCorrupt, wrapped with how to recover, if a
// CORRUPT alarm is active for this member; nil otherwise.
func (s *Store) corruptErr() error {
	if !s.fsm.alarmSet().has(s.memberID.Load(), AlarmCorrupt) {
		return nil
	}
	return fmt.Errorf("%w: this member's data differs from the other members'; remove it (MemberRemove) and let a member with an empty Dir join in its place", ErrCorrupt)
}

// corruptLoop runs the start-up check once this member has caught up,
// then, on the leader, the periodic check every CorruptCheckInterval.
func (s *Store) corruptLoop() {
	if s.cfg.CorruptCheckInterval < 0 {
		return
	}
	s.startupCorruptCheck()
	t := time.NewTicker(s.cfg.CorruptCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.raft.State() != raft.Leader {
			continue
		}
		ctx, cancel := context.WithTimeout(s.stopCtx, corruptCheckTimeout)
		if _, err := s.checkCorruption(ctx); err != nil {
			s.log.Debug("periodic corruption check skipped", "err", err)
		}
		cancel()
	}
}

// startupCorruptCheck compares this member with the others once it has
// caught up with the leader (a linearizable read barrier), retrying
// until one check has enough comparable answers or the member stops.
func (s *Store) startupCorruptCheck() {
	backoff := s.cfg.ElectionTimeout
	for {
		ctx, cancel := context.WithTimeout(s.stopCtx, corruptCheckTimeout)
		err := s.readBarrier(ctx, false)
		var decided bool
		if err == nil {
			decided, err = s.checkCorruption(ctx)
		}
		cancel()
		if decided || s.stopped() {
			return
		}
		if err != nil {
			s.log.Debug("start-up corruption check deferred", "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.cfg.CorruptCheckInterval)
	}
}

// checkCorruption runs one check from this member and raises a CORRUPT
// alarm for every member outvoted. It reports whether enough members
// answered comparably to decide (a single-member cluster never does).
func (s *Store) checkCorruption(ctx context.Context) (bool, error) {
	if s.clusterID.Load() == 0 || s.stopped() || s.corruptErr() != nil {
		return false, nil // not a member yet, or gone, or outvoted already
	}
	conf, _, err := s.memberState()
	if err != nil {
		return false, err
	}
	index := s.fsm.applied.Load()
	h, err := s.kv.HashKV(0)
	if err != nil {
		return false, err
	}
	rev := h.Revision
	answers := []memberHash{{name: s.id.MemberID, id: s.memberID.Load(), hash: h.Hash, compactRev: h.CompactRevision}}
	for _, srv := range conf.Servers {
		if srv.ID == raft.ServerID(s.id.MemberID) {
			continue
		}
		a, err := s.askHash(ctx, srv, rev, index)
		if err != nil {
			s.log.Debug("corruption check: no answer", "member", string(srv.ID), "err", err)
			continue
		}
		answers = append(answers, a)
	}
	bad, decided := outvoted(answers, h.CompactRevision)
	for _, m := range bad {
		// The member's data differs from the others' at the same
		// revision: its CORRUPT alarm makes it stop serving.
		s.log.Error("corruption detected", "corrupt_member", m.name, "member_id", fmt.Sprintf("%016x", m.id),
			"revision", rev, "hash", m.hash)
		if err := s.raiseAlarm(ctx, m.id, AlarmCorrupt); err != nil {
			return false, fmt.Errorf("raising the CORRUPT alarm of %s: %w", m.name, err)
		}
	}
	return decided, nil
}

// outvoted returns the answers whose hash differs from the one a strict
// majority of the answers comparable with compactRev share, and whether
// such a majority of at least minCorruptVote members exists.
func outvoted(answers []memberHash, compactRev int64) ([]memberHash, bool) {
	var comparable []memberHash
	counts := map[uint32]int{}
	for _, a := range answers {
		if a.compactRev == compactRev {
			comparable = append(comparable, a)
			counts[a.hash]++
		}
	}
	if len(comparable) < minCorruptVote {
		return nil, false
	}
	for hash, n := range counts {
		if 2*n <= len(comparable) {
			continue
		}
		var bad []memberHash
		for _, a := range comparable {
			if a.hash != hash {
				bad = append(bad, a)
			}
		}
		return bad, true
	}
	return nil, false
}

// askHash asks member srv for its HashKV at rev, once it has applied
// entry index (by then it has reached rev).
func (s *Store) askHash(ctx context.Context, srv raft.Server, rev int64, index uint64) (memberHash, error) {
	e := wire.Encoder{Buf: make([]byte, 0, 24)}
	e.Byte(msgHash)
	e.Varint(rev)
	e.Uvarint(index)
	reply, err := s.trans.Call(ctx, string(srv.Address), e.Buf)
	if err != nil {
		return memberHash{}, err
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	if code := d.Byte(); code != 0 {
		err := decodeError(d, code)
		if err == nil {
			err = d.Err()
		}
		return memberHash{}, err
	}
	a := memberHash{name: string(d.Bytes()), id: d.Uvarint(), hash: uint32(d.Uvarint()), compactRev: d.Varint()}
	if err := d.Finish(); err != nil {
		return memberHash{}, err
	}
	if a.name != string(srv.ID) {
		return memberHash{}, errors.New("another process answers at that address")
	}
	return a, nil
}

// serveHash answers msgHash: this member's name, ID and HashKV at the
// asked revision, once it has applied the asked index.
func (s *Store) serveHash(ctx context.Context, req []byte) ([]byte, error) {
	d := wire.NewDecoder(req, ErrCorruptCommand)
	rev, index := d.Varint(), d.Uvarint()
	if err := d.Finish(); err != nil {
		return nil, err
	}
	e := wire.Encoder{Buf: make([]byte, 0, 32+len(s.id.MemberID))}
	err := s.fsm.waitApplied(ctx, index, s.stop)
	if err == nil && rev <= 0 {
		err = fmt.Errorf("%w: hash revision %d", ErrCorruptCommand, rev)
	}
	var h mvcc.KVHash
	if err == nil {
		h, err = s.kv.HashKV(rev)
	}
	if err != nil {
		encodeError(&e, err)
		return e.Buf, nil
	}
	e.Byte(0)
	e.Bytes([]byte(s.id.MemberID))
	e.Uvarint(s.memberID.Load())
	e.Uvarint(uint64(h.Hash))
	e.Varint(h.CompactRevision)
	return e.Buf, nil
}
