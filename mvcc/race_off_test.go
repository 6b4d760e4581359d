//go:build !race

package mvcc

// raceEnabled reports a -race build, where sync.Pool drops items at random
// and allocation counts are not meaningful.
const raceEnabled = false
