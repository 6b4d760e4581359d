package watchload_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/bench/internal/watchload"
)

func TestEncodeStamp(t *testing.T) {
	tests := []struct {
		name    string
		ns      int64
		size    int
		wantErr error
	}{
		{name: "zero stamp minimal size", ns: 0, size: watchload.StampBytes},
		{name: "typical", ns: 1234567890, size: 256},
		{name: "largest stamp", ns: 1<<63 - 1, size: 9},
		{name: "too small", ns: 1, size: watchload.StampBytes - 1, wantErr: watchload.ErrInvalidParams},
		{name: "negative stamp", ns: -1, size: 256, wantErr: watchload.ErrInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := watchload.EncodeStamp(tt.ns, tt.size)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, v, tt.size)
			got, err := watchload.DecodeStamp([]byte(v))
			require.NoError(t, err)
			require.Equal(t, tt.ns, got)
		})
	}
}

func TestDecodeStampRejects(t *testing.T) {
	tests := []struct {
		name string
		v    []byte
	}{
		{name: "empty", v: nil},
		{name: "short", v: []byte{1, 2, 3, 4, 5, 6, 7}},
		{name: "negative", v: []byte{0x80, 0, 0, 0, 0, 0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := watchload.DecodeStamp(tt.v)
			require.ErrorIs(t, err, watchload.ErrBadStamp)
		})
	}
}

func FuzzDecodeStamp(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 42})
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 'v'})
	f.Add([]byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, v []byte) {
		ns, err := watchload.DecodeStamp(v)
		if err != nil {
			require.ErrorIs(t, err, watchload.ErrBadStamp)
			return
		}
		require.GreaterOrEqual(t, ns, int64(0))
		again, err := watchload.EncodeStamp(ns, len(v))
		require.NoError(t, err)
		back, err := watchload.DecodeStamp([]byte(again))
		require.NoError(t, err)
		require.Equal(t, ns, back)
	})
}
