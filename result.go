package keel

import (
	"errors"
	"fmt"

	"github.com/keeldb/keel/internal/wire"
)

// Result format: the reply to msgPropose (rpc.go), carrying the
// result of applying a forwarded write from the leader back to the member
// that forwarded it:
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
//	alarm (type 8) = rev:varint n:uvarint (member:uvarint type:byte)*n
//	         the alarms the change raised or cleared (apply_alarm.go)
//	kv     = key value create:varint mod:varint version:varint lease:varint
//
// bytes (key, value, message) are a uvarint length followed by the bytes.
// Only the header revision travels; the serving member fills in the rest
// of the header. The error code (errorCodes) also starts the replies to
// msgReadIndex and the lease messages. Decoding rejects unknown codes and
// types, trailing bytes, lengths and counts beyond the input and
// transactions nested deeper than maxTxnDepth, with ErrCorruptCommand.

// errorCodes maps the errors that cross the wire to stable codes. Code 0
// means success; codeOther carries any other error as text.
var errorCodes = []error{
	1:           ErrKeyNotFound,
	2:           ErrLeaseNotFound,
	3:           ErrCompacted,
	4:           ErrFutureRev,
	5:           ErrValueProvided,
	6:           ErrLeaseProvided,
	7:           ErrTooManyOps,
	8:           ErrDuplicateKey,
	9:           ErrRequestTooLarge,
	10:          ErrEmptyKey,
	11:          ErrInvalidOption,
	12:          ErrCorruptCommand,
	13:          ErrTimeout,
	14:          ErrStopped,
	15:          ErrNoLeader,
	16:          ErrNotLeader,
	17:          ErrLeaseExists,
	18:          ErrLeaseTTLTooLarge,
	19:          ErrMemberNotFound,
	20:          ErrMemberExists,
	21:          ErrPeerURLExists,
	22:          ErrInvalidPeerURL,
	23:          ErrMemberNotLearner,
	24:          ErrLearnerNotReady,
	25:          ErrBadLeaderTransferee,
	26:          ErrUnhealthy,
	27:          ErrChangeInProgress,
	codeRemoved: ErrRemoved,
	29:          ErrJoinRefused,
	30:          ErrNoSpace,
	31:          ErrCorrupt,
	32:          ErrInvalidSortOption,
	33:          ErrTimeoutDueToLeaderFail,
	34:          ErrTimeoutDueToConnectionLost,
	35:          ErrTimeoutWaitAppliedIndex,
	36:          ErrMemberNotEnoughStarted,
}

const codeRemoved = 28

// wrappingCodes are the codes of errors that wrap another error of the
// table (ErrTimeoutDueToLeaderFail wraps ErrTimeout), matched before the
// others so the more specific error survives the trip.
var wrappingCodes = []byte{33, 34, 35, 36}

const codeOther = 255

func encodeError(e *wire.Encoder, err error) {
	for _, code := range wrappingCodes {
		if errors.Is(err, errorCodes[code]) {
			e.Byte(code)
			return
		}
	}
	// Then in code order: the first match wins (ErrTimeout wrapping
	// ErrStopped stays a timeout), except that ErrRemoved, which wraps
	// ErrStopped, keeps its own code.
	if errors.Is(err, ErrRemoved) && !errors.Is(err, ErrTimeout) {
		e.Byte(codeRemoved)
		return
	}
	for code, target := range errorCodes {
		if target != nil && errors.Is(err, target) {
			e.Byte(byte(code))
			return
		}
	}
	e.Byte(codeOther)
	e.Bytes([]byte(err.Error()))
}

// retryableCode reports whether a reply starting with code is a refusal
// that callLeader retries: no leader, not the leader, or a timeout.
func retryableCode(code byte) bool {
	if int(code) >= len(errorCodes) || errorCodes[code] == nil {
		return false
	}
	err := errorCodes[code]
	return err == ErrNotLeader || err == ErrNoLeader || errors.Is(err, ErrTimeout)
}

// decodeError reads an error code; it returns nil for code 0.
func decodeError(d *wire.Decoder, code byte) error {
	switch {
	case code == 0:
		return nil
	case code == codeOther:
		return fmt.Errorf("keel: remote error: %s", d.Bytes())
	case int(code) < len(errorCodes) && errorCodes[code] != nil:
		return errorCodes[code]
	}
	d.Fail("unknown error code")
	return d.Err()
}

func encodeResult(res *applyResult) []byte {
	e := wire.Encoder{Buf: make([]byte, 0, 64)}
	if res.err != nil {
		encodeError(&e, res.err)
		return e.Buf
	}
	e.Byte(0)
	switch {
	case res.compact != nil:
		e.Byte(tCompactResult)
		e.Varint(res.compact.Header.Revision)
	case res.grant != nil:
		e.Byte(tGrantResult)
		e.Varint(res.grant.Revision)
		e.Varint(int64(res.grant.ID))
		e.Varint(res.grant.TTL)
	case res.revoke != nil:
		e.Byte(tRevokeResult)
		e.Varint(res.revoke.Header.Revision)
	case res.alarm != nil:
		e.Byte(tAlarmResult)
		e.Varint(res.alarm.Header.Revision)
		alarms := make([]AlarmMember, len(res.alarm.Alarms))
		for i, m := range res.alarm.Alarms {
			alarms[i] = *m
		}
		encodeAlarmList(&e, alarms)
	default:
		encodeResponse(&e, res.resp)
	}
	return e.Buf
}

// Result types that follow the op types.
const (
	tCompactResult = 5
	tGrantResult   = 6
	tRevokeResult  = 7
	tAlarmResult   = 8
)

func decodeResult(b []byte) (*applyResult, error) {
	d := wire.NewDecoder(b, ErrCorruptCommand)
	code := d.Byte()
	res := &applyResult{}
	next, _ := d.Peek()
	switch {
	case code != 0:
		res.err = decodeError(d, code)
	case next == tCompactResult:
		d.Byte()
		res.compact = &CompactResponse{Header: &ResponseHeader{Revision: d.Varint()}}
	case next == tGrantResult:
		d.Byte()
		res.grant = &LeaseGrantResponse{ResponseHeader: &ResponseHeader{Revision: d.Varint()}, ID: LeaseID(d.Varint()), TTL: d.Varint()}
	case next == tRevokeResult:
		d.Byte()
		res.revoke = &LeaseRevokeResponse{Header: &ResponseHeader{Revision: d.Varint()}}
	case next == tAlarmResult:
		d.Byte()
		res.alarm = &AlarmResponse{Header: &ResponseHeader{Revision: d.Varint()}}
		res.alarm.Alarms = decodeAlarmList(d).public()
	default:
		res.resp = decodeResponse(d, 0)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return res, nil
}

func encodeResponse(e *wire.Encoder, r OpResponse) {
	switch {
	case r.put != nil:
		e.Byte(byte(tPut))
		e.Varint(r.put.Header.Revision)
		e.Bool(r.put.PrevKv != nil)
		if r.put.PrevKv != nil {
			encodeKV(e, r.put.PrevKv)
		}
	case r.get != nil:
		e.Byte(byte(tRange))
		e.Varint(r.get.Header.Revision)
		e.Varint(r.get.Count)
		e.Bool(r.get.More)
		encodeKVs(e, r.get.Kvs)
	case r.del != nil:
		e.Byte(byte(tDeleteRange))
		e.Varint(r.del.Header.Revision)
		e.Varint(r.del.Deleted)
		encodeKVs(e, r.del.PrevKvs)
	case r.txn != nil:
		e.Byte(byte(tTxn))
		e.Varint(r.txn.Header.Revision)
		e.Bool(r.txn.Succeeded)
		e.Uvarint(uint64(len(r.txn.Responses)))
		for _, sub := range r.txn.Responses {
			encodeResponse(e, sub)
		}
	}
}

func decodeResponse(d *wire.Decoder, depth int) OpResponse {
	t := opType(d.Byte())
	rev := d.Varint()
	h := &ResponseHeader{Revision: rev}
	switch t {
	case tPut:
		r := &PutResponse{Header: h}
		if d.Bool() {
			r.PrevKv = decodeKV(d)
		}
		return OpResponse{put: r}
	case tRange:
		r := &GetResponse{Header: h, Count: d.Varint(), More: d.Bool()}
		r.Kvs = decodeKVs(d)
		return OpResponse{get: r}
	case tDeleteRange:
		r := &DeleteResponse{Header: h, Deleted: d.Varint()}
		r.PrevKvs = decodeKVs(d)
		return OpResponse{del: r}
	case tTxn:
		r := &TxnResponse{Header: h, Succeeded: d.Bool()}
		if depth >= maxTxnDepth {
			d.Fail("txn nested too deep")
			return OpResponse{}
		}
		n := d.Count(2)
		for i := 0; i < n && d.Err() == nil; i++ {
			r.Responses = append(r.Responses, decodeResponse(d, depth+1))
		}
		return OpResponse{txn: r}
	}
	d.Fail("unknown response type")
	return OpResponse{}
}

func encodeKVs(e *wire.Encoder, kvs []*KeyValue) {
	e.Uvarint(uint64(len(kvs)))
	for _, kv := range kvs {
		encodeKV(e, kv)
	}
}

func decodeKVs(d *wire.Decoder) []*KeyValue {
	n := d.Count(6)
	if n == 0 {
		return nil
	}
	kvs := make([]*KeyValue, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		kvs = append(kvs, decodeKV(d))
	}
	return kvs
}

func encodeKV(e *wire.Encoder, kv *KeyValue) {
	e.Bytes(kv.Key)
	e.Bytes(kv.Value)
	e.Varint(kv.CreateRevision)
	e.Varint(kv.ModRevision)
	e.Varint(kv.Version)
	e.Varint(kv.Lease)
}

func decodeKV(d *wire.Decoder) *KeyValue {
	return &KeyValue{
		Key: d.Bytes(), Value: d.Bytes(),
		CreateRevision: d.Varint(), ModRevision: d.Varint(),
		Version: d.Varint(), Lease: d.Varint(),
	}
}
