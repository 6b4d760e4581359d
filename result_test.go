package keel

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResultRoundTrip(t *testing.T) {
	kv := &KeyValue{Key: []byte("k"), Value: []byte("v"), CreateRevision: 2, ModRevision: 3, Version: 2, Lease: 7}
	h := func(rev int64) *ResponseHeader { return &ResponseHeader{Revision: rev} }
	tests := map[string]*applyResult{
		"put":              {resp: OpResponse{put: &PutResponse{Header: h(3), PrevKv: kv}}},
		"get":              {resp: OpResponse{get: &GetResponse{Header: h(4), Kvs: []*KeyValue{kv, kv}, More: true, Count: 9}}},
		"del":              {resp: OpResponse{del: &DeleteResponse{Header: h(5), Deleted: 1, PrevKvs: []*KeyValue{kv}}}},
		"txn":              {resp: OpResponse{txn: &TxnResponse{Header: h(6), Succeeded: true, Responses: []OpResponse{{put: &PutResponse{Header: h(6)}}, {txn: &TxnResponse{Header: h(6)}}}}}},
		"alarm":            {alarm: &AlarmResponse{Header: h(7), Alarms: []*AlarmMember{{MemberID: 9, Alarm: AlarmNoSpace}}}},
		"no alarm changed": {alarm: &AlarmResponse{Header: h(7), Alarms: []*AlarmMember{}}},
		"known":            {err: ErrKeyNotFound},
		"no space":         {err: ErrNoSpace},
		"corrupt":          {err: ErrCorrupt},
		"other":            {err: errors.New("boom")},
	}
	for name, res := range tests {
		t.Run(name, func(t *testing.T) {
			b := encodeResult(res)
			got, err := decodeResult(b)
			require.NoError(t, err)
			if res.err != nil {
				require.Error(t, got.err)
				require.Contains(t, got.err.Error(), res.err.Error())
				return
			}
			require.NoError(t, got.err)
			require.Equal(t, b, encodeResult(got))
			if res.alarm != nil {
				require.Equal(t, res.alarm, got.alarm)
			}
		})
	}
}

func TestResultDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "empty", in: nil},
		{name: "unknown error code", in: []byte{200}},
		{name: "unknown response type", in: []byte{0, 99, 0}},
		{name: "trailing bytes", in: []byte{1, 0}}, // code 1: ErrKeyNotFound
		{name: "forged message length", in: []byte{codeOther, 0xff, 0xff, 0x03, 'x'}},
		{name: "forged kv count", in: []byte{0, byte(tRange), 2, 0, 0, 0xff, 0xff, 0x03}},
		{name: "non-minimal revision", in: []byte{0, tCompactResult, 0x80, 0x00}},
		{name: "bad bool", in: []byte{0, byte(tPut), 2, 2}},
		{name: "unknown alarm type", in: []byte{0, tAlarmResult, 2, 1, 1, 9}},
		{name: "alarms out of order", in: []byte{0, tAlarmResult, 2, 2, 2, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeResult(tc.in)
			requireCorrupt(t, err)
		})
	}
}

// FuzzResultDecode checks that decoding a leader's reply never panics.
func FuzzResultDecode(f *testing.F) {
	f.Add(encodeResult(&applyResult{resp: OpResponse{get: &GetResponse{Header: &ResponseHeader{Revision: 1}, Kvs: []*KeyValue{{Key: []byte("a")}}}}}))
	f.Add(encodeResult(&applyResult{err: errors.New("x")}))
	f.Add([]byte{0, byte(tTxn), 2, 1, 0xff, 0xff, 0x7f})
	f.Add(encodeResult(&applyResult{alarm: &AlarmResponse{Header: &ResponseHeader{Revision: 3}, Alarms: []*AlarmMember{{MemberID: 1, Alarm: AlarmCorrupt}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodeResult(b)
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
	})
}

// BenchmarkResultCodec encodes and decodes the result of a get of ten
// keys, as a leader returns it to a forwarding member.
func BenchmarkResultCodec(b *testing.B) {
	var kvs []*KeyValue
	for i := range 10 {
		kvs = append(kvs, &KeyValue{Key: []byte{'k', byte(i)}, Value: bytes.Repeat([]byte{'v'}, 100), CreateRevision: 100, ModRevision: int64(200 + i), Version: 3})
	}
	res := &applyResult{resp: OpResponse{get: &GetResponse{Header: &ResponseHeader{Revision: 300}, Kvs: kvs, Count: 10}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeResult(encodeResult(res)); err != nil {
			b.Fatal(err)
		}
	}
}
