package keel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
)

// Membership changes run on the leader, one at a time (Store.reconfig): a
// member that is asked for one forwards it there (msgMember). A change
// that needs both a record change and a raft configuration change makes
// them in the order that is safe if the leader fails between the two:
//
//   - adding: the record first, then AddNonvoter. A record whose member
//     never reached the configuration is harmless (the member retries its
//     join, which finds and reuses it).
//   - removing: the record is marked removed first, and the leader waits
//     (briefly) until the member, still in the configuration and so still
//     replicated to, has applied it and stopped serving; then
//     RemoveServer; then the record is dropped. A leader
//     never removes itself: it hands leadership to another voter first.
//     The new leader finishes a removal that was cut short
//     (finishRemovals).
const (
	changeAdd = iota + 1
	changeRemove
	changeUpdate
	changePromote
	changeMoveLeader
	changeJoin
	changeRejoin
)

// memberChange is a membership request. Its wire form (msgMember) is
//
//	kind:byte id:uvarint name:bytes addr:bytes flags:byte(1 learner|2 force)
//
// and the reply is code:byte [id:uvarint index:uvarint].
type memberChange struct {
	kind    byte
	id      uint64 // the target; join: the ID the joiner proposes; rejoin: the caller's
	name    string // join, rejoin: the member's Config.ID
	addr    string // add, update, join, rejoin
	learner bool   // add, join: stays a learner until MemberPromote
	force   bool   // remove: skip the quorum check
}

// changeResult is what a change reports: the member it concerned and the
// raft index the caller waits for before it reads the member list.
type changeResult struct {
	id    uint64
	index uint64
}

func (c *memberChange) encode() []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 32+len(c.name)+len(c.addr))}
	e.Byte(msgMember)
	e.Byte(c.kind)
	e.Uvarint(c.id)
	e.Bytes([]byte(c.name))
	e.Bytes([]byte(c.addr))
	e.Byte(flags(c.learner, c.force))
	return e.Buf
}

func decodeMemberChange(b []byte) (memberChange, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	c := memberChange{kind: d.Byte(), id: d.Uvarint(), name: string(d.Bytes()), addr: string(d.Bytes())}
	f := d.Byte()
	if f&^3 != 0 {
		d.Fail("unknown member change flags")
	}
	c.learner, c.force = f&1 != 0, f&2 != 0
	if c.kind < changeAdd || c.kind > changeRejoin {
		d.Fail("unknown member change")
	}
	return c, d.Finish()
}

func encodeChangeReply(r changeResult, err error) []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 24)}
	if err != nil {
		encodeError(&e, err)
		return e.Buf
	}
	e.Byte(0)
	e.Uvarint(r.id)
	e.Uvarint(r.index)
	return e.Buf
}

func decodeChangeReply(b []byte) (changeResult, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	if err := decodeError(d, d.Byte()); err != nil || d.Err() != nil {
		if d.Err() != nil {
			return changeResult{}, d.Err()
		}
		return changeResult{}, err
	}
	r := changeResult{id: d.Uvarint(), index: d.Uvarint()}
	return r, d.Finish()
}

// requestChange runs c on the leader (here or forwarded) and waits until
// this member has applied it. A refusal that follows an attempt whose
// outcome is unknown is also an ErrTimeout: that attempt may have made
// the change.
func (s *Store) requestChange(ctx context.Context, c memberChange) (changeResult, error) {
	req := c.encode()
	reply, unknown, err := s.callLeaderTracked(ctx, req, func(ctx context.Context) ([]byte, error) {
		r, err := s.changeMembers(ctx, c)
		return encodeChangeReply(r, err), nil
	})
	if err != nil {
		return changeResult{}, err
	}
	r, err := decodeChangeReply(reply)
	if err != nil && unknown {
		// Say ErrChangeInProgress: the change in flight may be this one,
		// sent by an attempt whose answer was lost.
		return changeResult{}, fmt.Errorf("%w: an earlier attempt may have made the change: %w", ErrTimeout, err)
	}
	if err != nil {
		return changeResult{}, err
	}
	if err := s.fsm.waitApplied(ctx, r.index, s.stop); err != nil {
		return changeResult{}, err
	}
	return r, nil
}

// changeMembers makes change c; this member must be the leader.
func (s *Store) changeMembers(ctx context.Context, c memberChange) (_ changeResult, err error) {
	defer func() {
		if f := s.loseChangeReply.Load(); err == nil && f != nil && s.loseChangeReply.CompareAndSwap(f, nil) {
			(*f)()
			err = ErrTimeout // tests: the reply to a change made is lost
		}
	}()
	if term, _, _ := s.lead.get(); term == 0 || s.raft.State() != raft.Leader {
		return changeResult{}, ErrNotLeader
	}
	if !s.waitReconfig(ctx) {
		return changeResult{}, ErrChangeInProgress
	}
	defer s.endReconfig()
	if h := s.reconfigHook.Load(); h != nil {
		(*h)() // tests: hold a change in flight
	}
	// Decide from everything committed. A new leader applies its
	// predecessors' last entries only once its own first entry commits;
	// until then its member records may lack a member that joined just
	// before, and a rejoin would tell that member it was removed.
	if err := s.readBarrier(ctx, false); err != nil {
		return changeResult{}, err
	}
	conf, cs, err := s.memberState()
	if err != nil {
		return changeResult{}, err
	}
	views := members(conf, &cs)
	switch c.kind {
	case changeAdd:
		return s.addMember(ctx, views, cs, c)
	case changeJoin:
		return s.admit(ctx, views, cs, c)
	case changeRejoin:
		return s.rejoin(ctx, views, c)
	}
	v := findMember(views, c.id)
	if v == nil {
		return changeResult{}, fmt.Errorf("%w: %016x", ErrMemberNotFound, c.id)
	}
	switch c.kind {
	case changeRemove:
		return s.removeMember(ctx, views, cs, v, c.force)
	case changeUpdate:
		return s.updateMember(ctx, views, cs, v, c.addr)
	case changePromote:
		return s.promoteMember(ctx, cs, v, true)
	default: // changeMoveLeader
		return s.moveLeader(ctx, v)
	}
}

// tryReconfig takes the membership-change token if it is free: for the
// leader's own housekeeping, which skips a round rather than wait.
func (s *Store) tryReconfig() bool {
	select {
	case s.reconfig <- struct{}{}:
		return true
	default:
		return false
	}
}

// waitReconfig takes the membership-change token, waiting up to an
// ElectionTimeout (or ctx) for a change in flight, such as an automatic
// promotion, to finish; false means the other change is still running.
func (s *Store) waitReconfig(ctx context.Context) bool {
	t := time.NewTimer(s.cfg.ElectionTimeout)
	defer t.Stop()
	select {
	case s.reconfig <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	case <-s.stop:
	}
	return false
}

// endReconfig returns the membership-change token.
func (s *Store) endReconfig() { <-s.reconfig }

// memberState returns raft's latest configuration and the member records.
func (s *Store) memberState() (raft.Configuration, clusterState, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, clusterState{}, fmt.Errorf("keel: configuration: %w", err)
	}
	cs, err := decodeClusterState(s.kv.ClusterState())
	return f.Configuration(), cs, err
}

// setRecords replaces the member records with cs through raft. The
// first change records the cluster's initial size, if this member knows
// it (it bootstrapped the cluster).
func (s *Store) setRecords(ctx context.Context, cs clusterState) (uint64, error) {
	if cs.initial == 0 {
		cs.initial = uint64(s.id.Initial)
	}
	res, err := s.proposeLocal(ctx, encodeMemberCommand(cs.index, &cs))
	if err != nil {
		return 0, err
	}
	if res.err != nil {
		return 0, res.err
	}
	return res.index, nil
}

// raftChange runs a raft configuration change and returns its index.
func (s *Store) raftChange(ctx context.Context, f func(timeout time.Duration) raft.IndexFuture) (uint64, error) {
	timeout := s.cfg.ElectionTimeout * 4
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	fut := f(max(timeout, time.Millisecond))
	// raft's timeout bounds only the enqueueing; the future resolves at
	// commit or leadership loss, which may never come while this member
	// stops, so the wait is in a goroutine this call may leave behind.
	// raft resolves the future when it shuts down unless the entry has
	// committed and waits for the FSM then: Close lets raft resolve the
	// futures before it shuts raft down (settleChanges).
	done := make(chan error, 1)
	s.changeWaits.Add(1)
	go func() {
		defer s.changeWaits.Add(-1)
		done <- fut.Error()
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: configuration change: %w", ErrTimeout, ctx.Err())
	case <-s.stop:
		return 0, fmt.Errorf("%w: %w", ErrTimeout, s.errStopped())
	}
	if err != nil {
		switch err {
		case raft.ErrNotLeader, raft.ErrLeadershipTransferInProgress: // not started
			return 0, fmt.Errorf("%w: %w", ErrNotLeader, err)
		case raft.ErrLeadershipLost: // the next leader may commit it
			return 0, fmt.Errorf("%w: configuration change: %w", ErrTimeoutDueToLeaderFail, err)
		}
		return 0, fmt.Errorf("%w: configuration change: %w", ErrTimeout, err)
	}
	return fut.Index(), nil
}

// settleChanges waits, up to an ElectionTimeout, until raft has resolved
// every configuration-change future raftChange waited on. raft v1.8.0
// never resolves one whose entry has committed but is still queued for
// the FSM when it shuts down, so its waiter would stay blocked for good;
// while raft runs, the FSM resolves it at once (a stopping member's FSM
// skips the entries). A change that cannot commit is resolved by the
// leader stepping down within the wait, or at shutdown.
func (s *Store) settleChanges() {
	deadline := time.Now().Add(s.cfg.ElectionTimeout)
	for s.changeWaits.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// addrTaken reports whether another member than id has addr.
func addrTaken(views []memberView, addr string, id uint64) bool {
	for _, v := range views {
		if v.ID != id && len(v.PeerURLs) > 0 && v.PeerURLs[0] == addr {
			return true
		}
	}
	return false
}

// newMemberID picks an ID no member has (and never 0).
func newMemberID(views []memberView, cs *clusterState) uint64 {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := binary.BigEndian.Uint64(b[:])
		if id != 0 && findMember(views, id) == nil && cs.byID(id) == nil {
			return id
		}
	}
}

// addMember reserves a member for addr (MemberAdd): the process that
// joins advertising addr takes it.
func (s *Store) addMember(ctx context.Context, views []memberView, cs clusterState, c memberChange) (changeResult, error) {
	if addrTaken(views, c.addr, 0) {
		return changeResult{}, fmt.Errorf("%w: %s", ErrPeerURLExists, c.addr)
	}
	r := memberRecord{id: newMemberID(views, &cs), addr: c.addr, learner: c.learner}
	cs = cs.clone()
	cs.put(r)
	idx, err := s.setRecords(ctx, cs)
	return changeResult{id: r.id, index: idx}, err
}

// removeMember removes v. See the package comment for the order of steps.
func (s *Store) removeMember(ctx context.Context, views []memberView, cs clusterState, v *memberView, force bool) (changeResult, error) {
	if v.server.ID == "" { // added, never started: only a record
		cs = cs.clone()
		cs.drop(v.ID)
		idx, err := s.setRecords(ctx, cs)
		return changeResult{id: v.ID, index: idx}, err
	}
	// A committed mark decided the removal (the member stops on it):
	// finishing it is not refused for reachability, which may have
	// changed since the mark was checked and made.
	if err := s.checkRemoval(ctx, views, v, force || v.removed); err != nil {
		return changeResult{}, err
	}
	if v.server.ID == raft.ServerID(s.id.MemberID) {
		// Hand leadership away first; the caller retries with the new
		// leader, which removes this member.
		if err := s.awaitTransfer(ctx, s.raft.LeadershipTransfer()); err != nil {
			return changeResult{}, fmt.Errorf("%w: handing leadership away: %w", ErrNotLeader, err)
		}
		return changeResult{}, ErrNotLeader
	}
	if !v.removed {
		cs = cs.clone()
		r := memberRecord{id: v.ID, name: v.Name}
		if v.record != nil {
			r = *v.record
		}
		r.removed = true
		cs.put(r)
		var err error
		if cs.index, err = s.setRecords(ctx, cs); err != nil {
			return changeResult{}, err
		}
		// Once out of the configuration, it is no longer replicated to:
		// make sure it has applied the mark (and stopped) first. One that
		// does not answer learns it when it asks (checkSelf).
		if !s.probes.waitApplied(ctx, v.server, cs.index) {
			s.log.Info("removing a member that has not applied its removal", "member", v.Name)
		}
	}
	idx, err := s.raftChange(ctx, func(timeout time.Duration) raft.IndexFuture {
		return s.raft.RemoveServer(v.server.ID, 0, timeout)
	})
	if err != nil {
		// The committed mark decided the removal (the member stops, and
		// is no longer listed); whichever member leads finishes it
		// (autopilot). An error here would tell the caller it failed.
		s.log.Warn("removal marked; the configuration change is left to the leader", "member", v.Name, "err", err)
		return changeResult{id: v.ID, index: cs.index}, nil
	}
	s.probes.forget(v.server.ID)
	cs = cs.clone()
	cs.drop(v.ID)
	if idx2, err := s.setRecords(ctx, cs); err == nil {
		idx = idx2
	} // else: the next leader's finishRemovals drops the record
	return changeResult{id: v.ID, index: idx}, nil
}

// checkRemoval refuses to remove v unless enough voters stay reachable:
// a quorum of the voters that remain, counted from a fresh probe. It
// never removes the last voter, even forced.
func (s *Store) checkRemoval(ctx context.Context, views []memberView, v *memberView, force bool) error {
	var remaining []raft.Server
	for _, m := range views {
		if m.server.ID != "" && m.server.Suffrage == raft.Voter && m.server.ID != v.server.ID {
			remaining = append(remaining, m.server)
		}
	}
	if len(remaining) == 0 {
		return fmt.Errorf("%w: cannot remove the last voter", ErrUnhealthy)
	}
	if force {
		return nil
	}
	reachable := 0
	for _, srv := range remaining {
		if srv.ID == raft.ServerID(s.id.MemberID) || s.probes.reachable(ctx, srv) {
			reachable++
		}
	}
	if quorum := len(remaining)/2 + 1; reachable < quorum {
		return fmt.Errorf("%w: %d of the %d remaining voters are reachable, %d needed", ErrMemberNotEnoughStarted, reachable, len(remaining), quorum)
	}
	return nil
}

// updateMember changes v's address.
func (s *Store) updateMember(ctx context.Context, views []memberView, cs clusterState, v *memberView, addr string) (changeResult, error) {
	if addrTaken(views, addr, v.ID) {
		return changeResult{}, fmt.Errorf("%w: %s", ErrPeerURLExists, addr)
	}
	if v.server.ID == "" {
		r := *v.record
		r.addr = addr
		cs = cs.clone()
		cs.put(r)
		idx, err := s.setRecords(ctx, cs)
		return changeResult{id: v.ID, index: idx}, err
	}
	idx, err := s.setAddress(ctx, v.server, addr)
	return changeResult{id: v.ID, index: idx}, err
}

// setAddress changes a server's address in raft's configuration, keeping
// its suffrage.
func (s *Store) setAddress(ctx context.Context, srv raft.Server, addr string) (uint64, error) {
	if string(srv.Address) == addr {
		return s.raft.GetConfiguration().Index(), nil
	}
	return s.raftChange(ctx, func(timeout time.Duration) raft.IndexFuture {
		if srv.Suffrage == raft.Voter {
			return s.raft.AddVoter(srv.ID, raft.ServerAddress(addr), 0, timeout)
		}
		return s.raft.AddNonvoter(srv.ID, raft.ServerAddress(addr), 0, timeout)
	})
}

// promoteMember makes learner v a voter, if it has caught up. manual
// marks MemberPromote, which also clears a permanent learner's flag.
func (s *Store) promoteMember(ctx context.Context, cs clusterState, v *memberView, manual bool) (changeResult, error) {
	if v.server.ID == "" || !v.IsLearner {
		return changeResult{}, fmt.Errorf("%w: %016x", ErrMemberNotLearner, v.ID)
	}
	if v.removed {
		return changeResult{}, fmt.Errorf("%w: %016x is being removed", ErrMemberNotFound, v.ID)
	}
	if !s.probes.caughtUp(ctx, v.server) {
		return changeResult{}, fmt.Errorf("%w: %s", ErrLearnerNotReady, v.Name)
	}
	if manual && v.record != nil && v.record.learner {
		r := *v.record
		r.learner = false
		cs = cs.clone()
		cs.put(r)
		if _, err := s.setRecords(ctx, cs); err != nil {
			return changeResult{}, err
		}
	}
	idx, err := s.raftChange(ctx, func(timeout time.Duration) raft.IndexFuture {
		return s.raft.AddVoter(v.server.ID, v.server.Address, 0, timeout)
	})
	if err == nil {
		s.log.Info("promoted learner to voter", "member", v.Name)
	}
	return changeResult{id: v.ID, index: idx}, err
}

// moveLeader hands leadership to voter v.
func (s *Store) moveLeader(ctx context.Context, v *memberView) (changeResult, error) {
	if v.server.ID == "" || v.server.Suffrage != raft.Voter || v.removed {
		return changeResult{}, fmt.Errorf("%w: %016x is not a voter", ErrBadLeaderTransferee, v.ID)
	}
	if v.server.ID == raft.ServerID(s.id.MemberID) {
		return changeResult{id: v.ID, index: s.fsm.applied.Load()}, nil
	}
	if err := s.awaitTransfer(ctx, s.raft.LeadershipTransferToServer(v.server.ID, v.server.Address)); err != nil {
		return changeResult{}, fmt.Errorf("%w: leadership transfer: %w", ErrTimeout, err)
	}
	return changeResult{id: v.ID, index: s.fsm.applied.Load()}, nil
}
