package keel

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/keeldb/keel/internal/wire"
	"github.com/keeldb/keel/mvcc"
)

// Alarms are replicated state, kept in the key-value database beside the
// data (mvcc's alarm state), so that they are in every snapshot and obey
// the consistent-index rule. A cmdAlarm raises or clears one alarm:
//
//	alarmState = version:byte(1) n:uvarint alarm*n (sorted by member, then type)
//	alarm      = member:uvarint type:byte(1 NOSPACE|2 CORRUPT)
//
// Decoding rejects unknown versions and types, AlarmNone, alarms out of
// order or repeated, and trailing bytes, with ErrCorruptCommand.
const alarmStateVersion = 1

// alarmSet is the set of active alarms, sorted by member then type. It is
// never modified in place: changes return a new set, so the FSM can
// publish it to readers through an atomic pointer.
type alarmSet []AlarmMember

func compareAlarms(a, b AlarmMember) int {
	if c := cmp.Compare(a.MemberID, b.MemberID); c != 0 {
		return c
	}
	return cmp.Compare(a.Alarm, b.Alarm)
}

// has reports whether alarm t is active for member id.
func (as alarmSet) has(id uint64, t AlarmType) bool {
	_, ok := slices.BinarySearchFunc(as, AlarmMember{MemberID: id, Alarm: t}, compareAlarms)
	return ok
}

// any reports whether alarm t is active for some member.
func (as alarmSet) any(t AlarmType) bool {
	return slices.ContainsFunc(as, func(m AlarmMember) bool { return m.Alarm == t })
}

// with returns the set with m added, and whether that changed it. Adding
// AlarmNone changes nothing.
func (as alarmSet) with(m AlarmMember) (alarmSet, bool) {
	i, ok := slices.BinarySearchFunc(as, m, compareAlarms)
	if ok || m.Alarm == AlarmNone {
		return as, false
	}
	return slices.Insert(slices.Clone(as), i, m), true
}

// without returns the set with m removed, and whether that changed it.
func (as alarmSet) without(m AlarmMember) (alarmSet, bool) {
	i, ok := slices.BinarySearchFunc(as, m, compareAlarms)
	if !ok {
		return as, false
	}
	return slices.Delete(slices.Clone(as), i, i+1), true
}

// public returns the API's copies of the alarms.
func (as alarmSet) public() []*AlarmMember {
	out := make([]*AlarmMember, len(as))
	for i, m := range as {
		out[i] = &m
	}
	return out
}

func (as alarmSet) encode() []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 2+8*len(as))}
	e.Byte(alarmStateVersion)
	encodeAlarmList(&e, as)
	return e.Buf
}

// decodeAlarmSet decodes the stored alarm state (empty: no alarms).
func decodeAlarmSet(b []byte) (alarmSet, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := wire.NewDecoder(b, ErrCorruptCommand)
	if v := d.Byte(); v != alarmStateVersion && d.Err() == nil {
		d.Fail(fmt.Sprintf("alarm state version %d", v))
	}
	as := decodeAlarmList(d)
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return as, nil
}

// encodeAlarmList writes n:uvarint alarm*n (the alarm state's list, also
// the body of an alarm result).
func encodeAlarmList(e *wire.Encoder, as []AlarmMember) {
	e.Uvarint(uint64(len(as)))
	for _, m := range as {
		e.Uvarint(m.MemberID)
		e.Byte(byte(m.Alarm))
	}
}

// decodeAlarmList reads what encodeAlarmList wrote: sorted, no repeats.
func decodeAlarmList(d *wire.Decoder) alarmSet {
	n := d.Count(2)
	var as alarmSet
	for range n {
		m := AlarmMember{MemberID: d.Uvarint(), Alarm: decodeAlarmType(d)}
		if d.Err() != nil {
			return nil
		}
		if len(as) > 0 && compareAlarms(as[len(as)-1], m) >= 0 {
			d.Fail("alarms out of order")
			return nil
		}
		as = append(as, m)
	}
	return as
}

// decodeAlarmType reads an alarm type: NOSPACE or CORRUPT.
func decodeAlarmType(d *wire.Decoder) AlarmType {
	t := AlarmType(d.Byte())
	if d.Err() == nil && (t < AlarmNoSpace || t > AlarmCorrupt) {
		d.Fail("unknown alarm type")
	}
	return t
}

// Alarm actions of a cmdAlarm.
const (
	alarmActivate   = 1
	alarmDeactivate = 2
)

// applyAlarm raises (activate) or clears alarm m in cur at raft index idx
// and returns the result and the new set. The result lists m if the set
// changed, and nothing if m was already in that state, as etcd answers.
func applyAlarm(kv *mvcc.Store, idx uint64, cur alarmSet, activate bool, m AlarmMember) (*applyResult, alarmSet) {
	tw := kv.Write(idx)
	defer tw.End()
	next, changed := cur.without(m)
	if activate {
		next, changed = cur.with(m)
	}
	res := &applyResult{alarm: &AlarmResponse{Header: &ResponseHeader{Revision: kv.Rev()}, Alarms: []*AlarmMember{}}}
	if changed {
		tw.SetAlarms(next.encode())
		res.alarm.Alarms = append(res.alarm.Alarms, &m)
	}
	return res, next
}

// addsData reports whether c, applied to kv's current state, would add
// data: a put, a txn whose executed branch (nested txns included) puts,
// or a lease grant. These are what a NOSPACE alarm refuses, as etcd's
// capped applier does; a txn whose compares send it to a branch without
// puts still runs. A txn whose compares cannot be evaluated is left to
// apply, which reports the error.
func addsData(kv *mvcc.Store, c *command) bool {
	switch c.kind {
	case cmdLeaseGrant:
		return true
	case cmdOp:
		switch c.op.t {
		case tPut:
			return true
		case tTxn:
			p, err := computePath(pinned{kv: kv, rev: kv.Rev()}, &c.op)
			return err == nil && pathPuts(&c.op, p)
		}
	}
	return false
}

// pathPuts reports whether the branches p chooses in op contain a put.
func pathPuts(op *Op, p *txnPath) bool {
	next := 0
	for i := range p.branch(op) {
		sub := &p.branch(op)[i]
		switch sub.t {
		case tPut:
			return true
		case tTxn:
			if pathPuts(sub, p.children[next]) {
				return true
			}
			next++
		}
	}
	return false
}
