package workload

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"
)

// Gen produces raft log entries with sequential indexes starting at a given
// index. It is not safe for concurrent use.
type Gen struct {
	rng     *rand.ChaCha8
	next    uint64
	size    int
	stamped time.Time
}

// NewGen returns a generator whose first entry has index first and whose
// payloads are size random bytes derived from seed. It returns
// ErrInvalidArgument if first is 0 or size is negative.
func NewGen(seed uint64, first uint64, size int) (*Gen, error) {
	if first == 0 {
		return nil, fmt.Errorf("%w: first index must be >= 1", ErrInvalidArgument)
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: payload size %d", ErrInvalidArgument, size)
	}
	var key [32]byte
	for i := range 4 {
		s := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			key[i*8+j] = byte(s >> (8 * j))
		}
	}
	return &Gen{rng: rand.NewChaCha8(key), next: first, size: size, stamped: time.Now()}, nil
}

// Next returns the index the next generated entry will get.
func (g *Gen) Next() uint64 { return g.next }

// Batch returns n new entries with consecutive indexes.
func (g *Gen) Batch(n int) []*raft.Log {
	logs := make([]*raft.Log, n)
	for i := range logs {
		data := make([]byte, g.size)
		_, _ = g.rng.Read(data) // ChaCha8.Read never fails.
		logs[i] = &raft.Log{
			Index:      g.next,
			Term:       1,
			Type:       raft.LogCommand,
			Data:       data,
			AppendedAt: g.stamped,
		}
		g.next++
	}
	return logs
}

// Batches returns calls batches of n entries each, consecutive across
// batches.
func (g *Gen) Batches(calls, n int) [][]*raft.Log {
	out := make([][]*raft.Log, calls)
	for i := range out {
		out[i] = g.Batch(n)
	}
	return out
}
