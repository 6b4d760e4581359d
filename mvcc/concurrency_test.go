package mvcc

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentReadersNeverSeePartialTxns runs readers, snapshots and
// hashes against a writer whose txns put (or delete) two keys with equal
// values, while the background committer and back-pressure commits move
// data from the overlay to bbolt. Readers must see both keys or neither.
func TestConcurrentReadersNeverSeePartialTxns(t *testing.T) {
	s, _ := openStore(t, Config{CommitInterval: time.Millisecond, CommitLimit: 7, noSync: true})
	const txns = 400
	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}

	for r := range 3 {
		wg.Go(func() {
			for n := 0; !done.Load(); n++ {
				res, err := s.Range([]byte("x"), []byte("z"), RangeOptions{})
				if err != nil {
					report(err)
					return
				}
				if err := checkPair(res); err != nil {
					report(fmt.Errorf("reader %d: %w", r, err))
					return
				}
				// A historical read of any revision must find its values.
				if res.Rev > 1 {
					old, err := s.Range([]byte("x"), []byte("z"), RangeOptions{Rev: 1 + int64(n)%res.Rev})
					if err != nil {
						report(err)
						return
					}
					if err := checkPair(old); err != nil {
						report(fmt.Errorf("reader %d historical: %w", r, err))
						return
					}
				}
			}
		})
	}
	wg.Go(func() { // snapshots and hashes
		for !done.Load() {
			sn, err := s.Snapshot()
			if err != nil {
				report(err)
				return
			}
			_, err = sn.WriteTo(io.Discard)
			_ = sn.Close()
			if err != nil {
				report(err)
				return
			}
			if _, _, err := s.Hash(); err != nil {
				report(err)
				return
			}
			time.Sleep(time.Millisecond) // leave the writer some CPU
		}
	})

	for i := 1; i <= txns; i++ {
		tx := s.Write(uint64(i))
		if i%10 == 0 {
			tx.DeleteRange([]byte("x"), []byte("z"))
		} else {
			v := []byte(fmt.Sprintf("v%d", i))
			tx.Put([]byte("x"), v, 0)
			tx.Put([]byte("y"), v, 0)
		}
		tx.End()
	}
	done.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	require.NoError(t, s.Err())
	require.EqualValues(t, txns+1, s.Rev())
}

// checkPair checks that x and y are both absent or both present with the
// same value and revision.
func checkPair(res *RangeResult) error {
	switch len(res.KVs) {
	case 0:
		return nil
	case 2:
		x, y := res.KVs[0], res.KVs[1]
		if !bytes.Equal(x.Value, y.Value) || x.ModRevision != y.ModRevision {
			return fmt.Errorf("partial txn visible: x=%s@%d y=%s@%d", x.Value, x.ModRevision, y.Value, y.ModRevision)
		}
		return nil
	default:
		return fmt.Errorf("partial txn visible: %d keys at rev %d", len(res.KVs), res.Rev)
	}
}
