package keel

import (
	"encoding/binary"
	"fmt"

	"github.com/keeldb/keel/internal/wire"
)

// Replicated command format (version 1). Every raft log entry Keel
// proposes is one command:
//
//	command = version:byte(1) kind:byte reqID:8 bytes big-endian body
//
// reqID identifies the proposal on the member that proposed it (0 when
// nobody waits): that member's FSM hands the entry's result to the waiting
// caller by it. Other members ignore it.
//
//	kind 1 (cmdOp)   body = op
//	kind 2 (cmdNoop) body = (empty)   a leader's first entry of its term
//	kind 3 (cmdCompact) body = rev:varint physical:bool
//	kind 4 (cmdLeaseGrant) body = id:varint ttl:varint
//	kind 5 (cmdLeaseRevoke) body = id:varint
//	kind 6 (cmdLeaseCheckpoint) body = n:uvarint (id:varint remainingMillis:varint)*n
//	kind 7 (cmdMember) body = base:uvarint state:bytes   the member records
//	                   (membership.go), if they were last set at index base
//	kind 8 (cmdAlarm)  body = action:byte(1 activate|2 deactivate)
//	                   member:uvarint type:byte(1 NOSPACE|2 CORRUPT)
//	                   raises or clears one alarm (apply_alarm.go)
//
//	op    = type:byte(1 range|2 put|3 delete|4 txn) fields
//	range = key end limit:varint rev:varint sortTarget:byte sortOrder:byte
//	        flags:byte(1 serializable|2 keysOnly|4 countOnly)
//	        minMod:varint maxMod:varint minCreate:varint maxCreate:varint
//	put   = key value lease:varint flags:byte(1 prevKV|2 ignoreValue|4 ignoreLease)
//	delete= key end flags:byte(1 prevKV)
//	txn   = n:uvarint cmp*n  n:uvarint op*n (then)  n:uvarint op*n (else)
//	cmp   = key end target:byte result:byte (value:bytes | int:varint)
//
// bytes are a uvarint length followed by the bytes. Decoding rejects
// unknown versions, kinds and types, trailing bytes, lengths beyond the
// input and transactions nested deeper than maxTxnDepth, with
// ErrCorruptCommand.
const (
	commandVersion = 1

	cmdOp      = 1
	cmdNoop    = 2
	cmdCompact = 3

	cmdLeaseGrant      = 4
	cmdLeaseRevoke     = 5
	cmdLeaseCheckpoint = 6

	cmdMember = 7
	cmdAlarm  = 8

	maxTxnDepth = 32
)

// command is a decoded log entry.
type command struct {
	kind     byte
	reqID    uint64
	op       Op    // cmdOp
	rev      int64 // cmdCompact
	physical bool  // cmdCompact: the proposer waits for physical removal

	leaseID     LeaseID           // cmdLeaseGrant, cmdLeaseRevoke
	ttl         int64             // cmdLeaseGrant, seconds
	checkpoints []leaseCheckpoint // cmdLeaseCheckpoint

	base    uint64       // cmdMember: index of the state it replaces
	members clusterState // cmdMember

	raise bool        // cmdAlarm: activate (else deactivate)
	alarm AlarmMember // cmdAlarm
}

// leaseCheckpoint carries a lease's remaining TTL from the leader to every
// member, so a new leader continues from it instead of the full TTL.
type leaseCheckpoint struct {
	id        LeaseID
	remaining int64 // milliseconds
}

func encodeLeaseGrantCommand(id LeaseID, ttl int64) []byte {
	e := newCommand(cmdLeaseGrant, 24)
	e.Varint(int64(id))
	e.Varint(ttl)
	return e.Buf
}

func encodeLeaseRevokeCommand(id LeaseID) []byte {
	e := newCommand(cmdLeaseRevoke, 16)
	e.Varint(int64(id))
	return e.Buf
}

func encodeLeaseCheckpointCommand(cps []leaseCheckpoint) []byte {
	e := newCommand(cmdLeaseCheckpoint, 8+16*len(cps))
	e.Uvarint(uint64(len(cps)))
	for _, cp := range cps {
		e.Varint(int64(cp.id))
		e.Varint(cp.remaining)
	}
	return e.Buf
}

func encodeMemberCommand(base uint64, cs *clusterState) []byte {
	state := cs.encode()
	e := newCommand(cmdMember, 16+len(state))
	e.Uvarint(base)
	e.Bytes(state)
	return e.Buf
}

func encodeAlarmCommand(raise bool, m AlarmMember) []byte {
	e := newCommand(cmdAlarm, 12)
	if raise {
		e.Byte(alarmActivate)
	} else {
		e.Byte(alarmDeactivate)
	}
	e.Uvarint(m.MemberID)
	e.Byte(byte(m.Alarm))
	return e.Buf
}

func encodeCompactCommand(rev int64, physical bool) []byte {
	e := newCommand(cmdCompact, 16)
	e.Varint(rev)
	e.Bool(physical)
	return e.Buf
}

func encodeNoop() []byte { return newCommand(cmdNoop, 0).Buf }

// commandHeader is the size of version, kind and reqID.
const commandHeader = 10

// newCommand starts a command of the given kind with a zero reqID.
func newCommand(kind byte, bodyHint int) wire.Encoder {
	e := wire.Encoder{Buf: make([]byte, commandHeader, commandHeader+bodyHint)}
	e.Buf[0], e.Buf[1] = commandVersion, kind
	return e
}

// withReqID returns a copy of the encoded command cmd carrying reqID.
func withReqID(cmd []byte, reqID uint64) []byte {
	out := append([]byte(nil), cmd...)
	if len(out) >= commandHeader {
		binary.BigEndian.PutUint64(out[2:commandHeader], reqID)
	}
	return out
}

// encode re-encodes a decoded command.
func (c *command) encode() []byte {
	return withReqID(c.encodeBody(), c.reqID)
}

func (c *command) encodeBody() []byte {
	switch c.kind {
	case cmdOp:
		return encodeOpCommand(&c.op)
	case cmdCompact:
		return encodeCompactCommand(c.rev, c.physical)
	case cmdLeaseGrant:
		return encodeLeaseGrantCommand(c.leaseID, c.ttl)
	case cmdLeaseRevoke:
		return encodeLeaseRevokeCommand(c.leaseID)
	case cmdLeaseCheckpoint:
		return encodeLeaseCheckpointCommand(c.checkpoints)
	case cmdMember:
		return encodeMemberCommand(c.base, &c.members)
	case cmdAlarm:
		return encodeAlarmCommand(c.raise, c.alarm)
	}
	return encodeNoop()
}

// encodeOpCommand encodes op as a replicated command.
func encodeOpCommand(op *Op) []byte {
	e := newCommand(cmdOp, 64+len(op.key)+len(op.val))
	encodeOp(&e, op)
	return e.Buf
}

// decodeCommand decodes a replicated command. The keys, values and range
// ends of its ops and compares alias b (no copies on the apply path), so b
// must not change while the command is used; a raft entry's Data never
// does, and the mvcc store copies what it keeps.
func decodeCommand(b []byte) (command, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	if v := d.Byte(); d.Err() == nil && v != commandVersion {
		return command{}, fmt.Errorf("%w: unknown command version %d", ErrCorruptCommand, v)
	}
	c := command{kind: d.Byte()}
	if id := d.Next(8); d.Err() == nil {
		c.reqID = binary.BigEndian.Uint64(id)
	}
	switch c.kind {
	case cmdOp:
		c.op = decodeOp(d, 0)
	case cmdNoop:
	case cmdCompact:
		c.rev, c.physical = d.Varint(), d.Bool()
	case cmdLeaseGrant:
		c.leaseID, c.ttl = LeaseID(d.Varint()), d.Varint()
	case cmdLeaseRevoke:
		c.leaseID = LeaseID(d.Varint())
	case cmdLeaseCheckpoint:
		if n := d.Count(2); n > 0 {
			c.checkpoints = make([]leaseCheckpoint, n)
			for i := range c.checkpoints {
				c.checkpoints[i] = leaseCheckpoint{id: LeaseID(d.Varint()), remaining: d.Varint()}
			}
		}
	case cmdMember:
		c.base = d.Uvarint()
		if state := d.Bytes(); d.Err() == nil && len(state) == 0 {
			d.Fail("empty member state") // encodes as a whole state, never empty
		} else if d.Err() == nil {
			cs, err := decodeClusterState(state)
			if err != nil {
				return command{}, err
			}
			c.members = cs
		}
	case cmdAlarm:
		switch d.Byte() {
		case alarmActivate:
			c.raise = true
		case alarmDeactivate:
		default:
			d.Fail("unknown alarm action")
		}
		c.alarm = AlarmMember{MemberID: d.Uvarint(), Alarm: decodeAlarmType(d)}
	default:
		d.Fail("unknown command kind")
	}
	return c, d.Finish()
}

func flags(bits ...bool) byte {
	var f byte
	for i, b := range bits {
		if b {
			f |= 1 << i
		}
	}
	return f
}

func encodeOp(e *wire.Encoder, op *Op) {
	e.Byte(byte(op.t))
	switch op.t {
	case tRange:
		e.Bytes(op.key)
		e.Bytes(op.end)
		e.Varint(op.limit)
		e.Varint(op.rev)
		e.Byte(byte(op.sortTarget))
		e.Byte(byte(op.sortOrder))
		e.Byte(flags(op.serializable, op.keysOnly, op.countOnly))
		e.Varint(op.minModRev)
		e.Varint(op.maxModRev)
		e.Varint(op.minCreateRev)
		e.Varint(op.maxCreateRev)
	case tPut:
		e.Bytes(op.key)
		e.Bytes(op.val)
		e.Varint(int64(op.leaseID))
		e.Byte(flags(op.prevKV, op.ignoreValue, op.ignoreLease))
	case tDeleteRange:
		e.Bytes(op.key)
		e.Bytes(op.end)
		e.Byte(flags(op.prevKV))
	case tTxn:
		e.Uvarint(uint64(len(op.cmps)))
		for i := range op.cmps {
			encodeCmp(e, &op.cmps[i])
		}
		for _, ops := range [][]Op{op.thenOps, op.elseOps} {
			e.Uvarint(uint64(len(ops)))
			for i := range ops {
				encodeOp(e, &ops[i])
			}
		}
	}
}

func decodeFlags(d *wire.Decoder, max byte) byte {
	f := d.Byte()
	if f >= 1<<max {
		d.Fail("unknown flags")
	}
	return f
}

func decodeOp(d *wire.Decoder, depth int) Op {
	var op Op
	op.t = opType(d.Byte())
	switch op.t {
	case tRange:
		op.key, op.end = d.View(), d.View()
		op.limit, op.rev = d.Varint(), d.Varint()
		op.sortTarget, op.sortOrder = SortTarget(d.Byte()), SortOrder(d.Byte())
		if op.sortTarget > SortByValue || op.sortOrder > SortDescend {
			d.Fail("sort target or order out of range")
		}
		f := decodeFlags(d, 3)
		op.serializable, op.keysOnly, op.countOnly = f&1 != 0, f&2 != 0, f&4 != 0
		op.minModRev, op.maxModRev = d.Varint(), d.Varint()
		op.minCreateRev, op.maxCreateRev = d.Varint(), d.Varint()
	case tPut:
		op.key, op.val = d.View(), d.View()
		op.leaseID = LeaseID(d.Varint())
		f := decodeFlags(d, 3)
		op.prevKV, op.ignoreValue, op.ignoreLease = f&1 != 0, f&2 != 0, f&4 != 0
	case tDeleteRange:
		op.key, op.end = d.View(), d.View()
		op.prevKV = decodeFlags(d, 1)&1 != 0
	case tTxn:
		if depth >= maxTxnDepth {
			d.Fail("txn nested too deep")
			return op
		}
		n := d.Count(minCmpSize)
		for i := 0; i < n && d.Err() == nil; i++ {
			op.cmps = append(grown(op.cmps, n), decodeCmp(d))
		}
		op.thenOps = decodeOps(d, depth)
		op.elseOps = decodeOps(d, depth)
	default:
		d.Fail("unknown op type")
	}
	return op
}

// Smallest encodings, for the counts of a txn's compares and ops: a
// compare is two empty byte strings, two bytes and a one-byte value; an op
// is at least a type byte and three one-byte fields (a delete, or a txn of
// three empty lists).
const (
	minCmpSize = 5
	minOpSize  = 4
)

// decodePrealloc is the most elements a decoder allocates for a count
// before it has decoded any.
const decodePrealloc = 16

// grown returns s, or a copy with room for more when it is full, for a
// slice being filled to n elements as they decode: the capacity doubles
// from decodePrealloc up to n, so that allocation follows what decodes,
// not what the count claims. A count is only a claim and an Op is 66 times
// its smallest encoding (264 bytes against 4): allocating whole counts up
// front let each of a forged txn's 32 nesting levels cost 66 times the
// input's size.
func grown[T any](s []T, n int) []T {
	if len(s) < cap(s) {
		return s
	}
	g := make([]T, len(s), min(n, max(2*cap(s), decodePrealloc)))
	copy(g, s)
	return g
}

func decodeOps(d *wire.Decoder, depth int) []Op {
	n := d.Count(minOpSize)
	var ops []Op
	for range n {
		ops = append(grown(ops, n), decodeOp(d, depth+1))
		if d.Err() != nil {
			return nil
		}
	}
	return ops
}

func encodeCmp(e *wire.Encoder, c *Cmp) {
	e.Bytes(c.key)
	e.Bytes(c.end)
	e.Byte(byte(c.target))
	e.Byte(byte(c.result))
	if c.target == CompareValue {
		e.Bytes(c.value)
	} else {
		e.Varint(c.intValue)
	}
}

func decodeCmp(d *wire.Decoder) Cmp {
	c := Cmp{key: d.View(), end: d.View(), target: CompareTarget(d.Byte()), result: CompareResult(d.Byte())}
	if c.target > CompareLease || c.result > CompareNotEqual {
		d.Fail("compare target or result out of range")
	}
	if c.target == CompareValue {
		c.value = d.View()
		if c.value == nil {
			c.value = []byte{}
		}
	} else {
		c.intValue = d.Varint()
	}
	return c
}
