package keel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/wire"
)

// Automatic defragmentation (Config.AutoDefrag). A member with AutoDefrag
// checks its free space every AutoDefragInterval; once it needs
// defragmenting it asks the leader for the cluster's one defragmentation
// slot and defragments only while it holds it. The slot is a lease the
// leader keeps in memory (defragSlot):
//
//   - The leader grants it (msgDefragSlot, slotAcquire) to one member at a
//     time, for slotTTL from the grant, and only after confirming with a
//     quorum that it still leads, in a round that starts after the
//     request arrived.
//   - The holder renews it every slotTTL/5 and releases it when done. It
//     counts its lease from when it sent its last granted request, and
//     for slotTTL/2 only: when that runs out without a renewal (the
//     leader is gone, unreachable, or new and does not know the slot), it
//     cancels its defragmentation, which then stops before its switch
//     (a switch already under way is short and runs to its end).
//   - A leader grants nothing for slotTTL after it first serves a slot
//     request in its term. A slot granted by an earlier leader was
//     granted before this leader was elected (the grant followed a
//     quorum's confirmation, and that quorum shares a member with the one
//     that elected this leader, which answered the confirmation before it
//     voted), so its holder's lease has run out by then.
//
// So two members never defragment automatically at the same time, as long
// as the members' clocks run at about the same rate (they need not
// agree). A holder that crashes keeps the slot for slotTTL at most.
// Explicit Defragment calls do not take the slot: Keel's defragmentation
// does not stop a member, so running several costs only I/O.

// Slot operations (msgDefragSlot's op byte).
const (
	slotAcquire byte = 1
	slotRenew   byte = 2
	slotRelease byte = 3
)

// defragSlot is the leader's record of the cluster's defragmentation slot.
type defragSlot struct {
	mu sync.Mutex
	// lost identifies the leadership the other fields belong to (see
	// leaderState.leading): a new leadership starts with an empty slot.
	lost   <-chan struct{}
	since  time.Time // when this leadership first served a slot request
	holder uint64    // member ID of the holder; 0: none
	until  time.Time // the holder's lease, as the leader counts it
}

// slotTTL is the slot's lease: long enough for several renewals to get
// through a slow network or a failover.
func (s *Store) slotTTL() time.Duration { return 5 * s.cfg.ElectionTimeout }

// autoDefragLoop runs Config.AutoDefrag on this member until Close.
func (s *Store) autoDefragLoop() {
	if !s.cfg.AutoDefrag {
		return
	}
	t := time.NewTicker(s.cfg.AutoDefragInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		size, inUse, err := s.kv.SpaceUsage()
		if err != nil {
			continue // the member is stopping, or the health loop stops it
		}
		if free := size - inUse; free >= s.cfg.AutoDefragMinFree && 2*free >= size {
			s.autoDefrag(size, free)
		}
	}
}

// autoDefrag defragments this member's database while it holds the
// cluster's slot.
func (s *Store) autoDefrag(size, free int64) {
	ttl := s.slotTTL()
	sent := time.Now()
	granted, err := s.callDefragSlot(s.stopCtx, slotAcquire, 2*s.cfg.ElectionTimeout)
	if err != nil || !granted {
		s.log.Debug("auto defrag: no slot", "granted", granted, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(s.stopCtx)
	defer cancel()
	expire := time.AfterFunc(time.Until(sent.Add(ttl/2)), cancel)
	defer expire.Stop()
	var renewer sync.WaitGroup
	renewer.Go(func() {
		t := time.NewTicker(ttl / 5)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			sent := time.Now()
			if ok, _ := s.callDefragSlot(ctx, slotRenew, ttl/5); ok {
				expire.Reset(time.Until(sent.Add(ttl / 2)))
			}
		}
	})
	s.log.Info("auto defrag: starting", "size", size, "free", free)
	resp, err := s.localDefragment(ctx)
	cancel()
	renewer.Wait()
	if err != nil {
		s.log.Warn("auto defrag: failed", "err", err)
	} else {
		s.log.Info("auto defrag: done", "size_before", resp.SizeBefore, "size_after", resp.SizeAfter,
			"duration", resp.Duration, "commit_pause", resp.CommitPause)
	}
	// Logged before the release: the next holder starts after it.
	if _, err := s.callDefragSlot(s.stopCtx, slotRelease, 2*s.cfg.ElectionTimeout); err != nil {
		s.log.Debug("auto defrag: releasing the slot", "err", err) // it expires
	}
}

// callDefragSlot runs a slot operation for this member on the leader,
// within timeout, and reports whether it was granted.
func (s *Store) callDefragSlot(ctx context.Context, op byte, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := encodeSlotRequest(op, s.memberID.Load())
	reply, err := s.callLeader(ctx, req, func(ctx context.Context) ([]byte, error) {
		return s.serveDefragSlot(ctx, req[1:])
	})
	if err != nil {
		return false, err
	}
	return decodeSlotReply(reply)
}

// serveDefragSlot answers msgDefragSlot (payload: the message after its
// type byte); a member that does not lead answers ErrNotLeader.
func (s *Store) serveDefragSlot(ctx context.Context, payload []byte) ([]byte, error) {
	op, member, err := decodeSlotRequest(payload)
	if err != nil {
		return nil, err
	}
	granted, err := s.grantDefragSlot(ctx, op, member)
	return encodeSlotReply(granted, err), nil
}

// grantDefragSlot runs a slot operation on the leader.
func (s *Store) grantDefragSlot(ctx context.Context, op byte, member uint64) (bool, error) {
	lost, leading := s.lead.leading()
	term := s.raft.CurrentTerm()
	if !leading || s.raft.State() != raft.Leader {
		return false, ErrNotLeader
	}
	ds := &s.defragSlot
	// allowed reports whether op may be granted now; ds.mu is held.
	allowed := func(now time.Time) bool {
		if ds.lost != lost {
			ds.lost, ds.since, ds.holder = lost, now, 0
		}
		switch {
		case op == slotRelease:
			if ds.holder == member {
				ds.holder = 0
			}
			return true
		case now.Sub(ds.since) < s.slotTTL():
			return false // an earlier leader's grant may still run
		case op == slotRenew:
			return ds.holder == member
		default:
			return ds.holder == 0 || ds.holder == member || !now.Before(ds.until)
		}
	}
	ds.mu.Lock()
	ok := allowed(time.Now())
	ds.mu.Unlock()
	if !ok || op == slotRelease {
		return ok, nil
	}
	if err := s.confirmLeadership(ctx, term); err != nil {
		return false, err
	}
	if s.raft.State() != raft.Leader || s.raft.CurrentTerm() != term {
		return false, ErrNotLeader
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := time.Now()
	if !allowed(now) { // another member took it while this one confirmed
		return false, nil
	}
	ds.holder, ds.until = member, now.Add(s.slotTTL())
	return true, nil
}

// encodeSlotRequest encodes a msgDefragSlot request.
func encodeSlotRequest(op byte, member uint64) []byte {
	e := wire.Encoder{Buf: []byte{msgDefragSlot, op}}
	e.Uvarint(member)
	return e.Buf
}

// decodeSlotRequest decodes a msgDefragSlot payload (after the type
// byte); errors wrap ErrCorruptCommand.
func decodeSlotRequest(payload []byte) (op byte, member uint64, err error) {
	d := wire.NewDecoder(payload, ErrCorruptCommand)
	op, member = d.Byte(), d.Uvarint()
	if err := d.Finish(); err != nil {
		return 0, 0, err
	}
	if op < slotAcquire || op > slotRelease || member == 0 {
		return 0, 0, fmt.Errorf("%w: defrag slot request op %d member %d", ErrCorruptCommand, op, member)
	}
	return op, member, nil
}

// encodeSlotReply encodes the answer to msgDefragSlot: msgReadIndex's
// reply format, with 1 (granted) or 0 for the index.
func encodeSlotReply(granted bool, err error) []byte {
	var v uint64
	if granted {
		v = 1
	}
	return encodeReadIndexResponse(v, err)
}

// decodeSlotReply decodes the answer to msgDefragSlot.
func decodeSlotReply(b []byte) (bool, error) {
	v, err := decodeReadIndexResponse(b)
	if err == nil && v > 1 {
		return false, fmt.Errorf("%w: defrag slot reply %d", ErrCorruptCommand, v)
	}
	return v == 1, err
}
