package chaos

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckAckedWrites(t *testing.T) {
	cases := []struct {
		name  string
		ops   []Operation
		final map[string]string
		lost  bool
	}{
		{"last write visible", []Operation{put(0, "a", "1", 0, 10), put(0, "a", "2", 20, 30)}, map[string]string{"a": "2"}, false},
		{"superseded by concurrent write", []Operation{put(0, "a", "1", 0, 30), put(1, "a", "2", 10, 20)}, map[string]string{"a": "2"}, false},
		{"superseded by unknown write", []Operation{put(0, "a", "1", 0, 10), unknownPut(1, "a", "2", 20)}, map[string]string{"a": "2"}, false},
		{"superseded by delete", []Operation{put(0, "a", "1", 0, 10), del(1, "a", 20, 30, true)}, map[string]string{}, false},
		{"acked cas visible", []Operation{cas(0, "a", "", "1", 0, 10, true)}, map[string]string{"a": "1"}, false},
		{"failed cas ignored", []Operation{put(0, "a", "1", 0, 10), cas(0, "a", "9", "2", 20, 30, false)}, map[string]string{"a": "1"}, false},
		{"unknown write never applied", []Operation{put(0, "a", "1", 0, 10), unknownPut(1, "a", "2", 20)}, map[string]string{"a": "1"}, false},
		{"last acked write lost", []Operation{put(0, "a", "1", 0, 10), put(0, "a", "2", 20, 30)}, map[string]string{"a": "1"}, true},
		{"key vanished", []Operation{put(0, "a", "1", 0, 10)}, map[string]string{}, true},
		{"delete before write does not supersede", []Operation{del(1, "a", 0, 5, false), put(0, "a", "1", 10, 20)}, map[string]string{}, true},
		{"unknown value", []Operation{put(0, "a", "1", 0, 10)}, map[string]string{"a": "zz"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAckedWrites(tc.ops, tc.final)
			if tc.lost {
				require.ErrorIs(t, err, ErrLostWrite)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestCheckHashes(t *testing.T) {
	cases := []struct {
		name string
		hs   []MemberHash
		want error
	}{
		{"equal", []MemberHash{{"a", 7, 10}, {"b", 7, 10}, {"c", 7, 10}}, nil},
		{"single", []MemberHash{{"a", 7, 10}}, nil},
		{"hash differs", []MemberHash{{"a", 7, 10}, {"b", 8, 10}}, ErrHashMismatch},
		{"revision differs", []MemberHash{{"a", 7, 10}, {"b", 7, 11}}, ErrHashMismatch},
		{"empty", nil, ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHashes(tc.hs)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestCheckFloor(t *testing.T) {
	require.NoError(t, CheckFloor(Counts{Completed: 100}, 100))
	require.ErrorIs(t, CheckFloor(Counts{Completed: 99, Unknown: 50}, 100), ErrTooFewOps)
	require.Equal(t, Counts{Completed: 3, Unknown: 5, Failed: 7}, Counts{1, 2, 3}.Add(Counts{2, 3, 4}))
}

func TestCheckInjected(t *testing.T) {
	s := Schedule{Members: 3, Faults: []Fault{{Kind: KillMember}, {Kind: KillMember}, {Kind: Pause}}}
	var c FaultCounters
	require.ErrorIs(t, CheckInjected(s, &c), ErrFaultNotInjected)
	c.Inc(KillMember)
	c.Inc(Pause)
	require.ErrorIs(t, CheckInjected(s, &c), ErrFaultNotInjected)
	c.Add(KillMember, 1)
	require.NoError(t, CheckInjected(s, &c))
	require.Equal(t, map[FaultKind]int{KillMember: 2, Pause: 1}, c.Snapshot())
	require.Equal(t, 0, c.Count(Delay))
}
