package keel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRevokePacer: revokes are handed out at the configured rate, a
// tick's share at a time, catching up at most revokeBurst after a pause.
func TestRevokePacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		after time.Duration // since t0
		want  int           // revokes due
		got   int           // revokes allowed
	}
	tests := []struct {
		name  string
		rate  int
		steps []step
	}{
		{"default rate, one tick at a time", 1000, []step{
			{0, 10_000, 50}, {50 * time.Millisecond, 10_000, 50}, {100 * time.Millisecond, 10_000, 50},
		}},
		{"fewer due than allowed", 1000, []step{
			{0, 3, 3}, {50 * time.Millisecond, 10_000, 50 + 47},
		}},
		{"catch-up is bounded", 1000, []step{
			{0, 0, 0}, {10 * time.Second, 10_000, 250}, {10*time.Second + 50*time.Millisecond, 10_000, 50},
		}},
		{"slow rate", 2, []step{
			{0, 5, 0}, {400 * time.Millisecond, 5, 0}, {600 * time.Millisecond, 5, 1}, {time.Second, 5, 0}, {2 * time.Second, 5, 1},
		}},
		{"unlimited", -1, []step{{0, 10_000, 10_000}, {time.Millisecond, 7, 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newRevokePacer(tc.rate)
			for i, s := range tc.steps {
				require.Equal(t, s.got, p.take(t0.Add(s.after), s.want), "step %d", i)
			}
		})
	}
}
