package wire_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/keeldb/keel/internal/wire"
	"github.com/stretchr/testify/require"
)

// kind is a primitive the round-trip tests read or write.
type kind byte

const (
	kByte kind = iota
	kBool
	kUvarint
	kVarint
	kBytes
	kView
	kNext  // a fixed-size field of size bytes
	kCount // a count, then that many size-byte elements
	numKinds
)

// value is one primitive with its value; a schema byte names its kind
// (s % numKinds) and, for kNext and kCount, its size (s/numKinds%4 + 1).
type value struct {
	schema byte
	u      uint64 // kByte, kBool (0 or 1), kUvarint, kCount
	i      int64  // kVarint
	b      []byte // kBytes, kView, kNext, kCount's elements; nil if empty
}

func (v value) kind() kind { return kind(v.schema % byte(numKinds)) }
func (v value) size() int  { return int(v.schema/byte(numKinds))%4 + 1 }

// encodeValues writes vals in order.
func encodeValues(vals []value) []byte {
	var e wire.Encoder
	for _, v := range vals {
		switch v.kind() {
		case kByte:
			e.Byte(byte(v.u))
		case kBool:
			e.Bool(v.u == 1)
		case kUvarint:
			e.Uvarint(v.u)
		case kVarint:
			e.Varint(v.i)
		case kBytes, kView:
			e.Bytes(v.b)
		case kNext:
			e.Buf = append(e.Buf, v.b...)
		case kCount:
			e.Uvarint(v.u)
			e.Buf = append(e.Buf, v.b...)
		}
	}
	return e.Buf
}

// decodeValues reads in as the primitives schema names, then requires
// that in is consumed.
func decodeValues(schema, in []byte) ([]value, error) {
	d := wire.NewDecoder(in, errBase)
	vals := make([]value, 0, len(schema))
	for _, s := range schema {
		v := value{schema: s}
		switch v.kind() {
		case kByte:
			v.u = uint64(d.Byte())
		case kBool:
			if d.Bool() {
				v.u = 1
			}
		case kUvarint:
			v.u = d.Uvarint()
		case kVarint:
			v.i = d.Varint()
		case kBytes:
			v.b = d.Bytes()
		case kView:
			v.b = d.View()
		case kNext:
			v.b = d.Next(v.size())
		case kCount:
			n := d.Count(v.size())
			v.u = uint64(n)
			if n > 0 {
				v.b = d.Next(n * v.size())
			}
		}
		vals = append(vals, v)
	}
	return vals, d.Finish()
}

// randomValues returns n random values, with integers of every length.
func randomValues(rng *rand.Rand, n int) []value {
	vals := make([]value, n)
	for i := range vals {
		v := value{schema: byte(rng.IntN(256))}
		bits := rng.UintN(65)
		switch v.kind() {
		case kByte:
			v.u = uint64(rng.IntN(256))
		case kBool:
			v.u = uint64(rng.IntN(2))
		case kUvarint:
			v.u = rng.Uint64() >> (64 - bits) // a shift by 64 gives 0
		case kVarint:
			v.i = int64(rng.Uint64()) >> (64 - bits) // 0 or -1 for bits 0
		case kBytes, kView:
			v.b = randomBytes(rng, rng.IntN(200))
		case kNext:
			v.b = randomBytes(rng, v.size())
		case kCount:
			v.u = uint64(rng.IntN(5))
			v.b = randomBytes(rng, int(v.u)*v.size())
		}
		vals[i] = v
	}
	return vals
}

// randomBytes returns n random bytes, nil for 0.
func randomBytes(rng *rand.Rand, n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func schemaOf(vals []value) []byte {
	s := make([]byte, len(vals))
	for i, v := range vals {
		s[i] = v.schema
	}
	return s
}

// testSeed returns the seed of a randomized test, from WIRE_SEED when set,
// and logs it so that a failure can be replayed.
func testSeed(tb testing.TB) uint64 {
	tb.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("WIRE_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(tb, err, "WIRE_SEED")
	}
	tb.Logf("seed %d (replay with WIRE_SEED=%d)", seed, seed)
	return seed
}

// TestRoundTripRandom encodes random sequences of values and checks that
// they decode to the same values, and that the encoding with its last
// byte cut or a byte appended is refused.
func TestRoundTripRandom(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range 2000 {
		vals := randomValues(rng, 1+rng.IntN(12))
		enc := encodeValues(vals)
		schema := schemaOf(vals)

		got, err := decodeValues(schema, enc)
		require.NoError(t, err, "case %d", i)
		require.Equal(t, vals, got, "case %d", i)

		cut := rng.IntN(len(enc)) // every primitive is prefix-free
		_, err = decodeValues(schema, enc[:cut])
		require.ErrorIs(t, err, errBase, "case %d cut at %d of %d", i, cut, len(enc))

		_, err = decodeValues(schema, append(enc[:len(enc):len(enc)], 0))
		requireDecodeError(t, err, "1 trailing bytes")
	}
}

// FuzzDecoder reads arbitrary input as the primitives an arbitrary schema
// names: reading never panics, fails only with the base error, and
// whatever decodes re-encodes to the same bytes (only minimal encodings
// are accepted).
func FuzzDecoder(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 16 {
		vals := randomValues(rng, 1+rng.IntN(8))
		f.Add(schemaOf(vals), encodeValues(vals))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{byte(kUvarint)}, []byte{0x80, 0x00})
	f.Add([]byte{byte(kBool)}, []byte{2})
	f.Add([]byte{byte(kView)}, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{byte(kCount), byte(kByte)}, []byte{0xff, 0x01, 1})
	f.Fuzz(func(t *testing.T, schema, in []byte) {
		vals, err := decodeValues(schema, in)
		if err != nil {
			require.ErrorIs(t, err, errBase)
			return
		}
		again := encodeValues(vals)
		require.True(t, bytes.Equal(in, again), "re-encoding differs:\n in  %x\n out %x", in, again)
	})
}
