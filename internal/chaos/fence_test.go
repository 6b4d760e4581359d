package chaos

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFencedResource(t *testing.T) {
	type step struct {
		op      string // enter, exit, write
		holder  string
		token   int64
		wantErr error
	}
	cases := []struct {
		name      string
		steps     []step
		stats     FenceStats
		violation bool
	}{
		{"sequential holders", []step{
			{"enter", "a", 5, nil}, {"write", "a", 5, nil}, {"write", "a", 5, nil}, {"exit", "a", 0, nil},
			{"enter", "b", 9, nil}, {"write", "b", 9, nil}, {"exit", "b", 0, nil},
		}, FenceStats{Accepted: 3, Entries: 2}, false},
		{"paused holder is fenced off", []step{
			{"enter", "a", 5, nil}, {"enter", "b", 9, nil}, {"write", "b", 9, nil}, {"write", "a", 5, ErrStaleToken},
		}, FenceStats{Accepted: 1, RejectedStale: 1, Entries: 2, Overlaps: 1}, false},
		{"same token twice", []step{
			{"enter", "a", 5, nil}, {"enter", "b", 5, ErrLockViolation},
		}, FenceStats{Entries: 2, Overlaps: 1, Violations: 1}, true},
		{"decreasing token while inside", []step{
			{"enter", "a", 9, nil}, {"enter", "b", 5, ErrLockViolation}, {"write", "b", 5, nil}, {"write", "a", 9, nil}, {"write", "b", 5, ErrStaleToken},
		}, FenceStats{Accepted: 2, RejectedStale: 1, Entries: 2, Overlaps: 1, Violations: 1}, true},
		{"re-entry by same holder", []step{
			{"enter", "a", 5, nil}, {"enter", "a", 5, nil},
		}, FenceStats{Entries: 2}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r FencedResource
			for i, s := range tc.steps {
				var err error
				switch s.op {
				case "enter":
					err = r.Enter(s.holder, s.token)
				case "exit":
					r.Exit(s.holder)
				case "write":
					err = r.Write(s.token)
				}
				if s.wantErr != nil {
					require.ErrorIs(t, err, s.wantErr, "step %d", i)
				} else {
					require.NoError(t, err, "step %d", i)
				}
			}
			require.Equal(t, tc.stats, r.Stats())
			if tc.violation {
				require.ErrorIs(t, r.Check(), ErrLockViolation)
			} else {
				require.NoError(t, r.Check())
			}
		})
	}
}
