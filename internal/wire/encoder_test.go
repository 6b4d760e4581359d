package wire_test

import (
	"math"
	"testing"

	"github.com/keeldb/keel/internal/wire"
	"github.com/stretchr/testify/require"
)

func TestEncoder(t *testing.T) {
	tests := []struct {
		name  string
		write func(e *wire.Encoder)
		want  []byte
	}{
		{"byte", func(e *wire.Encoder) { e.Byte(0xab) }, []byte{0xab}},
		{"bool false", func(e *wire.Encoder) { e.Bool(false) }, []byte{0}},
		{"bool true", func(e *wire.Encoder) { e.Bool(true) }, []byte{1}},
		{"uvarint 0", func(e *wire.Encoder) { e.Uvarint(0) }, []byte{0}},
		{"uvarint 127", func(e *wire.Encoder) { e.Uvarint(127) }, []byte{0x7f}},
		{"uvarint 128", func(e *wire.Encoder) { e.Uvarint(128) }, []byte{0x80, 0x01}},
		{"uvarint max", func(e *wire.Encoder) { e.Uvarint(math.MaxUint64) }, maxUvarint()},
		{"varint 0", func(e *wire.Encoder) { e.Varint(0) }, []byte{0}},
		{"varint -1", func(e *wire.Encoder) { e.Varint(-1) }, []byte{1}},
		{"varint 1", func(e *wire.Encoder) { e.Varint(1) }, []byte{2}},
		{"varint -64", func(e *wire.Encoder) { e.Varint(-64) }, []byte{0x7f}},
		{"varint 64", func(e *wire.Encoder) { e.Varint(64) }, []byte{0x80, 0x01}},
		{"varint min", func(e *wire.Encoder) { e.Varint(math.MinInt64) }, maxUvarint()},
		{"bytes", func(e *wire.Encoder) { e.Bytes([]byte("abc")) }, []byte{3, 'a', 'b', 'c'}},
		{"bytes nil", func(e *wire.Encoder) { e.Bytes(nil) }, []byte{0}},
		{"bytes empty", func(e *wire.Encoder) { e.Bytes([]byte{}) }, []byte{0}},
		{"sequence", func(e *wire.Encoder) {
			e.Byte(7)
			e.Uvarint(300)
			e.Bytes([]byte("k"))
			e.Bool(true)
		}, []byte{7, 0xac, 0x02, 1, 'k', 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := wire.Encoder{Buf: []byte("prefix")}
			tc.write(&e)
			require.Equal(t, append([]byte("prefix"), tc.want...), e.Buf, "appends after what Buf holds")
		})
	}
}

// maxUvarint is the encoding of math.MaxUint64, the longest uvarint.
func maxUvarint() []byte {
	return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
}

// TestEncoderAllocs checks that an Encoder appends into a presized Buf
// without allocating.
func TestEncoderAllocs(t *testing.T) {
	e := wire.Encoder{Buf: make([]byte, 0, 64)}
	payload := []byte("payload")
	allocs := testing.AllocsPerRun(100, func() {
		e.Buf = e.Buf[:0]
		e.Byte(1)
		e.Bool(true)
		e.Uvarint(1 << 40)
		e.Varint(-1 << 40)
		e.Bytes(payload)
	})
	require.Zero(t, allocs)
	require.Len(t, e.Buf, 1+1+6+6+1+len(payload))
}
