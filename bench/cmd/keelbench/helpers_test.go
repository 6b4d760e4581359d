package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func TestKeysAndValues(t *testing.T) {
	for _, prefix := range []string{"w1/", "w3/", "w4/", "w5u/"} {
		k := key(prefix, 42)
		require.Len(t, k, keyBytes)
		require.True(t, strings.HasPrefix(k, prefix))
		v := valueFor(k)
		require.Len(t, v, valueBytes)
		require.True(t, isValueFor(k, []byte(v)))
		require.False(t, isValueFor(key(prefix, 43), []byte(v)))
		require.False(t, isValueFor(k, []byte(v[:100])))
	}
	require.Len(t, counterValue(12345), valueBytes)
	n, err := parseCounter([]byte(counterValue(12345)))
	require.NoError(t, err)
	require.Equal(t, 12345, n)
	_, err = parseCounter([]byte("x"))
	require.ErrorIs(t, err, errCheck)
	require.Equal(t, "w40", prefixEnd("w4/"))
	require.Equal(t, "b", prefixEnd("a\xff"))
}

func TestWatchTally(t *testing.T) {
	tests := []struct {
		name                         string
		deliver                      []int
		wantReceived, wantDup, wantF int
		wantWarm, wantAll            bool
	}{
		{name: "all once", deliver: []int{3, 0, 1, 2, 4}, wantReceived: 3, wantWarm: true, wantAll: true},
		{name: "duplicate", deliver: []int{0, 0, 1}, wantReceived: 2, wantDup: 1},
		{name: "foreign index", deliver: []int{7, 2}, wantReceived: 1, wantF: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tally := newWatchTally(3, 2)
			stamp := stampedValue(time.Now().Add(-time.Millisecond))
			for _, i := range tt.deliver {
				tally.observe([]byte(key(w4Prefix, i)), []byte(stamp))
			}
			require.Equal(t, tt.wantReceived, tally.received)
			require.Equal(t, tt.wantDup, tally.duplicates)
			require.Equal(t, tt.wantF, tally.foreign)
			require.Equal(t, tt.wantWarm, closed(tally.warmDone))
			require.Equal(t, tt.wantAll, closed(tally.allDone))
			for _, l := range tally.lags {
				require.GreaterOrEqual(t, l, time.Millisecond)
			}
		})
	}
	v := stampedValue(time.Unix(0, 12345))
	require.Len(t, v, valueBytes)
	require.Equal(t, uint64(12345), binary.BigEndian.Uint64([]byte(v)))
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestMapFSM(t *testing.T) {
	f := newMapFSM()
	for i := range 5 {
		require.Nil(t, f.Apply(&raft.Log{Type: raft.LogCommand, Data: encodePut(key("k/", i), fmt.Sprint("v", i))}))
	}
	require.Error(t, f.Apply(&raft.Log{Type: raft.LogCommand, Data: []byte{0x80}}).(error))
	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &memSink{}
	require.NoError(t, snap.Persist(sink))
	g := newMapFSM()
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, f.m, g.m)
	require.ErrorIs(t, g.Restore(io.NopCloser(bytes.NewReader([]byte{5, 1}))), errCheck)
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

func TestParseChildResult(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		wantErr bool
		target  string
	}{
		{name: "marker line among noise", out: "hello\n" + resultMarker + `{"target":"keel-1","round":2}` + "\nbye\n", target: "keel-1"},
		{name: "no marker", out: "hello\n", wantErr: true},
		{name: "bad json", out: resultMarker + "{\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res childResult
			err := parseChildResult([]byte(tt.out), &res)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.target, res.Target)
		})
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijklm"} {
		n, err := b.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	require.Equal(t, "fghijklm", b.String())
	require.Equal(t, "c\nd", lastLines("a\nb\nc\nd\n", 2))
	require.Equal(t, "a", lastLines("a", 5))
}
