package keel

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// The space quota (see doc.go, "Space quota"). Each member watches its own
// database: the size bbolt has allocated minus its free pages, as of the
// latest commit (mvcc.Store.Size). Whether a write is refused is decided
// in apply, from the replicated alarms only, so every member decides the
// same way: while a NOSPACE alarm is active, writes that add data fail
// with ErrNoSpace (addsData, fsm.applyDecoded). Each member raises and
// clears its own NOSPACE alarm through raft with a hysteresis:
//
//   - A write that adds data is refused at admission, before it is
//     proposed, when its cost would take the in-use size over the quota.
//     If the in-use size is also above the low-water mark (95% of the
//     quota), the member raises its alarm; a single request too large to
//     fit into a database that is mostly free is refused without one.
//   - Every quotaCheckInterval the member raises its alarm if the in-use
//     size is over the quota (writes proposed elsewhere grow it too), and
//     clears it once the in-use size is at or below the low-water mark
//     (compaction freed pages, or a defragmentation).
//
// The raise and clear conditions never hold at once, so the alarm does
// not flap: after it clears, 5% of the quota can be written before it can
// be raised again. Raising and clearing are proposals like any write,
// forwarded to whichever member leads, and the loop works from the
// replicated state each time, so a failed or interrupted proposal (say, a
// leader change) is simply made again at the next check. The leader also
// clears the alarms of members no longer in the cluster, which can never
// clear their own.

const (
	// quotaCheckInterval is how often a member compares its in-use size
	// with its quota.
	quotaCheckInterval = 500 * time.Millisecond
	// quotaWriteOverhead is added to a write's encoded size for what
	// storing it costs beyond its bytes (bbolt's element headers, the
	// revision key, the record's fields).
	quotaWriteOverhead = 64
	// leaseGrantCost is what granting a lease is counted as.
	leaseGrantCost = 64
)

// quotaState is a member's part of the quota protocol.
type quotaState struct {
	kick chan struct{} // wakes quotaLoop; buffered, 1
	// raise asks quotaLoop to raise this member's alarm: a write did not
	// fit while the database was above the low-water mark.
	raise atomic.Bool
}

// quotaBytes returns this member's quota in bytes, 0 if it has none.
func (s *Store) quotaBytes() int64 { return max(s.cfg.QuotaBytes, 0) }

// lowWater is the in-use size at or below which a NOSPACE alarm clears.
func lowWater(quota int64) int64 { return quota - quota/20 }

// admitWrite refuses, with ErrNoSpace, a write that adds data and would
// take this member's database over its quota; cost is its size.
func (s *Store) admitWrite(cost int) error {
	quota := s.quotaBytes()
	if quota == 0 {
		return nil
	}
	_, inUse := s.kv.Size()
	if inUse+int64(cost) <= quota {
		return nil
	}
	if inUse > lowWater(quota) {
		s.quota.raise.Store(true)
		select {
		case s.quota.kick <- struct{}{}:
		default:
		}
	}
	return fmt.Errorf("%w: %d bytes in use, %d more would exceed the quota of %d", ErrNoSpace, inUse, cost, quota)
}

// quotaLoop raises and clears this member's NOSPACE alarm (and, on the
// leader, the alarms of departed members) until the Store closes.
func (s *Store) quotaLoop() {
	t := time.NewTicker(quotaCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.quota.kick:
		}
		s.checkQuota()
	}
}

// checkQuota makes one round of quotaLoop.
func (s *Store) checkQuota() {
	self := s.memberID.Load()
	if s.clusterID.Load() == 0 || s.removed.Load() {
		return // not a member (yet, or any more)
	}
	quota := s.quotaBytes()
	_, inUse := s.kv.Size()
	raise := s.quota.raise.Swap(false)
	active := s.fsm.alarmSet().has(self, AlarmNoSpace)
	want := wantNoSpace(quota, inUse, active, raise)
	m := AlarmMember{MemberID: self, Alarm: AlarmNoSpace}
	if want != active {
		if want {
			s.log.Warn("space quota: raising the NOSPACE alarm", "in_use", inUse, "quota", quota)
		} else {
			s.log.Info("space quota: clearing the NOSPACE alarm", "in_use", inUse, "quota", quota)
		}
		if _, err := s.proposeAlarm(want, m); err != nil {
			s.log.Warn("space quota: alarm change failed; retrying", "raise", want, "err", err)
		}
	}
	if s.IsLeader() {
		s.clearDepartedAlarms()
	}
}

// wantNoSpace is the alarm rule: whether a member's NOSPACE alarm should
// be active, given its quota (0: none), its in-use size, whether the
// alarm is active, and whether a write that did not fit asked for it.
func wantNoSpace(quota, inUse int64, active, asked bool) bool {
	switch {
	case quota == 0:
		return false // no quota (perhaps since a restart): an old alarm clears
	case active:
		return inUse > lowWater(quota)
	default:
		return inUse > quota || (asked && inUse > lowWater(quota))
	}
}

// clearDepartedAlarms clears the alarms of members no longer in the
// cluster: nothing else would.
func (s *Store) clearDepartedAlarms() {
	alarms := s.fsm.alarmSet()
	if len(alarms) == 0 {
		return
	}
	views, err := s.memberViews()
	if err != nil {
		return
	}
	for _, m := range alarms {
		if findMember(views, m.MemberID) != nil {
			continue
		}
		s.log.Info("clearing the alarm of a departed member", "alarm", m.String())
		if _, err := s.proposeAlarm(false, m); err != nil {
			s.log.Warn("clearing a departed member's alarm failed", "alarm", m.String(), "err", err)
		}
	}
}

// proposeAlarm raises or clears m within a bounded time, for the quota
// loop: a change that fails is made again at its next round.
func (s *Store) proposeAlarm(raise bool, m AlarmMember) (*AlarmResponse, error) {
	ctx, cancel := context.WithTimeout(s.stopCtx, 2*s.cfg.ElectionTimeout)
	defer cancel()
	return s.changeAlarm(ctx, raise, m)
}
