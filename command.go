package keel

import (
	"encoding/binary"
	"errors"
	"fmt"
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
}

// leaseCheckpoint carries a lease's remaining TTL from the leader to every
// member, so a new leader continues from it instead of the full TTL.
type leaseCheckpoint struct {
	id        LeaseID
	remaining int64 // milliseconds
}

func encodeLeaseGrantCommand(id LeaseID, ttl int64) []byte {
	e := newCommand(cmdLeaseGrant, 24)
	e.varint(int64(id))
	e.varint(ttl)
	return e.b
}

func encodeLeaseRevokeCommand(id LeaseID) []byte {
	e := newCommand(cmdLeaseRevoke, 16)
	e.varint(int64(id))
	return e.b
}

func encodeLeaseCheckpointCommand(cps []leaseCheckpoint) []byte {
	e := newCommand(cmdLeaseCheckpoint, 8+16*len(cps))
	e.uvarint(uint64(len(cps)))
	for _, cp := range cps {
		e.varint(int64(cp.id))
		e.varint(cp.remaining)
	}
	return e.b
}

func encodeCompactCommand(rev int64, physical bool) []byte {
	e := newCommand(cmdCompact, 16)
	e.varint(rev)
	e.bool(physical)
	return e.b
}

func encodeNoop() []byte { return newCommand(cmdNoop, 0).b }

// commandHeader is the size of version, kind and reqID.
const commandHeader = 10

// newCommand starts a command of the given kind with a zero reqID.
func newCommand(kind byte, bodyHint int) encoder {
	e := encoder{b: make([]byte, commandHeader, commandHeader+bodyHint)}
	e.b[0], e.b[1] = commandVersion, kind
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
	}
	return encodeNoop()
}

// encodeOpCommand encodes op as a replicated command.
func encodeOpCommand(op *Op) []byte {
	e := newCommand(cmdOp, 64+len(op.key)+len(op.val))
	encodeOp(&e, op)
	return e.b
}

// decodeCommand decodes a replicated command. The keys, values and range
// ends of its ops and compares alias b (no copies on the apply path), so b
// must not change while the command is used; a raft entry's Data never
// does, and the mvcc store copies what it keeps.
func decodeCommand(b []byte) (command, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != commandVersion {
		return command{}, fmt.Errorf("%w: unknown command version %d", ErrCorruptCommand, v)
	}
	c := command{kind: d.byte()}
	if d.err == nil && len(d.b) < 8 {
		d.fail("request id")
	}
	if d.err == nil {
		c.reqID = binary.BigEndian.Uint64(d.b[:8])
		d.b = d.b[8:]
	}
	switch c.kind {
	case cmdOp:
		c.op = decodeOp(&d, 0)
	case cmdNoop:
	case cmdCompact:
		c.rev, c.physical = d.varint(), d.bool()
	case cmdLeaseGrant:
		c.leaseID, c.ttl = LeaseID(d.varint()), d.varint()
	case cmdLeaseRevoke:
		c.leaseID = LeaseID(d.varint())
	case cmdLeaseCheckpoint:
		if n := d.count(2); n > 0 {
			c.checkpoints = make([]leaseCheckpoint, n)
			for i := range c.checkpoints {
				c.checkpoints[i] = leaseCheckpoint{id: LeaseID(d.varint()), remaining: d.varint()}
			}
		}
	default:
		d.fail("command kind")
	}
	return c, d.done()
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

func encodeOp(e *encoder, op *Op) {
	e.byte(byte(op.t))
	switch op.t {
	case tRange:
		e.bytes(op.key)
		e.bytes(op.end)
		e.varint(op.limit)
		e.varint(op.rev)
		e.byte(byte(op.sortTarget))
		e.byte(byte(op.sortOrder))
		e.byte(flags(op.serializable, op.keysOnly, op.countOnly))
		e.varint(op.minModRev)
		e.varint(op.maxModRev)
		e.varint(op.minCreateRev)
		e.varint(op.maxCreateRev)
	case tPut:
		e.bytes(op.key)
		e.bytes(op.val)
		e.varint(int64(op.leaseID))
		e.byte(flags(op.prevKV, op.ignoreValue, op.ignoreLease))
	case tDeleteRange:
		e.bytes(op.key)
		e.bytes(op.end)
		e.byte(flags(op.prevKV))
	case tTxn:
		e.uvarint(uint64(len(op.cmps)))
		for i := range op.cmps {
			encodeCmp(e, &op.cmps[i])
		}
		for _, ops := range [][]Op{op.thenOps, op.elseOps} {
			e.uvarint(uint64(len(ops)))
			for i := range ops {
				encodeOp(e, &ops[i])
			}
		}
	}
}

func decodeFlags(d *decoder, max byte) byte {
	f := d.byte()
	if f >= 1<<max {
		d.fail("flags")
	}
	return f
}

func decodeOp(d *decoder, depth int) Op {
	var op Op
	op.t = opType(d.byte())
	switch op.t {
	case tRange:
		op.key, op.end = d.view(), d.view()
		op.limit, op.rev = d.varint(), d.varint()
		op.sortTarget, op.sortOrder = SortTarget(d.byte()), SortOrder(d.byte())
		if op.sortTarget > SortByValue || op.sortOrder > SortDescend {
			d.fail("sort")
		}
		f := decodeFlags(d, 3)
		op.serializable, op.keysOnly, op.countOnly = f&1 != 0, f&2 != 0, f&4 != 0
		op.minModRev, op.maxModRev = d.varint(), d.varint()
		op.minCreateRev, op.maxCreateRev = d.varint(), d.varint()
	case tPut:
		op.key, op.val = d.view(), d.view()
		op.leaseID = LeaseID(d.varint())
		f := decodeFlags(d, 3)
		op.prevKV, op.ignoreValue, op.ignoreLease = f&1 != 0, f&2 != 0, f&4 != 0
	case tDeleteRange:
		op.key, op.end = d.view(), d.view()
		op.prevKV = decodeFlags(d, 1)&1 != 0
	case tTxn:
		if depth >= maxTxnDepth {
			d.fail("txn nesting")
			return op
		}
		if n := d.count(4); n > 0 {
			op.cmps = make([]Cmp, n)
			for i := range op.cmps {
				op.cmps[i] = decodeCmp(d)
			}
		}
		op.thenOps = decodeOps(d, depth)
		op.elseOps = decodeOps(d, depth)
	default:
		d.fail("op type")
	}
	return op
}

func decodeOps(d *decoder, depth int) []Op {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = decodeOp(d, depth+1)
		if d.err != nil {
			return nil
		}
	}
	return ops
}

func encodeCmp(e *encoder, c *Cmp) {
	e.bytes(c.key)
	e.bytes(c.end)
	e.byte(byte(c.target))
	e.byte(byte(c.result))
	if c.target == CompareValue {
		e.bytes(c.value)
	} else {
		e.varint(c.intValue)
	}
}

func decodeCmp(d *decoder) Cmp {
	c := Cmp{key: d.view(), end: d.view(), target: CompareTarget(d.byte()), result: CompareResult(d.byte())}
	if c.target > CompareLease || c.result > CompareNotEqual {
		d.fail("compare")
	}
	if c.target == CompareValue {
		c.value = d.view()
		if c.value == nil {
			c.value = []byte{}
		}
	} else {
		c.intValue = d.varint()
	}
	return c
}

// Result format, sent from the leader to a follower that forwarded a
// write:
//
//	result = code:byte (0: ok, then response; else an error code, and for
//	         codeOther a message:bytes)
//	response = type:byte(1 put|2 get|3 delete|4 txn) fields
//	put    = rev:varint hasPrev:bool [kv]
//	get    = rev:varint count:varint more:bool n:uvarint kv*n
//	delete = rev:varint deleted:varint n:uvarint kv*n
//	txn    = rev:varint succeeded:bool n:uvarint response*n
//	compact (type 5) = rev:varint
//	lease grant (type 6) = rev:varint id:varint ttl:varint
//	lease revoke (type 7) = rev:varint
//	kv     = key value create:varint mod:varint version:varint lease:varint
//
// Only the header revision travels; the serving member fills in the rest
// of the header.

// errorCodes maps the errors that cross the wire to stable codes. Code 0
// means success; codeOther carries any other error as text.
var errorCodes = []error{
	1:  ErrKeyNotFound,
	2:  ErrLeaseNotFound,
	3:  ErrCompacted,
	4:  ErrFutureRev,
	5:  ErrValueProvided,
	6:  ErrLeaseProvided,
	7:  ErrTooManyOps,
	8:  ErrDuplicateKey,
	9:  ErrRequestTooLarge,
	10: ErrEmptyKey,
	11: ErrInvalidOption,
	12: ErrCorruptCommand,
	13: ErrTimeout,
	14: ErrStopped,
	15: ErrNoLeader,
	16: ErrNotLeader,
	17: ErrLeaseExists,
	18: ErrLeaseTTLTooLarge,
}

const codeOther = 255

func encodeError(e *encoder, err error) {
	for code, target := range errorCodes {
		if target != nil && errors.Is(err, target) {
			e.byte(byte(code))
			return
		}
	}
	e.byte(codeOther)
	e.bytes([]byte(err.Error()))
}

// decodeError reads an error code; it returns nil for code 0.
func decodeError(d *decoder, code byte) error {
	switch {
	case code == 0:
		return nil
	case code == codeOther:
		return fmt.Errorf("keel: remote error: %s", d.bytes())
	case int(code) < len(errorCodes) && errorCodes[code] != nil:
		return errorCodes[code]
	}
	d.fail("error code")
	return d.err
}

func encodeResult(res *applyResult) []byte {
	e := encoder{b: make([]byte, 0, 64)}
	if res.err != nil {
		encodeError(&e, res.err)
		return e.b
	}
	e.byte(0)
	switch {
	case res.compact != nil:
		e.byte(tCompactResult)
		e.varint(res.compact.Header.Revision)
	case res.grant != nil:
		e.byte(tGrantResult)
		e.varint(res.grant.Header.Revision)
		e.varint(int64(res.grant.ID))
		e.varint(res.grant.TTL)
	case res.revoke != nil:
		e.byte(tRevokeResult)
		e.varint(res.revoke.Header.Revision)
	default:
		encodeResponse(&e, res.resp)
	}
	return e.b
}

// Result types that follow the op types.
const (
	tCompactResult = 5
	tGrantResult   = 6
	tRevokeResult  = 7
)

func decodeResult(b []byte) (*applyResult, error) {
	d := decoder{b: b}
	code := d.byte()
	res := &applyResult{}
	switch {
	case code != 0:
		res.err = decodeError(&d, code)
	case len(d.b) > 0 && d.b[0] == tCompactResult:
		d.byte()
		res.compact = &CompactResponse{Header: &ResponseHeader{Revision: d.varint()}}
	case len(d.b) > 0 && d.b[0] == tGrantResult:
		d.byte()
		res.grant = &LeaseGrantResponse{Header: &ResponseHeader{Revision: d.varint()}, ID: LeaseID(d.varint()), TTL: d.varint()}
	case len(d.b) > 0 && d.b[0] == tRevokeResult:
		d.byte()
		res.revoke = &LeaseRevokeResponse{Header: &ResponseHeader{Revision: d.varint()}}
	default:
		res.resp = decodeResponse(&d, 0)
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return res, nil
}

func encodeResponse(e *encoder, r OpResponse) {
	switch {
	case r.put != nil:
		e.byte(byte(tPut))
		e.varint(r.put.Header.Revision)
		e.bool(r.put.PrevKv != nil)
		if r.put.PrevKv != nil {
			encodeKV(e, r.put.PrevKv)
		}
	case r.get != nil:
		e.byte(byte(tRange))
		e.varint(r.get.Header.Revision)
		e.varint(r.get.Count)
		e.bool(r.get.More)
		encodeKVs(e, r.get.Kvs)
	case r.del != nil:
		e.byte(byte(tDeleteRange))
		e.varint(r.del.Header.Revision)
		e.varint(r.del.Deleted)
		encodeKVs(e, r.del.PrevKvs)
	case r.txn != nil:
		e.byte(byte(tTxn))
		e.varint(r.txn.Header.Revision)
		e.bool(r.txn.Succeeded)
		e.uvarint(uint64(len(r.txn.Responses)))
		for _, sub := range r.txn.Responses {
			encodeResponse(e, sub)
		}
	}
}

func decodeResponse(d *decoder, depth int) OpResponse {
	t := opType(d.byte())
	rev := d.varint()
	h := &ResponseHeader{Revision: rev}
	switch t {
	case tPut:
		r := &PutResponse{Header: h}
		if d.bool() {
			r.PrevKv = decodeKV(d)
		}
		return OpResponse{put: r}
	case tRange:
		r := &GetResponse{Header: h, Count: d.varint(), More: d.bool()}
		r.Kvs = decodeKVs(d)
		return OpResponse{get: r}
	case tDeleteRange:
		r := &DeleteResponse{Header: h, Deleted: d.varint()}
		r.PrevKvs = decodeKVs(d)
		return OpResponse{del: r}
	case tTxn:
		r := &TxnResponse{Header: h, Succeeded: d.bool()}
		if depth >= maxTxnDepth {
			d.fail("txn nesting")
			return OpResponse{}
		}
		n := d.count(2)
		for i := 0; i < n && d.err == nil; i++ {
			r.Responses = append(r.Responses, decodeResponse(d, depth+1))
		}
		return OpResponse{txn: r}
	}
	d.fail("response type")
	return OpResponse{}
}

func encodeKVs(e *encoder, kvs []*KeyValue) {
	e.uvarint(uint64(len(kvs)))
	for _, kv := range kvs {
		encodeKV(e, kv)
	}
}

func decodeKVs(d *decoder) []*KeyValue {
	n := d.count(6)
	if n == 0 {
		return nil
	}
	kvs := make([]*KeyValue, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		kvs = append(kvs, decodeKV(d))
	}
	return kvs
}

func encodeKV(e *encoder, kv *KeyValue) {
	e.bytes(kv.Key)
	e.bytes(kv.Value)
	e.varint(kv.CreateRevision)
	e.varint(kv.ModRevision)
	e.varint(kv.Version)
	e.varint(kv.Lease)
}

func decodeKV(d *decoder) *KeyValue {
	return &KeyValue{
		Key: d.bytes(), Value: d.bytes(),
		CreateRevision: d.varint(), ModRevision: d.varint(),
		Version: d.varint(), Lease: d.varint(),
	}
}
