package keel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAlarmListAndDisarm checks AlarmList and AlarmDisarm on this member's
// CORRUPT alarm, which nothing else raises or clears. (Disarming the
// alarms of several members is in TestClusterQuota.)
func TestAlarmListAndDisarm(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	corrupt := &AlarmMember{MemberID: s.MemberID(), Alarm: AlarmCorrupt}
	resp, err := s.AlarmList(ctx)
	require.NoError(t, err)
	require.Empty(t, resp.Alarms)

	tests := []struct {
		name    string
		disarm  *AlarmMember
		want    []*AlarmMember // disarmed
		wantErr error
	}{
		{name: "unknown type", disarm: &AlarmMember{MemberID: corrupt.MemberID, Alarm: 7}, wantErr: ErrInvalidOption},
		{name: "inactive alarm", disarm: &AlarmMember{MemberID: corrupt.MemberID, Alarm: AlarmNoSpace}, want: []*AlarmMember{}},
		{name: "one alarm", disarm: corrupt, want: []*AlarmMember{corrupt}},
		{name: "all (nil)", disarm: nil, want: []*AlarmMember{corrupt}},
		{name: "all (zero)", disarm: &AlarmMember{}, want: []*AlarmMember{corrupt}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, s.raiseAlarm(ctx, corrupt.MemberID, corrupt.Alarm))
			require.NoError(t, s.raiseAlarm(ctx, corrupt.MemberID, corrupt.Alarm), "raising twice changes nothing")
			resp, err := s.AlarmList(ctx)
			require.NoError(t, err)
			require.Equal(t, []*AlarmMember{corrupt}, resp.Alarms)
			require.Equal(t, corrupt.MemberID, resp.Header.MemberId)

			resp, err = s.AlarmDisarm(ctx, tc.disarm)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.NoError(t, s.clearAlarm(ctx, corrupt.MemberID, corrupt.Alarm))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.Alarms)
			require.Equal(t, corrupt.MemberID, resp.Header.MemberId)
			if len(tc.want) == 0 {
				require.NoError(t, s.clearAlarm(ctx, corrupt.MemberID, corrupt.Alarm))
			}
			resp, err = s.AlarmList(ctx)
			require.NoError(t, err)
			require.Empty(t, resp.Alarms)
		})
	}
}

// TestHealthCorruptAlarm checks that a CORRUPT alarm for this member makes
// Health fail with ErrCorrupt and that Status lists it, until it clears;
// one for another member does not.
func TestHealthCorruptAlarm(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	resp, err := s.Health(ctx)
	require.NoError(t, err)
	require.True(t, resp.Health)

	require.NoError(t, s.raiseAlarm(ctx, s.MemberID()+1, AlarmCorrupt))
	_, err = s.Health(ctx)
	require.NoError(t, err, "another member's alarm")

	require.NoError(t, s.raiseAlarm(ctx, s.MemberID(), AlarmCorrupt))
	resp, err = s.Health(ctx)
	require.ErrorIs(t, err, ErrCorrupt)
	require.False(t, resp.Health)
	require.Contains(t, resp.Reason, "CORRUPT")
	st, err := s.Status(ctx, "")
	require.NoError(t, err)
	require.Contains(t, st.Errors, AlarmMember{MemberID: s.MemberID(), Alarm: AlarmCorrupt}.String())

	require.NoError(t, s.clearAlarm(ctx, s.MemberID(), AlarmCorrupt))
	resp, err = s.Health(ctx)
	require.NoError(t, err)
	require.True(t, resp.Health)
}

// TestDepartedMemberAlarmCleared checks that the leader clears a NOSPACE
// alarm of a member that is not in the cluster: nothing else could.
func TestDepartedMemberAlarmCleared(t *testing.T) {
	s := openSingle(t)
	ctx := testCtx(t)
	require.NoError(t, s.raiseAlarm(ctx, s.MemberID()+1, AlarmNoSpace))
	_, err := s.Put(ctx, "k", "v")
	require.ErrorIs(t, err, ErrNoSpace)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.Put(ctx, "k", "v")
		if err == nil {
			break
		}
		require.ErrorIs(t, err, ErrNoSpace)
		require.True(t, time.Now().Before(deadline), "the departed member's alarm holds")
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := s.AlarmList(ctx)
	require.NoError(t, err)
	require.Empty(t, resp.Alarms)
}
