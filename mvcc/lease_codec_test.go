package mvcc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLeaseRecordCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  LeaseRecord
	}{
		{"granted", LeaseRecord{ID: 1, TTL: 10}},
		{"checkpointed", LeaseRecord{ID: 7, TTL: 60, RemainingTTL: 41500}},
		{"large", LeaseRecord{ID: 1<<63 - 1, TTL: 9_000_000_000, RemainingTTL: 1 << 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeLeaseRecord(leaseKey(tc.rec.ID), encodeLeaseValue(tc.rec))
			require.NoError(t, err)
			require.Equal(t, tc.rec, got)
		})
	}
}

func TestLeaseRecordDecodeErrors(t *testing.T) {
	good := encodeLeaseValue(LeaseRecord{ID: 1, TTL: 10, RemainingTTL: 5})
	for _, tc := range []struct {
		name string
		k, v []byte
	}{
		{"short key", []byte{1}, good},
		{"zero ID", leaseKey(0), good},
		{"negative ID", leaseKey(-4), good},
		{"empty value", leaseKey(1), nil},
		{"unknown format", leaseKey(1), append([]byte{0x02}, good[1:]...)},
		{"truncated", leaseKey(1), good[:len(good)-1]},
		{"trailing bytes", leaseKey(1), append(append([]byte(nil), good...), 0)},
		{"zero TTL", leaseKey(1), encodeLeaseValue(LeaseRecord{ID: 1, TTL: 0})},
		{"negative remaining", leaseKey(1), encodeLeaseValue(LeaseRecord{ID: 1, TTL: 3, RemainingTTL: -1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := decodeLeaseRecord(tc.k, tc.v)
			require.ErrorIs(t, err, ErrCorruptRecord)
			require.Zero(t, rec)
		})
	}
}

func FuzzLeaseRecordDecode(f *testing.F) {
	f.Add(leaseKey(1), encodeLeaseValue(LeaseRecord{ID: 1, TTL: 10}))
	f.Add(leaseKey(1<<62), encodeLeaseValue(LeaseRecord{ID: 1 << 62, TTL: 1, RemainingTTL: 999}))
	f.Add([]byte{}, []byte{leaseFormatV1})
	f.Add(leaseKey(-1), []byte{leaseFormatV1, 2, 2})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		rec, err := decodeLeaseRecord(k, v)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruptRecord)
			require.Zero(t, rec)
			return
		}
		require.Positive(t, rec.ID)
		require.Positive(t, rec.TTL)
		require.GreaterOrEqual(t, rec.RemainingTTL, int64(0))
		// Decoding is stable under re-encoding.
		again, err := decodeLeaseRecord(leaseKey(rec.ID), encodeLeaseValue(rec))
		require.NoError(t, err)
		require.Equal(t, rec, again)
	})
}
