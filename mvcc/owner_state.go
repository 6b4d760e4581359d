package mvcc

import bolt "go.etcd.io/bbolt"

// Owner state: small values the owner (Keel) encodes and keeps beside the
// data, such as its membership records and its alarms. Each lives in its
// own slot and meta key. A slot set in a write txn becomes visible at End
// and is committed to bbolt with the txn's consistent index, so it is in
// every snapshot taken after End, is replaced by Restore, and survives a
// crash exactly as the key records do. Owner state makes no revision: it
// is not part of the key space, its history or its hash.

// ownerSlot names one owner value.
type ownerSlot int

const (
	slotCluster ownerSlot = iota // SetClusterState
	slotAlarms                   // SetAlarms
	numOwnerSlots
)

// ownerMetaKeys are the meta keys the slots are stored under; a slot is
// absent until first set.
var ownerMetaKeys = [numOwnerSlots][]byte{slotCluster: metaClusterState, slotAlarms: metaAlarms}

// ownerValue is a slot's value as of the latest ended txn. dirty means the
// next commit writes it; gen counts the sets that ended, so that a commit
// clears dirty only if the value was not replaced meanwhile.
type ownerValue struct {
	val   []byte
	dirty bool
	gen   uint64
}

// ownerWrites holds the slots a write txn set.
type ownerWrites struct {
	val [numOwnerSlots][]byte
	set [numOwnerSlots]bool
}

// setOwner records that the txn sets slot to a copy of v.
func (t *TxnWrite) setOwner(slot ownerSlot, v []byte) {
	t.checkOpen()
	t.owner.val[slot] = append(make([]byte, 0, len(v)), v...)
	t.owner.set[slot] = true
}

// endOwnerLocked makes the txn's owner values visible; s.mu is held.
func (t *TxnWrite) endOwnerLocked() {
	for slot, set := range t.owner.set {
		if set {
			v := &t.s.owner[slot]
			v.val, v.dirty = t.owner.val[slot], true
			v.gen++
		}
	}
}

// getOwner returns a copy of slot's value (nil if never set).
func (s *Store) getOwner(slot ownerSlot) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.owner[slot].val == nil {
		return nil
	}
	return append([]byte{}, s.owner[slot].val...)
}

// loadOwnerLocked sets the slots from a freshly loaded state; s.mu is held (or
// s is owned exclusively).
func (s *Store) loadOwnerLocked(vals [numOwnerSlots][]byte) {
	for slot := range s.owner {
		s.owner[slot] = ownerValue{val: vals[slot]}
	}
}

// putDirtyOwner writes the dirty slots of owner (a copy taken under s.mu)
// into the meta bucket mb of a commit.
func putDirtyOwner(mb *bolt.Bucket, owner *[numOwnerSlots]ownerValue) error {
	for slot, v := range owner {
		if v.dirty {
			if err := mb.Put(ownerMetaKeys[slot], v.val); err != nil {
				return err
			}
		}
	}
	return nil
}

// committedOwnerLocked clears the dirty flags of the slots a commit wrote
// from owner, unless they were set again meanwhile; s.mu is held.
func (s *Store) committedOwnerLocked(owner *[numOwnerSlots]ownerValue) {
	for slot, v := range owner {
		if v.dirty && s.owner[slot].gen == v.gen {
			s.owner[slot].dirty = false
		}
	}
}

// loadOwnerTx reads every slot from the meta bucket mb.
func loadOwnerTx(mb *bolt.Bucket) [numOwnerSlots][]byte {
	var vals [numOwnerSlots][]byte
	for slot, key := range ownerMetaKeys {
		if v := mb.Get(key); v != nil {
			vals[slot] = append([]byte{}, v...)
		}
	}
	return vals
}
