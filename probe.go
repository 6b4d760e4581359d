package keel

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
)

// Promotion of learners. hashicorp/raft does not tell its caller how far
// each follower has replicated, so the leader asks (msgProgress, answered
// with the member's last log index) every HeartbeatTimeout. A learner that
// may be promoted (not a permanent learner) is promoted automatically once
// its log is at most promoteMaxLag entries behind the leader's in
// promoteRounds consecutive probes: it has caught up and keeps up, so
// counting it in the quorum does not stall commits. MemberPromote asks
// for one fresh probe with the same bound.
const (
	promoteMaxLag = 1024
	promoteRounds = 3
)

// probes is the leader's record of the other members' progress.
type probes struct {
	s  *Store
	mu sync.Mutex
	// inSync counts consecutive probes that found a learner caught up.
	inSync map[raft.ServerID]int
	// seen is when each voter last answered a probe, or when this leader
	// first probed it (Config.RemoveDeadAfter).
	seen map[raft.ServerID]time.Time
}

func newProbes(s *Store) *probes {
	return &probes{s: s, inSync: map[raft.ServerID]int{}, seen: map[raft.ServerID]time.Time{}}
}

// reset forgets everything: a new leader starts counting afresh.
func (p *probes) reset() {
	p.mu.Lock()
	clear(p.inSync)
	clear(p.seen)
	p.mu.Unlock()
}

// progress asks srv for its last log index and the index it applied,
// within a HeartbeatTimeout.
func (p *probes) progress(ctx context.Context, srv raft.Server) (last, applied uint64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, p.s.cfg.HeartbeatTimeout)
	defer cancel()
	reply, err := p.s.trans.Call(ctx, string(srv.Address), []byte{msgProgress})
	if err != nil {
		return 0, 0, false
	}
	d := wire.NewDecoder(reply, ErrCorruptCommand)
	name := string(d.Bytes())
	last, applied = d.Uvarint(), d.Uvarint()
	if d.Finish() != nil || name != string(srv.ID) {
		return 0, 0, false // another process answers at that address
	}
	return last, applied, true
}

// serveProgress answers msgProgress: this member's ID, last log index and
// applied index.
func (s *Store) serveProgress() []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 24+len(s.id.MemberID))}
	e.Bytes([]byte(s.id.MemberID))
	e.Uvarint(s.raft.LastIndex())
	e.Uvarint(s.fsm.applied.Load())
	return e.Buf
}

// reachable reports whether srv answers a probe now.
func (p *probes) reachable(ctx context.Context, srv raft.Server) bool {
	_, _, ok := p.progress(ctx, srv)
	return ok
}

// caughtUp reports whether srv's log is within promoteMaxLag entries of
// this member's, by a fresh probe.
func (p *probes) caughtUp(ctx context.Context, srv raft.Server) bool {
	last, _, ok := p.progress(ctx, srv)
	return ok && last+promoteMaxLag >= p.s.raft.LastIndex()
}

// waitApplied waits, for at most two ElectionTimeouts, until srv has
// applied entry idx; it gives up at once when srv does not answer.
func (p *probes) waitApplied(ctx context.Context, srv raft.Server, idx uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*p.s.cfg.ElectionTimeout)
	defer cancel()
	for {
		_, applied, ok := p.progress(ctx, srv)
		if !ok || applied >= idx {
			return ok
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// forget drops what is known of id.
func (p *probes) forget(id raft.ServerID) {
	p.mu.Lock()
	delete(p.inSync, id)
	delete(p.seen, id)
	p.mu.Unlock()
}

// silentFor probes voter srv and returns how long it has not answered
// (0 if it answers now); a voter first probed now counts from now.
func (p *probes) silentFor(ctx context.Context, srv raft.Server) time.Duration {
	ok := p.reachable(ctx, srv)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	last, known := p.seen[srv.ID]
	if ok || !known {
		p.seen[srv.ID] = now
		return 0
	}
	return now.Sub(last)
}

// memberLoop runs the membership housekeeping every HeartbeatTimeout: on
// the leader, promoting learners and finishing interrupted removals; on
// other members, checking that this member still belongs to the cluster
// when it has reason to doubt it (see checkSelf).
func (s *Store) memberLoop() {
	t := time.NewTicker(s.cfg.HeartbeatTimeout)
	defer t.Stop()
	var leaderless time.Time // since when no leader is known
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if term, _, _ := s.lead.get(); term != 0 {
			leaderless = time.Time{}
			s.autopilot()
			continue
		}
		s.probes.reset()
		if s.leaderAddr() != "" {
			leaderless = time.Time{}
		} else if leaderless.IsZero() {
			leaderless = time.Now()
		}
		if s.selfCheck.Load() || (!leaderless.IsZero() && time.Since(leaderless) > 5*s.cfg.ElectionTimeout) {
			s.checkSelf()
			if !leaderless.IsZero() {
				leaderless = time.Now() // next check after as long again
			}
		}
	}
}

// autopilot promotes the learners that have caught up and finishes
// removals a previous leader did not.
func (s *Store) autopilot() {
	conf, cs, err := s.memberState()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.stopCtx, 4*s.cfg.ElectionTimeout)
	defer cancel()
	for _, r := range cs.records {
		if r.removed && r.name != s.id.MemberID {
			s.finishRemoval(ctx, r.id)
		}
	}
	views := members(conf, &cs)
	for _, v := range views {
		if v.server.ID != "" && v.IsLearner && !v.removed && (v.record == nil || !v.record.learner) {
			s.maybePromote(ctx, v)
		}
	}
	if s.cfg.RemoveDeadAfter > 0 {
		s.removeDead(ctx, views, cs)
	}
}

// removeDead removes, one per round, a voter that has not answered the
// leader's probes for Config.RemoveDeadAfter, if the cluster can spare
// it: at least a quorum of the initial cluster size stays, and the
// removal passes MemberRemove's quorum check.
func (s *Store) removeDead(ctx context.Context, views []memberView, cs clusterState) {
	voters := 0
	for _, v := range views {
		if v.server.ID != "" && v.server.Suffrage == raft.Voter {
			voters++
		}
	}
	initial := int(cs.initial)
	if initial == 0 {
		initial = max(s.id.Initial, 1)
	}
	for _, v := range views {
		if v.server.ID == "" || v.server.Suffrage != raft.Voter || v.server.ID == raft.ServerID(s.id.MemberID) || v.removed {
			continue
		}
		silent := s.probes.silentFor(ctx, v.server)
		if silent < s.cfg.RemoveDeadAfter {
			continue
		}
		if voters-1 < initial/2+1 {
			s.log.Warn("not removing a dead voter: the cluster would fall below a quorum of its initial size",
				"member", v.Name, "silent", silent, "voters", voters, "initial", initial)
			continue
		}
		if !s.tryReconfig() {
			return
		}
		conf, cur, err := s.memberState()
		if err == nil {
			views := members(conf, &cur)
			if m := findMember(views, v.ID); m != nil {
				_, err = s.removeMember(ctx, views, cur, m, false)
			}
		}
		s.endReconfig()
		if err != nil {
			s.log.Warn("could not remove a dead voter", "member", v.Name, "silent", silent, "err", err)
		} else {
			s.log.Warn("removed a dead voter", "member", v.Name, "silent", silent)
		}
		return
	}
}

// maybePromote counts v's in-sync probes and promotes it after
// promoteRounds.
func (s *Store) maybePromote(ctx context.Context, v memberView) {
	ok := s.probes.caughtUp(ctx, v.server)
	s.probes.mu.Lock()
	n := 0
	if ok {
		n = s.probes.inSync[v.server.ID] + 1
	}
	s.probes.inSync[v.server.ID] = n
	s.probes.mu.Unlock()
	if n < promoteRounds || !s.tryReconfig() {
		return
	}
	defer s.endReconfig()
	conf, cs, err := s.memberState()
	if err != nil {
		return
	}
	cur := findMember(members(conf, &cs), v.ID)
	if cur == nil || !cur.IsLearner {
		return
	}
	if _, err := s.promoteMember(ctx, cs, cur, false); err != nil {
		s.log.Info("learner not promoted yet", "member", v.Name, "err", err)
	}
}

// finishRemoval completes the removal of the member with record id that
// a leader started: out of raft's configuration, then the record dropped.
func (s *Store) finishRemoval(ctx context.Context, id uint64) {
	if !s.tryReconfig() {
		return
	}
	defer s.endReconfig()
	conf, cs, err := s.memberState()
	if err != nil {
		return
	}
	r := cs.byID(id)
	if r == nil || !r.removed {
		return
	}
	for _, srv := range conf.Servers {
		if srv.ID == raft.ServerID(r.name) {
			if _, err := s.raftChange(ctx, func(timeout time.Duration) raft.IndexFuture {
				return s.raft.RemoveServer(srv.ID, 0, timeout)
			}); err != nil {
				return
			}
		}
	}
	cs = cs.clone()
	cs.drop(id)
	_, _ = s.setRecords(ctx, cs)
}
