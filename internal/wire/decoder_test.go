package wire_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keeldb/keel/internal/wire"
	"github.com/stretchr/testify/require"
)

// errBase is the base error the tests' decoders wrap.
var errBase = errors.New("test: corrupt input")

// decodeCase is one input for a primitive read, with the value it must
// give or a substring of the error it must fail with.
type decodeCase struct {
	name    string
	in      []byte
	arg     int    // Next's n, Count's minSize
	want    any    // the value read, when wantErr is empty
	wantErr string // a substring of the error text
}

// runDecodeCases reads each case's input with read, then requires either
// that Finish reports no error and read returned the case's value, or that
// the error is the one the case names and read returned the zero value.
func runDecodeCases(t *testing.T, cases []decodeCase, read func(d *wire.Decoder, arg int) any) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := wire.NewDecoder(tc.in, errBase)
			got := read(d, tc.arg)
			err := d.Finish()
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			requireDecodeError(t, err, tc.wantErr)
			require.Zero(t, got, "a failed read returns the zero value")
			require.Zero(t, d.Len(), "a failed read drops the rest of the input")
		})
	}
}

// requireDecodeError checks that err wraps errBase, starts with its text
// and says what failed.
func requireDecodeError(tb testing.TB, err error, what string) {
	tb.Helper()
	require.ErrorIs(tb, err, errBase)
	require.True(tb, strings.HasPrefix(err.Error(), errBase.Error()+": "), "error %q keeps the base's prefix", err)
	require.Contains(tb, err.Error(), what)
}

func TestDecoderByte(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "valid", in: []byte{0xab}, want: byte(0xab)},
		{name: "truncated", in: nil, wantErr: "truncated byte"},
	}, func(d *wire.Decoder, _ int) any { return d.Byte() })
}

func TestDecoderBool(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "false", in: []byte{0}, want: false},
		{name: "true", in: []byte{1}, want: true},
		{name: "truncated", in: nil, wantErr: "truncated bool"},
		{name: "bad bool 2", in: []byte{2}, wantErr: "bool not 0 or 1"},
		{name: "bad bool 0xff", in: []byte{0xff}, wantErr: "bool not 0 or 1"},
	}, func(d *wire.Decoder, _ int) any { return d.Bool() })
}

func TestDecoderUvarint(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "zero", in: []byte{0}, want: uint64(0)},
		{name: "one byte max", in: []byte{0x7f}, want: uint64(127)},
		{name: "two bytes", in: []byte{0x80, 0x01}, want: uint64(128)},
		{name: "max", in: maxUvarint(), want: uint64(1<<64 - 1)},
		{name: "truncated empty", in: nil, wantErr: "truncated uvarint"},
		{name: "truncated continuation", in: []byte{0x80}, wantErr: "truncated uvarint"},
		{name: "truncated long", in: maxUvarint()[:9], wantErr: "truncated uvarint"},
		{name: "overflow in tenth byte", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, wantErr: "uvarint overflows 64 bits"},
		{name: "overflow eleven bytes", in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, wantErr: "uvarint overflows 64 bits"},
		{name: "non-minimal zero", in: []byte{0x80, 0x00}, wantErr: "non-minimal uvarint"},
		{name: "non-minimal one", in: []byte{0x81, 0x80, 0x00}, wantErr: "non-minimal uvarint"},
		{name: "non-minimal ten bytes", in: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, wantErr: "non-minimal uvarint"},
	}, func(d *wire.Decoder, _ int) any { return d.Uvarint() })
}

func TestDecoderVarint(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "zero", in: []byte{0}, want: int64(0)},
		{name: "minus one", in: []byte{1}, want: int64(-1)},
		{name: "one", in: []byte{2}, want: int64(1)},
		{name: "minus 64", in: []byte{0x7f}, want: int64(-64)},
		{name: "64", in: []byte{0x80, 0x01}, want: int64(64)},
		{name: "min", in: maxUvarint(), want: int64(-1 << 63)},
		{name: "max", in: []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, want: int64(1<<63 - 1)},
		{name: "truncated", in: []byte{0xff}, wantErr: "truncated varint"},
		{name: "overflow", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, wantErr: "varint overflows 64 bits"},
		{name: "non-minimal", in: []byte{0x81, 0x00}, wantErr: "non-minimal varint"},
	}, func(d *wire.Decoder, _ int) any { return d.Varint() })
}

// byteStringCases are the cases View and Bytes share.
func byteStringCases() []decodeCase {
	return []decodeCase{
		{name: "valid", in: []byte{3, 'a', 'b', 'c'}, want: []byte("abc")},
		{name: "empty is nil", in: []byte{0}, want: []byte(nil)},
		{name: "long", in: append([]byte{0xc8, 0x01}, make([]byte, 200)...), want: make([]byte, 200)},
		{name: "truncated length", in: nil, wantErr: "truncated length"},
		{name: "non-minimal length", in: []byte{0x81, 0x00, 'a'}, wantErr: "non-minimal length"},
		{name: "truncated bytes", in: []byte{3, 'a', 'b'}, wantErr: "length 3 exceeds the 2 bytes left"},
		{name: "forged length", in: []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, wantErr: "length 4294967295 exceeds the 1 bytes left"},
		{name: "forged max length", in: maxUvarint(), wantErr: "exceeds the 0 bytes left"},
	}
}

func TestDecoderView(t *testing.T) {
	runDecodeCases(t, byteStringCases(), func(d *wire.Decoder, _ int) any { return d.View() })
}

func TestDecoderBytes(t *testing.T) {
	runDecodeCases(t, byteStringCases(), func(d *wire.Decoder, _ int) any { return d.Bytes() })
}

func TestDecoderNext(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "valid", in: []byte{1, 2, 3}, arg: 3, want: []byte{1, 2, 3}},
		{name: "zero", in: nil, arg: 0, want: []byte(nil)},
		{name: "truncated", in: []byte{1, 2}, arg: 3, wantErr: "truncated 3-byte field: 2 bytes left"},
		{name: "negative", in: []byte{1}, arg: -1, wantErr: "truncated -1-byte field"},
	}, func(d *wire.Decoder, n int) any { return d.Next(n) })
}

func TestDecoderCount(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "zero", in: []byte{0}, arg: 4, want: 0},
		{name: "fits exactly", in: []byte{2, 'a', 'b', 'c', 'd'}, arg: 2, want: 2},
		{name: "fits with room", in: []byte{2, 'a', 'b', 'c', 'd', 'e'}, arg: 2, want: 2},
		{name: "one too many", in: []byte{3, 'a', 'b', 'c', 'd', 'e'}, arg: 2, wantErr: "count 3 of 2-byte elements exceeds the 5 bytes left"},
		{name: "forged count", in: []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, arg: 1, wantErr: "count 4294967295 of 1-byte elements exceeds the 1 bytes left"},
		{name: "forged max count", in: maxUvarint(), arg: 1, wantErr: "exceeds the 0 bytes left"},
		{name: "truncated", in: []byte{0x80}, arg: 1, wantErr: "truncated count"},
		{name: "non-minimal", in: []byte{0x80, 0x00}, arg: 1, wantErr: "non-minimal count"},
	}, func(d *wire.Decoder, minSize int) any {
		n := d.Count(minSize)
		// The elements, of minSize bytes or more each, are the rest.
		if elems := d.Next(d.Len()); len(elems) < n*minSize {
			return fmt.Sprintf("count %d of %d-byte elements accepted with %d bytes left", n, minSize, len(elems))
		}
		return n
	})
}

func TestDecoderCountMisuse(t *testing.T) {
	for _, minSize := range []int{0, -1} {
		d := wire.NewDecoder([]byte{1, 'a'}, errBase)
		require.Panics(t, func() { d.Count(minSize) }, "minSize %d", minSize)
	}
}

func TestDecoderFinish(t *testing.T) {
	t.Run("all consumed", func(t *testing.T) {
		d := wire.NewDecoder([]byte{5}, errBase)
		require.Equal(t, byte(5), d.Byte())
		require.NoError(t, d.Finish())
	})
	t.Run("empty input", func(t *testing.T) {
		d := wire.NewDecoder(nil, errBase)
		require.NoError(t, d.Finish())
	})
	t.Run("trailing bytes", func(t *testing.T) {
		d := wire.NewDecoder([]byte{5, 6, 7}, errBase)
		require.Equal(t, byte(5), d.Byte())
		requireDecodeError(t, d.Finish(), "2 trailing bytes")
	})
}

// TestDecoderStickyError checks that the first error is kept and that
// every read after it returns a zero value, even where the input after
// the failed read is valid.
func TestDecoderStickyError(t *testing.T) {
	in := []byte{0x80, 0x00, 1, 1, 3, 'a', 'b', 'c', 7}
	d := wire.NewDecoder(in, errBase)
	require.Zero(t, d.Uvarint())
	first := d.Err()
	requireDecodeError(t, first, "non-minimal uvarint")
	require.Zero(t, d.Len())
	require.False(t, d.Bool())
	require.Zero(t, d.Varint())
	require.Nil(t, d.View())
	require.Nil(t, d.Bytes())
	require.Nil(t, d.Next(1))
	require.Zero(t, d.Count(1))
	require.Zero(t, d.Byte())
	_, ok := d.Peek()
	require.False(t, ok)
	d.Fail("a later format error")
	require.Same(t, first, d.Err())
	require.Same(t, first, d.Finish())
}

func TestDecoderFail(t *testing.T) {
	d := wire.NewDecoder([]byte{9, 9}, errBase)
	d.Fail("unknown kind 9")
	requireDecodeError(t, d.Finish(), "unknown kind 9")
	require.Equal(t, "test: corrupt input: unknown kind 9", d.Err().Error())
}

func TestDecoderNilBase(t *testing.T) {
	t.Run("NewDecoder", func(t *testing.T) {
		d := wire.NewDecoder(nil, nil)
		d.Byte()
		require.ErrorIs(t, d.Err(), wire.ErrMalformed)
		require.Equal(t, "wire: malformed input: truncated byte", d.Err().Error())
	})
	t.Run("zero Decoder", func(t *testing.T) {
		var d wire.Decoder
		require.NoError(t, d.Finish())
		require.Nil(t, d.View())
		require.ErrorIs(t, d.Err(), wire.ErrMalformed)
	})
}

func TestDecoderPeek(t *testing.T) {
	d := wire.NewDecoder([]byte{4, 5}, errBase)
	v, ok := d.Peek()
	require.True(t, ok)
	require.Equal(t, byte(4), v)
	require.Equal(t, 2, d.Len(), "Peek reads nothing")
	require.Equal(t, byte(4), d.Byte())
	require.Equal(t, byte(5), d.Byte())
	_, ok = d.Peek()
	require.False(t, ok)
	require.NoError(t, d.Finish())
}

// TestDecoderAliasing checks that View and Next share the input without
// letting an append write into it, and that Bytes copies.
func TestDecoderAliasing(t *testing.T) {
	in := []byte{2, 'a', 'b', 2, 'c', 'd', 'e', 'f'}
	d := wire.NewDecoder(in, errBase)
	view, copied, next := d.View(), d.Bytes(), d.Next(2)
	require.NoError(t, d.Finish())
	require.Equal(t, len(view), cap(view))
	require.Equal(t, len(next), cap(next))
	require.Equal(t, len(copied), cap(copied), "Bytes allocates exactly the string's length")
	_ = append(view, 'X')
	_ = append(next, 'Y')
	require.Equal(t, []byte{2, 'a', 'b', 2, 'c', 'd', 'e', 'f'}, in, "appends did not write into the input")
	in[1], in[4], in[6] = 'A', 'C', 'E'
	require.Equal(t, "Ab", string(view), "View aliases the input")
	require.Equal(t, "Ef", string(next), "Next aliases the input")
	require.Equal(t, "cd", string(copied), "Bytes copies")
}

// TestDecoderAllocs checks that reading scalars and views allocates
// nothing.
func TestDecoderAllocs(t *testing.T) {
	e := wire.Encoder{}
	e.Uvarint(1 << 40)
	e.Varint(-5)
	e.Byte(3)
	e.Bool(true)
	e.Bytes([]byte("payload"))
	e.Uvarint(2)
	e.Bytes([]byte("ab"))
	in := e.Buf
	var (
		view []byte
		err  error
	)
	allocs := testing.AllocsPerRun(100, func() {
		d := wire.NewDecoder(in, errBase)
		d.Uvarint()
		d.Varint()
		d.Byte()
		d.Bool()
		view = d.View()
		d.Count(1)
		d.Next(3)
		err = d.Finish()
	})
	require.NoError(t, err)
	require.Zero(t, allocs)
	require.Equal(t, "payload", string(view))
}
