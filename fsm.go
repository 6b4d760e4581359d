package keel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/mvcc"
)

// fsm applies committed raft entries to mvcc, in log order, on every
// member. It implements raft.BatchingFSM.
//
// The consistent-index rule: mvcc records the raft index of every entry it
// applies in the same bbolt transaction as the entry's data, and fsm skips
// any entry at or below that index, so replaying the log after a restart
// (raft replays everything after its newest snapshot) never applies an
// entry twice, and an entry whose data did not reach bbolt before a crash
// is applied again from the log.
//
// applied is the index of the last entry delivered to fsm (applied or
// skipped). raft does not deliver its own no-op and barrier entries to an
// FSM, so applied only ever equals indexes of Keel's commands and of
// configuration changes; the read path asks for such indexes only.
//
// Apply and ApplyBatch run on raft's FSM goroutine; the other methods are
// safe for concurrent use.
type fsm struct {
	kv  *mvcc.Store
	log *slog.Logger
	// leases keeps each member's local expiry estimates in step with the
	// lease commands it applies. It reads the local clock, but only for
	// that bookkeeping: nothing it does changes the replicated state.
	leases *lessor
	// deliver hands a command's result to the proposer waiting on this
	// member (see proposals); nil in tests that drive the FSM alone.
	deliver func(reqID uint64, res *applyResult)
	// waitDurable blocks until this member's WAL holds entry idx durably
	// (see package internal/durable); nil in tests that drive the FSM alone.
	waitDurable func(idx uint64) error
	// membersChanged is called after the member records change (a
	// cmdMember applied, or a snapshot restored); nil in tests that drive
	// the FSM alone.
	membersChanged func()
	// met counts snapshots and lease changes (the Store's metrics, or
	// the FSM's own in tests that drive it alone).
	met *storeMetrics

	// alarms is the set of active alarms as of the last applied entry
	// (the decoded mvcc alarm state); apply refuses writes that add data
	// while a NOSPACE alarm is in it.
	alarms atomic.Pointer[alarmSet]

	applied atomic.Uint64
	// conf is the newest committed raft configuration this member knows:
	// the last configuration entry delivered to fsm, or the one in the
	// newest raft snapshot (seedConf, at start and on Restore); nil
	// if neither exists yet. MemberList lists it: raft's latest
	// configuration may hold a change that is not committed, and raft
	// v1.8.0 does not say at which index (ConfigurationFuture.Index is 0).
	conf atomic.Pointer[raft.Configuration]
	// delivered is the index of the last entry raft delivered to fsm
	// (applied or skipped), or of the snapshot conf was seeded from: conf
	// reflects every configuration change up to it. applied may be ahead
	// (the database's consistent index, after a restart or a snapshot
	// install) until raft has delivered the entries up to it again.
	delivered atomic.Uint64
	// newestSnapshot returns the newest raft snapshot's metadata on disk,
	// or nil; nil in tests that drive the FSM alone.
	newestSnapshot func() *raft.SnapshotMeta
	// divergeNextPut (tests) makes this member apply the next plain Put
	// with another value than the other members: a divergent apply, for
	// the corruption checks to find.
	divergeNextPut atomic.Bool

	mu     sync.Mutex
	notify chan struct{} // closed and replaced whenever applied grows
}

var (
	_ raft.FSM         = (*fsm)(nil)
	_ raft.BatchingFSM = (*fsm)(nil)
)

func newFSM(kv *mvcc.Store, log *slog.Logger) *fsm {
	f := &fsm{kv: kv, log: log, met: newStoreMetrics(), notify: make(chan struct{})}
	f.applied.Store(kv.ConsistentIndex())
	_ = f.loadAlarms() // Open checks it, and fails on an error
	return f
}

// loadAlarms reads the alarms from the store (after opening or restoring
// it). On error no alarm is active.
func (f *fsm) loadAlarms() error {
	as, err := decodeAlarmSet(f.kv.Alarms())
	f.alarms.Store(&as)
	return err
}

// alarmSet returns the active alarms.
func (f *fsm) alarmSet() alarmSet { return *f.alarms.Load() }

// Apply applies one entry.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies entries in order and returns one *applyResult (or
// nil, for entries that are not commands) per entry.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if n := len(logs); n > 0 && f.waitDurable != nil {
		if err := f.waitDurable(logs[n-1].Index); err != nil {
			// The member is stopping or its WAL failed (it fail-stops):
			// an entry that may not be durable here is never applied.
			f.log.Warn("not applying entries that are not durable", "first", logs[0].Index, "last", logs[n-1].Index, "err", err)
			return out
		}
	}
	for i, l := range logs {
		if l.Type == raft.LogConfiguration {
			conf := raft.DecodeConfiguration(l.Data)
			f.conf.Store(&conf)
		}
		if l.Index <= f.kv.ConsistentIndex() {
			continue // already applied before a restart
		}
		if l.Type != raft.LogCommand {
			f.kv.Write(l.Index).End() // configuration change: record the index only
			continue
		}
		out[i] = f.applyCommand(l)
	}
	if n := len(logs); n > 0 {
		f.delivered.Store(logs[n-1].Index)
		f.setApplied(logs[n-1].Index)
	}
	return out
}

// seedConf makes the configuration in snapshot meta (nil: none) conf, as
// of the snapshot's index; raft delivers the entries after it.
func (f *fsm) seedConf(meta *raft.SnapshotMeta) {
	if meta == nil {
		f.conf.Store(nil)
		f.delivered.Store(0)
		return
	}
	f.conf.Store(&meta.Configuration)
	f.delivered.Store(meta.Index)
}

func (f *fsm) applyCommand(l *raft.Log) *applyResult {
	c, err := decodeCommand(l.Data)
	if err != nil {
		f.log.Error("skipping undecodable raft entry", "index", l.Index, "err", err)
		f.kv.Write(l.Index).End()
		return &applyResult{err: err, index: l.Index}
	}
	res := f.applyDecoded(l, &c)
	res.index = l.Index
	if f.deliver != nil {
		f.deliver(c.reqID, res)
	}
	return res
}

func (f *fsm) applyDecoded(l *raft.Log, c *command) *applyResult {
	if f.alarmSet().any(AlarmNoSpace) && addsData(f.kv, c) {
		f.kv.Write(l.Index).End() // refused whole: record the index only
		return &applyResult{err: ErrNoSpace}
	}
	switch c.kind {
	case cmdOp:
		if c.op.t == tPut && f.divergeNextPut.Load() && f.divergeNextPut.CompareAndSwap(true, false) {
			c.op.val = append(c.op.val[:len(c.op.val):len(c.op.val)], '!')
		}
		return applyOp(f.kv, l.Index, &c.op)
	case cmdCompact:
		res := applyCompact(f.kv, l.Index, c.rev)
		if res.err == nil {
			f.log.Info(evCompacted, "rev", c.rev, "index", l.Index)
		}
		return res
	case cmdLeaseGrant:
		res := applyLeaseGrant(f.kv, l.Index, c.leaseID, c.ttl)
		if res.err == nil {
			f.met.leaseGrants.Inc()
		}
		if res.err == nil && f.leases != nil {
			f.leases.granted(c.leaseID, c.ttl)
		}
		return res
	case cmdLeaseRevoke:
		res := applyLeaseRevoke(f.kv, l.Index, c.leaseID)
		if res.err == nil {
			f.met.leaseRevokes.Inc()
		}
		if f.leases != nil {
			f.leases.revoked(c.leaseID)
		}
		return res
	case cmdLeaseCheckpoint:
		res := applyLeaseCheckpoint(f.kv, l.Index, c.checkpoints)
		if f.leases != nil {
			f.leases.checkpointed(c.checkpoints)
		}
		return res
	case cmdMember:
		res := applyMember(f.kv, l.Index, c.base, c.members)
		if res.err == nil && f.membersChanged != nil {
			f.membersChanged()
		}
		return res
	case cmdAlarm:
		res, next := applyAlarm(f.kv, l.Index, f.alarmSet(), c.raise, c.alarm)
		f.alarms.Store(&next)
		return res
	default: // cmdNoop
		f.kv.Write(l.Index).End()
		return &applyResult{}
	}
}

func (f *fsm) setApplied(idx uint64) {
	f.mu.Lock()
	if idx > f.applied.Load() {
		f.applied.Store(idx)
		close(f.notify)
		f.notify = make(chan struct{})
	}
	f.mu.Unlock()
}

// waitApplied blocks until entry idx has been applied, ctx ends or stop
// closes.
func (f *fsm) waitApplied(ctx context.Context, idx uint64, stop <-chan struct{}) error {
	for {
		if f.applied.Load() >= idx {
			return nil
		}
		f.mu.Lock()
		ch := f.notify
		f.mu.Unlock()
		if f.applied.Load() >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrTimeoutWaitAppliedIndex, ctx.Err())
		case <-stop:
			return ErrStopped
		}
	}
}

// Snapshot returns a point-in-time view of the store; raft persists it
// concurrently with later applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	sn, err := f.kv.Snapshot()
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{sn: sn, f: f}, nil
}

// Restore replaces the store's state with a snapshot received from the
// leader (or restored at start-up).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.restoreKV(rc); err != nil {
		return err
	}
	// The restored alarms, published before the restored applied index.
	alarmErr := f.loadAlarms()
	var meta *raft.SnapshotMeta // the one restored: the newest on disk
	if f.newestSnapshot != nil {
		meta = f.newestSnapshot()
	}
	f.seedConf(meta)
	f.mu.Lock()
	f.applied.Store(f.kv.ConsistentIndex())
	close(f.notify)
	f.notify = make(chan struct{})
	f.mu.Unlock()
	if f.leases != nil {
		f.leases.reload()
	}
	if f.membersChanged != nil {
		f.membersChanged()
	}
	return alarmErr
}

// fsmSnapshot streams an mvcc snapshot into a raft snapshot sink.
type fsmSnapshot struct {
	sn *mvcc.Snapshot
	f  *fsm
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	n, err := s.sn.WriteTo(sink)
	if err != nil {
		_ = sink.Cancel()
	} else {
		err = sink.Close()
	}
	s.f.snapshotTaken(sink.ID(), n, time.Since(start), err)
	return err
}

func (s *fsmSnapshot) Release() { _ = s.sn.Close() }
