package chaos

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGenerateSchedule(t *testing.T) {
	cases := []struct {
		name string
		cfg  ScheduleConfig
	}{
		{"defaults three members", ScheduleConfig{Members: 3}},
		{"single member", ScheduleConfig{Members: 1}},
		{"five members few kinds", ScheduleConfig{Members: 5, Kinds: []FaultKind{PartitionMinority, OneWayLoss}, Length: 30 * time.Second}},
		{"capped", ScheduleConfig{Members: 3, MaxFaults: 2, Length: time.Minute}},
		{"short", ScheduleConfig{Members: 3, Length: time.Millisecond}},
	}
	seed := Seed(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := range int64(50) {
				s, err := GenerateSchedule(seed+i, tc.cfg)
				require.NoError(t, err)
				again, err := GenerateSchedule(seed+i, tc.cfg)
				require.NoError(t, err)
				require.Equal(t, s, again, "same seed, same schedule")
				require.NotEmpty(t, s.Faults)
				if tc.cfg.MaxFaults > 0 {
					require.LessOrEqual(t, len(s.Faults), tc.cfg.MaxFaults)
				}
				var end time.Duration
				for _, f := range s.Faults {
					require.Greater(t, f.At, end, "faults ordered, non-overlapping: %s", s)
					require.Positive(t, f.Duration)
					end = f.At + f.Duration
					require.GreaterOrEqual(t, tc.cfg.Members, minMembers(f.Kind))
					if len(tc.cfg.Kinds) > 0 {
						require.Contains(t, tc.cfg.Kinds, f.Kind)
					}
					seen := map[int]bool{}
					for _, m := range f.Targets {
						require.True(t, m >= 0 && m < tc.cfg.Members)
						require.False(t, seen[m])
						seen[m] = true
					}
					if f.Kind == PartitionMinority {
						require.LessOrEqual(t, 2*len(f.Targets), tc.cfg.Members-1)
					}
				}
				var back Schedule
				require.NoError(t, json.Unmarshal([]byte(s.String()), &back))
				require.Equal(t, s, back)
			}
		})
	}
}

func TestGenerateScheduleRejects(t *testing.T) {
	cases := []struct {
		name string
		cfg  ScheduleConfig
	}{
		{"no members", ScheduleConfig{}},
		{"unknown kind", ScheduleConfig{Members: 3, Kinds: []FaultKind{"meteor"}}},
		{"no applicable kind", ScheduleConfig{Members: 1, Kinds: []FaultKind{PartitionLeader}}},
		{"bad gaps", ScheduleConfig{Members: 3, MinGap: 5 * time.Second, MaxGap: time.Second}},
		{"negative fault", ScheduleConfig{Members: 3, MinFault: -time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenerateSchedule(1, tc.cfg)
			require.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

// FuzzScheduleJSON decodes arbitrary bytes as a schedule: no panic, and a
// decoded schedule survives a round trip.
func FuzzScheduleJSON(f *testing.F) {
	s, err := GenerateSchedule(7, ScheduleConfig{Members: 3})
	require.NoError(f, err)
	f.Add([]byte(s.String()))
	f.Add([]byte(`{"seed":1,"members":3,"faults":[{"kind":"pause","at":5,"duration":-1,"targets":[9]}]}`))
	f.Add([]byte(`{"faults":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Schedule
		if json.Unmarshal(b, &s) != nil {
			return
		}
		var back Schedule
		require.NoError(t, json.Unmarshal([]byte(s.String()), &back))
		require.Equal(t, s.String(), back.String())
	})
}
