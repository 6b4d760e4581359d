package wal_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel/wal"
)

// TestConcurrentReadsDuringAppendAndCompaction runs GetLog readers while
// one goroutine appends and another compacts the head, under -race. A
// reader may see ErrLogNotFound only for an index that has been compacted
// away; every entry it does get must be exactly the one written.
func TestConcurrentReadsDuringAppendAndCompaction(t *testing.T) {
	cases := []struct {
		name    string
		segSize int64
	}{
		{"small segments", 1024},
		{"large segments", 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := wal.Open(t.TempDir(), wal.Config{SegmentSize: tc.segSize, NoSync: true})
			require.NoError(t, err)
			defer w.Close()
			const batches, per = 300, 4
			require.NoError(t, w.StoreLogs(makeLogs(1, per, 1)))

			done := make(chan struct{})
			errc := make(chan error, 8)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { // appender
				defer wg.Done()
				defer close(done)
				for b := 1; b < batches; b++ {
					if err := w.StoreLogs(makeLogs(uint64(b*per+1), per, 1)); err != nil {
						errc <- fmt.Errorf("StoreLogs: %w", err)
						return
					}
				}
			}()
			go func() { // compactor
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					first, err1 := w.FirstIndex()
					last, err2 := w.LastIndex()
					if err := errors.Join(err1, err2); err != nil {
						errc <- err
						return
					}
					if last > first+40 {
						if err := w.DeleteRange(first, last-40); err != nil {
							errc <- fmt.Errorf("DeleteRange: %w", err)
							return
						}
					}
				}
			}()
			for r := 0; r < 3; r++ {
				wg.Add(1)
				go func() { // reader
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						default:
						}
						first, _ := w.FirstIndex()
						last, _ := w.LastIndex()
						for i := first; i <= last && first != 0; i++ {
							var l raft.Log
							err := w.GetLog(i, &l)
							if errors.Is(err, raft.ErrLogNotFound) {
								if f, _ := w.FirstIndex(); f > i {
									continue // compacted meanwhile
								}
							}
							if err != nil {
								errc <- fmt.Errorf("GetLog(%d): %w", i, err)
								return
							}
							if want := makeLog(i, 1); string(l.Data) != string(want.Data) || l.Index != i {
								errc <- fmt.Errorf("GetLog(%d) returned index %d data %q", i, l.Index, l.Data)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				require.NoError(t, err)
			}
			last, err := w.LastIndex()
			require.NoError(t, err)
			require.Equal(t, uint64(batches*per), last)
		})
	}
}
