package wal

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// internalSeed is the package-internal tests' seed for randomized tests:
// KEEL_WAL_SEED if set, else the current time. It logs the seed so a
// failure can be replayed.
func internalSeed(tb testing.TB) int64 {
	tb.Helper()
	s := time.Now().UnixNano()
	if v := os.Getenv("KEEL_WAL_SEED"); v != "" {
		var err error
		s, err = strconv.ParseInt(v, 10, 64)
		require.NoError(tb, err, "KEEL_WAL_SEED")
	}
	tb.Logf("seed %d (replay with KEEL_WAL_SEED=%d)", s, s)
	return s
}

// seedCRCRef is what crcSeed must equal: crc32 over the seed's bytes.
func seedCRCRef(segID uint64, off int64) uint32 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], segID)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	return crc32.Update(0, castagnoli, b[:])
}

func TestCRCSeed(t *testing.T) {
	cases := []struct {
		name  string
		segID uint64
		off   int64
	}{
		{"zero", 0, 0},
		{"first frame", 1, segHeaderSize},
		{"all ones", math.MaxUint64, -1},
		{"max offset", 7, math.MaxInt64},
		{"byte pattern", 0x0102030405060708, 0x1112131415161718},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := crcSeed(tc.segID, tc.off), seedCRCRef(tc.segID, tc.off); got != want {
				t.Fatalf("crcSeed(%d, %d) = %#x, want %#x", tc.segID, tc.off, got, want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(uint64(internalSeed(t)), 0))
	for range 10000 {
		id, off := rng.Uint64(), rng.Int64()
		if got, want := crcSeed(id, off), seedCRCRef(id, off); got != want {
			t.Fatalf("crcSeed(%d, %d) = %#x, want %#x", id, off, got, want)
		}
	}
}

// TestFrameCRCDoesNotAllocate guards the write path: appendFrame runs once
// per entry.
func TestFrameCRCDoesNotAllocate(t *testing.T) {
	hdr := make([]byte, frameHeaderSize)
	payload := make([]byte, 300)
	if n := testing.AllocsPerRun(100, func() { frameCRC(3, 4096, hdr, payload) }); n != 0 {
		t.Fatalf("frameCRC allocates %v times per call", n)
	}
}
