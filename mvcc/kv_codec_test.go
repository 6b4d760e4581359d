package mvcc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyValueCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   *KeyValue
	}{
		{"tombstone record", &KeyValue{Key: []byte("k"), Value: []byte{}}},
		{"full", kvOf("key", "value", 2, 9, 4, 77)},
		{"large numbers", &KeyValue{Key: []byte{0, 0xff}, Value: make([]byte, 300), CreateRevision: 1 << 62, ModRevision: 1<<63 - 1, Version: 1 << 40, Lease: -5}},
		{"empty key", &KeyValue{Key: []byte{}, Value: []byte("v")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeKeyValue(tc.kv)
			got, err := decodeKeyValue(b)
			require.NoError(t, err)
			require.Equal(t, tc.kv, got)
			// The decoded value never aliases the input.
			for i := range b {
				b[i] = 0
			}
			require.Equal(t, tc.kv, got)
		})
	}
}

func TestKeyValueDecodeErrors(t *testing.T) {
	good := encodeKeyValue(kvOf("key", "value", 2, 9, 4, 77))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown format", append([]byte{0x02}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"key length too large", []byte{kvFormatV1, 0x7f, 'a'}},
		{"huge key length", []byte{kvFormatV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"bad varint", []byte{kvFormatV1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv, err := decodeKeyValue(tc.in)
			require.ErrorIs(t, err, ErrCorruptRecord)
			require.Nil(t, kv)
		})
	}
}

func FuzzKeyValueDecode(f *testing.F) {
	f.Add(encodeKeyValue(kvOf("key", "value", 2, 9, 4, 77)))
	f.Add(encodeKeyValue(&KeyValue{Key: []byte("tomb")}))
	f.Add(encodeKeyValue(&KeyValue{Key: []byte{0xff}, Value: make([]byte, 200), CreateRevision: -1, Lease: 1 << 62}))
	f.Add([]byte{kvFormatV1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		kv, err := decodeKeyValue(b)
		var view KeyValue
		verr := decodeKeyValueView(b, &view)
		require.Equal(t, err == nil, verr == nil, "the owning and the aliasing decoder disagree")
		if err != nil {
			require.ErrorIs(t, err, ErrCorruptRecord)
			require.ErrorIs(t, verr, ErrCorruptRecord)
			require.Nil(t, kv)
			return
		}
		require.NotNil(t, kv.Key)
		require.NotNil(t, kv.Value)
		require.Equal(t, string(view.Key), string(kv.Key))
		require.Equal(t, string(view.Value), string(kv.Value))
		require.Equal(t, [4]int64{view.CreateRevision, view.ModRevision, view.Version, view.Lease},
			[4]int64{kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease})
		// The owned copy shares nothing with b, and its Key and Value
		// share nothing with each other.
		wantKey, wantValue := string(kv.Key), string(kv.Value)
		for i := range b {
			b[i] ^= 0xff
		}
		_ = append(kv.Key, 'x')
		require.Equal(t, wantKey, string(kv.Key))
		require.Equal(t, wantValue, string(kv.Value))
		// Decoding is stable under re-encoding.
		again, err := decodeKeyValue(encodeKeyValue(kv))
		require.NoError(t, err)
		require.Equal(t, kv, again)
	})
}
