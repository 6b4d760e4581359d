package mvcc

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRevisionBytes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		want    revision
		tomb    bool
		wantErr bool
	}{
		{"zero", revToBytes(revision{}, false), revision{}, false, false},
		{"main and sub", revToBytes(revision{main: 7, sub: 3}, false), revision{7, 3}, false, false},
		{"tombstone", revToBytes(revision{main: 1 << 40, sub: 9}, true), revision{1 << 40, 9}, true, false},
		{"empty", nil, revision{}, false, true},
		{"short", make([]byte, 16), revision{}, false, true},
		{"bad separator", make([]byte, 17), revision{}, false, true},
		{"bad marker", append(revToBytes(revision{1, 1}, false), 'x'), revision{}, false, true},
		{"too long", append(revToBytes(revision{1, 1}, true), 't'), revision{}, false, true},
		{"negative main", append([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, '_'}, make([]byte, 8)...), revision{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, tomb, err := bytesToRev(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrCorruptRecord)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.tomb, tomb)
		})
	}
	// Byte order equals revision order.
	a := revToBytes(revision{main: 2, sub: 300}, false)
	b := revToBytes(revision{main: 3, sub: 0}, false)
	require.Negative(t, bytes.Compare(a, b))
}

func FuzzRevisionBytes(f *testing.F) {
	f.Add(int64(1), int64(0), false)
	f.Add(int64(2), int64(5), true)
	f.Add(int64(1<<62), int64(1<<40), true)
	f.Add(int64(-1), int64(0), false)
	f.Fuzz(func(t *testing.T, main, sub int64, tomb bool) {
		if main < 0 || sub < 0 {
			t.Skip("revisions are non-negative")
		}
		rev := revision{main: main, sub: sub}
		b := revToBytes(rev, tomb)
		got, gotTomb, err := bytesToRev(b)
		require.NoError(t, err)
		require.Equal(t, rev, got)
		require.Equal(t, tomb, gotTomb)
		// Any byte string either fails cleanly or re-encodes identically.
		if r, tm, err := bytesToRev(b[:len(b)-1]); err == nil {
			require.Equal(t, b[:len(b)-1], revToBytes(r, tm))
		}
	})
}

func FuzzRevisionBytesDecode(f *testing.F) {
	f.Add(revToBytes(revision{3, 1}, false))
	f.Add(revToBytes(revision{3, 1}, true))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, tomb, err := bytesToRev(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruptRecord)
			return
		}
		require.Equal(t, b, revToBytes(r, tomb))
	})
}
