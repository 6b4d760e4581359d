package allocs

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sink []byte

func TestLeast(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		min, max uint64
	}{
		{"nothing", 0, 0, 4 << 10},
		{"one MiB", 1 << 20, 1 << 20, 2 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Least(3, func() {
				if tc.size > 0 {
					sink = make([]byte, tc.size)
				}
			})
			require.GreaterOrEqual(t, got, tc.min)
			require.LessOrEqual(t, got, tc.max)
		})
	}
}
