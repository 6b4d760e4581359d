package keel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWantNoSpace(t *testing.T) {
	const quota = 1000 // low water 950
	tests := []struct {
		name          string
		quota, inUse  int64
		active, asked bool
		want          bool
	}{
		{name: "under the quota", quota: quota, inUse: 990},
		{name: "over the quota", quota: quota, inUse: 1001, want: true},
		{name: "asked above low water", quota: quota, inUse: 951, asked: true, want: true},
		{name: "asked at low water", quota: quota, inUse: 950, asked: true},
		{name: "active above low water", quota: quota, inUse: 951, active: true, want: true},
		{name: "active over the quota", quota: quota, inUse: 2000, active: true, want: true},
		{name: "active at low water clears", quota: quota, inUse: 950, active: true},
		{name: "no quota clears", quota: 0, inUse: 1 << 40, active: true, asked: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, wantNoSpace(tc.quota, tc.inUse, tc.active, tc.asked))
		})
	}
	// No flapping: from any size, raising and then checking again keeps
	// the alarm, and clearing and checking again keeps it clear.
	for inUse := int64(0); inUse <= 2*quota; inUse += 7 {
		if wantNoSpace(quota, inUse, false, true) {
			require.True(t, wantNoSpace(quota, inUse, true, false), "in use %d: raised, then cleared", inUse)
		}
		if !wantNoSpace(quota, inUse, true, false) {
			require.False(t, wantNoSpace(quota, inUse, false, false), "in use %d: cleared, then raised", inUse)
		}
	}
}

// TestAdmitWrite checks admission: a write that does not fit is refused,
// and asks for the alarm only if the database is above the low-water
// mark (a single oversize write into a mostly free database does not).
func TestAdmitWrite(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), Logger: testLogger(), QuotaBytes: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, inUse := s.kv.Size()
	require.Less(t, inUse, int64(lowWater(1<<20)))

	require.NoError(t, s.admitWrite(1<<20-int(inUse)))
	err = s.admitWrite(1<<20 - int(inUse) + 1)
	require.ErrorIs(t, err, ErrNoSpace)
	require.False(t, s.quota.raise.Load(), "a mostly free database raises no alarm")
	_, err = s.Put(testCtx(t), "big", string(make([]byte, 1<<20)))
	require.ErrorIs(t, err, ErrNoSpace)
	resp, err := s.AlarmList(testCtx(t))
	require.NoError(t, err)
	require.Empty(t, resp.Alarms)
}
