package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/internal/allocs"
)

func encodeFrame(tb testing.TB, f frame) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	require.NoError(tb, writeFrame(w, f))
	require.NoError(tb, w.Flush())
	return b.Bytes()
}

func rawHeader(kind byte, id, timeout uint64, length uint32) []byte {
	h := make([]byte, frameHeaderSize)
	h[0] = kind
	binary.BigEndian.PutUint64(h[1:9], id)
	binary.BigEndian.PutUint64(h[9:17], timeout)
	binary.BigEndian.PutUint32(h[17:21], length)
	return h
}

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    frame
	}{
		{"request with timeout", frame{kind: frameRequest, id: 1, timeout: 3 * time.Second, payload: []byte("req")}},
		{"request without payload", frame{kind: frameRequest, id: 1<<64 - 1}},
		{"response", frame{kind: frameResponse, id: 7, payload: []byte("resp")}},
		{"large response", frame{kind: frameResponse, id: 8, payload: bytes.Repeat([]byte{1}, 3*smallPayload+5)}},
		{"error", frame{kind: frameError, id: 9, payload: []byte("boom")}},
		{"no handler", frame{kind: frameNoHandler, id: 10}},
		{"cancel", frame{kind: frameCancel, id: 11}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readFrame(bytes.NewReader(encodeFrame(t, tc.f)))
			require.NoError(t, err)
			require.Equal(t, tc.f.kind, got.kind)
			require.Equal(t, tc.f.id, got.id)
			require.Equal(t, tc.f.timeout, got.timeout)
			require.True(t, bytes.Equal(tc.f.payload, got.payload))
		})
	}
}

func TestFrameDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty input", nil, io.EOF},
		{"truncated header", rawHeader(frameRequest, 1, 0, 0)[:10], io.ErrUnexpectedEOF},
		{"unknown kind 0", rawHeader(0, 1, 0, 0), ErrBadFrame},
		{"unknown kind 8", rawHeader(8, 1, 0, 0), ErrBadFrame},
		{"ping with payload", rawHeader(framePing, 1, 0, 3), ErrBadFrame},
		{"forged huge length", rawHeader(frameRequest, 1, 0, 0xFFFFFFFF), ErrTooLarge},
		{"length max+1", rawHeader(frameResponse, 1, 0, MaxMessageSize+1), ErrTooLarge},
		{"negative timeout", rawHeader(frameRequest, 1, 1<<63, 0), ErrBadFrame},
		{"timeout on response", rawHeader(frameResponse, 1, 5, 0), ErrBadFrame},
		{"payload on cancel", append(rawHeader(frameCancel, 1, 0, 1), 'x'), ErrBadFrame},
		{"truncated small payload", append(rawHeader(frameRequest, 1, 0, 10), "abc"...), io.ErrUnexpectedEOF},
		{"truncated large payload", append(rawHeader(frameRequest, 1, 0, MaxMessageSize), "abc"...), io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bytes.NewReader(tc.in))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestFrameForgedLengthAllocation checks that a frame announcing the maximum
// payload but carrying a few bytes does not allocate the announced size. The
// least allocation over a few runs is used, to ignore other goroutines.
func TestFrameForgedLengthAllocation(t *testing.T) {
	in := append(rawHeader(frameRequest, 1, 0, MaxMessageSize), make([]byte, 100)...)
	least := allocs.Least(5, func() {
		_, err := readFrame(bytes.NewReader(in))
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	require.Less(t, least, uint64(1<<20), "a forged frame allocated %d bytes", least)
}

func TestWriteFrameTooLarge(t *testing.T) {
	w := bufio.NewWriter(io.Discard)
	err := writeFrame(w, frame{kind: frameResponse, payload: make([]byte, MaxMessageSize+1)})
	require.ErrorIs(t, err, ErrTooLarge)
}

func FuzzFrameDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeFrame(f, frame{kind: frameRequest, id: 1, timeout: time.Second, payload: []byte("hello")}))
	f.Add(encodeFrame(f, frame{kind: frameResponse, id: 2, payload: []byte("world")}))
	f.Add(encodeFrame(f, frame{kind: frameCancel, id: 3}))
	f.Add(rawHeader(frameRequest, 1, 0, 0xFFFFFFFF))
	f.Add(append(rawHeader(frameRequest, 1, 0, MaxMessageSize), 1, 2, 3))
	f.Add(rawHeader(9, 1, 0, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			got, err := readFrame(r)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("unexpected error class: %v", err)
				}
				return
			}
			// A decoded frame re-encodes to an identical, decodable frame.
			enc := encodeFrame(t, got)
			again, err := readFrame(bytes.NewReader(enc))
			require.NoError(t, err)
			require.Equal(t, got.kind, again.kind)
			require.Equal(t, got.id, again.id)
			require.Equal(t, got.timeout, again.timeout)
			require.True(t, bytes.Equal(got.payload, again.payload))
		}
	})
}
