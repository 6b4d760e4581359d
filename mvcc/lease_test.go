package mvcc

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// inTxn runs fn in one write txn for raft index and returns its events.
func inTxn(tb testing.TB, s *Store, index uint64, fn func(tx *TxnWrite)) []Event {
	tb.Helper()
	tx := s.Write(index)
	fn(tx)
	return tx.End()
}

// grant grants leases (id, ttl pairs) in one txn, requiring success.
func grant(tb testing.TB, s *Store, index uint64, idTTL ...int64) {
	tb.Helper()
	inTxn(tb, s, index, func(tx *TxnWrite) {
		for i := 0; i+1 < len(idTTL); i += 2 {
			require.NoError(tb, tx.GrantLease(idTTL[i], idTTL[i+1]))
		}
	})
}

// putLease runs one txn putting each key (value "v") with lease.
func putLease(tb testing.TB, s *Store, index uint64, lease int64, keys ...string) {
	tb.Helper()
	inTxn(tb, s, index, func(tx *TxnWrite) {
		for _, k := range keys {
			tx.Put([]byte(k), []byte("v-"+k), lease)
		}
	})
}

// strs converts keys to strings (nil stays empty).
func strs(keys [][]byte) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, string(k))
	}
	return out
}

func TestLeaseOperations(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"grant records the lease without a revision", func(t *testing.T, s *Store) {
			grant(t, s, 3, 7, 10)
			rec, ok := s.Lease(7)
			require.True(t, ok)
			require.Equal(t, LeaseRecord{ID: 7, TTL: 10}, rec)
			require.EqualValues(t, 1, s.Rev())
			require.EqualValues(t, 3, s.ConsistentIndex())
			require.Equal(t, []LeaseRecord{{ID: 7, TTL: 10}}, s.Leases())
			require.Empty(t, s.LeaseKeys(7))
		}},
		{"grant of an existing lease", func(t *testing.T, s *Store) {
			grant(t, s, 1, 7, 10)
			inTxn(t, s, 2, func(tx *TxnWrite) {
				require.ErrorIs(t, tx.GrantLease(7, 99), ErrLeaseExists)
			})
			rec, _ := s.Lease(7)
			require.EqualValues(t, 10, rec.TTL, "a failed grant changes nothing")
		}},
		{"duplicate grant in one txn", func(t *testing.T, s *Store) {
			inTxn(t, s, 1, func(tx *TxnWrite) {
				require.NoError(t, tx.GrantLease(7, 10))
				require.ErrorIs(t, tx.GrantLease(7, 20), ErrLeaseExists)
			})
			require.Equal(t, []LeaseRecord{{ID: 7, TTL: 10}}, s.Leases())
		}},
		{"invalid grants", func(t *testing.T, s *Store) {
			inTxn(t, s, 1, func(tx *TxnWrite) {
				for _, c := range [][2]int64{{0, 10}, {-1, 10}, {5, 0}, {5, -3}} {
					require.ErrorIs(t, tx.GrantLease(c[0], c[1]), ErrInvalidLease, "id %d ttl %d", c[0], c[1])
				}
			})
			require.Empty(t, s.Leases())
		}},
		{"leases are sorted by ID", func(t *testing.T, s *Store) {
			grant(t, s, 1, 30, 1, 10, 2, 20, 3)
			require.Equal(t, []LeaseRecord{{ID: 10, TTL: 2}, {ID: 20, TTL: 3}, {ID: 30, TTL: 1}}, s.Leases())
		}},
		{"put attaches", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "b", "a")
			require.Equal(t, []string{"a", "b"}, strs(s.LeaseKeys(1)))
			require.Equal(t, []*KeyValue{kvOf("a", "v-a", 2, 2, 1, 1), kvOf("b", "v-b", 2, 2, 1, 1)},
				rangeOK(t, s, "a", "z", RangeOptions{}).KVs)
		}},
		{"re-put with another lease moves the key", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10, 2, 10)
			putLease(t, s, 2, 1, "a", "b")
			putLease(t, s, 3, 2, "a")
			require.Equal(t, []string{"b"}, strs(s.LeaseKeys(1)))
			require.Equal(t, []string{"a"}, strs(s.LeaseKeys(2)))
		}},
		{"re-put with the same lease keeps it", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "a")
			putLease(t, s, 3, 1, "a")
			require.Equal(t, []string{"a"}, strs(s.LeaseKeys(1)))
		}},
		{"put with lease 0 detaches", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "a", "b")
			putLease(t, s, 3, 0, "a")
			require.Equal(t, []string{"b"}, strs(s.LeaseKeys(1)))
			require.Empty(t, s.LeaseKeys(0), "lease 0 is no lease")
		}},
		{"delete detaches", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "a", "b", "c")
			n, _ := deleteRange(t, s, 3, "a", "c")
			require.EqualValues(t, 2, n)
			require.Equal(t, []string{"c"}, strs(s.LeaseKeys(1)))
			// Re-creating a deleted key without a lease does not re-attach it.
			putLease(t, s, 4, 0, "a")
			require.Equal(t, []string{"c"}, strs(s.LeaseKeys(1)))
		}},
		{"revoke deletes attached keys in one revision", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10, 2, 10)
			putLease(t, s, 2, 1, "c", "a")
			putLease(t, s, 3, 2, "x")
			putLease(t, s, 4, 0, "y")
			putLease(t, s, 5, 1, "b")
			var n int64
			evs := inTxn(t, s, 6, func(tx *TxnWrite) {
				var err error
				n, err = tx.RevokeLease(1)
				require.NoError(t, err)
			})
			require.EqualValues(t, 3, n)
			require.EqualValues(t, 6, s.Rev(), "one revision for the whole revoke")
			require.Equal(t, []Event{
				{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("a"), ModRevision: 6}, PrevKv: kvOf("a", "v-a", 2, 2, 1, 1)},
				{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("b"), ModRevision: 6}, PrevKv: kvOf("b", "v-b", 5, 5, 1, 1)},
				{Type: EventTypeDelete, Kv: &KeyValue{Key: []byte("c"), ModRevision: 6}, PrevKv: kvOf("c", "v-c", 2, 2, 1, 1)},
			}, evs)
			_, ok := s.Lease(1)
			require.False(t, ok)
			require.Empty(t, s.LeaseKeys(1))
			require.Equal(t, []string{"x", "y"}, keysOf(rangeOK(t, s, "\x00", "\x00", RangeOptions{}).KVs))
			require.Equal(t, []string{"x"}, strs(s.LeaseKeys(2)))
		}},
		{"revoke of a lease without keys does not bump the revision", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "a")
			deleteRange(t, s, 3, "a", "")
			evs := inTxn(t, s, 4, func(tx *TxnWrite) {
				n, err := tx.RevokeLease(1)
				require.NoError(t, err)
				require.Zero(t, n)
			})
			require.Empty(t, evs)
			require.EqualValues(t, 3, s.Rev())
			require.EqualValues(t, 4, s.ConsistentIndex())
			_, ok := s.Lease(1)
			require.False(t, ok)
		}},
		{"revoke of a missing lease", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			inTxn(t, s, 2, func(tx *TxnWrite) {
				_, err := tx.RevokeLease(2)
				require.ErrorIs(t, err, ErrLeaseNotFound)
				_, err = tx.RevokeLease(1)
				require.NoError(t, err)
				_, err = tx.RevokeLease(1)
				require.ErrorIs(t, err, ErrLeaseNotFound, "already revoked in this txn")
			})
		}},
		{"checkpoint updates RemainingTTL", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			inTxn(t, s, 2, func(tx *TxnWrite) {
				require.NoError(t, tx.CheckpointLease(1, 4500))
				require.ErrorIs(t, tx.CheckpointLease(2, 4500), ErrLeaseNotFound)
				require.ErrorIs(t, tx.CheckpointLease(1, -1), ErrInvalidLease)
			})
			rec, ok := s.Lease(1)
			require.True(t, ok)
			require.Equal(t, LeaseRecord{ID: 1, TTL: 10, RemainingTTL: 4500}, rec)
			require.EqualValues(t, 1, s.Rev())
			require.EqualValues(t, 2, s.ConsistentIndex())
		}},
		{"a txn sees its own lease changes, others see them at End", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "a")
			tx := s.Write(3)
			require.NoError(t, tx.GrantLease(5, 20))
			tx.Put([]byte("k"), []byte("v"), 5)
			tx.Put([]byte("a"), []byte("v"), 5)
			rec, ok := tx.Lease(5)
			require.True(t, ok)
			require.Equal(t, LeaseRecord{ID: 5, TTL: 20}, rec)
			require.Equal(t, []string{"a", "k"}, strs(tx.LeaseKeys(5)))
			require.Empty(t, tx.LeaseKeys(1))
			_, ok = s.Lease(5)
			require.False(t, ok, "not visible before End")
			require.Empty(t, s.LeaseKeys(5))
			require.Equal(t, []string{"a"}, strs(s.LeaseKeys(1)))
			tx.End()
			_, ok = s.Lease(5)
			require.True(t, ok)
			require.Equal(t, []string{"a", "k"}, strs(s.LeaseKeys(5)))
			require.Empty(t, s.LeaseKeys(1))
		}},
		{"grant, put and revoke in one txn", func(t *testing.T, s *Store) {
			putLease(t, s, 1, 0, "z")
			evs := inTxn(t, s, 2, func(tx *TxnWrite) {
				require.NoError(t, tx.GrantLease(9, 5))
				tx.Put([]byte("k"), []byte("v"), 9)
				n, err := tx.RevokeLease(9)
				require.NoError(t, err)
				require.EqualValues(t, 1, n)
				require.Empty(t, tx.LeaseKeys(9))
			})
			require.Len(t, evs, 2)
			require.Equal(t, EventTypeDelete, evs[1].Type)
			require.Empty(t, s.Leases())
			require.Empty(t, rangeOK(t, s, "k", "", RangeOptions{}).KVs)
		}},
		{"returned keys are copies", func(t *testing.T, s *Store) {
			grant(t, s, 1, 1, 10)
			putLease(t, s, 2, 1, "a")
			ks := s.LeaseKeys(1)
			ks[0][0] = 'X'
			require.Equal(t, []string{"a"}, strs(s.LeaseKeys(1)))
		}},
		{"a txn on a closed store is inert", func(t *testing.T, s *Store) {
			require.NoError(t, s.Close())
			tx := s.Write(1)
			require.ErrorIs(t, tx.GrantLease(1, 1), ErrClosed)
			_, err := tx.RevokeLease(1)
			require.ErrorIs(t, err, ErrClosed)
			require.ErrorIs(t, tx.CheckpointLease(1, 1), ErrClosed)
			_, ok := tx.Lease(1)
			require.False(t, ok)
			require.Nil(t, tx.LeaseKeys(1))
			tx.End()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, Config{})
			tc.run(t, s)
		})
	}
}

func TestLeaseRevokeWatch(t *testing.T) {
	s, _ := openStore(t, Config{})
	grant(t, s, 1, 1, 10)
	putLease(t, s, 2, 1, "svc/c", "svc/a")
	putLease(t, s, 3, 1, "svc/b")
	putLease(t, s, 4, 0, "svc/d")

	live, withPrev := &testSink{}, &testSink{}
	mustWatch(t, s, "svc/", "svc0", WatchOptions{}, live)
	mustWatch(t, s, "svc/", "svc0", WatchOptions{PrevKV: true}, withPrev)
	// A catching-up watcher gets the revoke from history too.
	history := &testSink{}
	mustWatch(t, s, "svc/", "svc0", WatchOptions{StartRev: 5}, history)
	inTxn(t, s, 5, func(tx *TxnWrite) {
		n, err := tx.RevokeLease(1)
		require.NoError(t, err)
		require.EqualValues(t, 3, n)
	})
	for _, tc := range []struct {
		name     string
		sink     *testSink
		wantPrev bool
	}{
		{"synced", live, false},
		{"synced with PrevKV", withPrev, true},
		{"catch-up", history, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waitEventsTo(t, tc.sink, 5)
			rs := tc.sink.drain()
			require.Len(t, rs, 1, "one response for the whole revoke")
			checkResponses(t, rs)
			var keys []string
			for _, ev := range rs[0].Events {
				require.Equal(t, EventTypeDelete, ev.Type)
				require.EqualValues(t, 5, ev.Kv.ModRevision)
				keys = append(keys, string(ev.Kv.Key))
				if tc.wantPrev {
					require.NotNil(t, ev.PrevKv)
					require.EqualValues(t, 1, ev.PrevKv.Lease)
					require.Equal(t, "v-"+string(ev.Kv.Key), string(ev.PrevKv.Value))
				} else {
					require.Nil(t, ev.PrevKv)
				}
			}
			require.Equal(t, []string{"svc/a", "svc/b", "svc/c"}, keys, "sorted by key")
		})
	}
}

func TestLeaseReadersDoNotWaitForCommit(t *testing.T) {
	s, _ := openStore(t, Config{CommitInterval: time.Hour})
	grant(t, s, 1, 1, 10)
	putLease(t, s, 2, 1, "a")
	// Hold the commit lock as a slow fsync would: lease reads still answer.
	s.commitMu.Lock()
	type result struct {
		ok     bool
		leases int
		keys   int
	}
	done := make(chan result, 1)
	go func() {
		_, ok := s.Lease(1)
		done <- result{ok: ok, leases: len(s.Leases()), keys: len(s.LeaseKeys(1))}
	}()
	select {
	case r := <-done:
		s.commitMu.Unlock()
		require.Equal(t, result{ok: true, leases: 1, keys: 1}, r)
	case <-time.After(20 * time.Second):
		s.commitMu.Unlock()
		t.Fatal("lease readers blocked behind the commit lock")
	}
}

// TestLeaseConcurrentReadersSeeWholeTxns runs lease readers against a
// writer whose txn i grants lease i, puts a<i> and b<i> with it and
// revokes lease i-1 (deleting a<i-1>, b<i-1>), while commits run in the
// background. Readers must never see two leases or one key of a pair.
func TestLeaseConcurrentReadersSeeWholeTxns(t *testing.T) {
	s, _ := openStore(t, Config{CommitInterval: time.Millisecond, CommitLimit: 5, noSync: true})
	const txns = 300
	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for range 2 {
		wg.Go(func() {
			for !done.Load() {
				ls := s.Leases()
				if len(ls) > 1 {
					errc <- fmt.Errorf("partial txn: leases %v", ls)
					return
				}
				for _, l := range ls {
					if ks := s.LeaseKeys(l.ID); len(ks) != 0 && len(ks) != 2 {
						errc <- fmt.Errorf("partial txn: lease %d keys %q", l.ID, ks)
						return
					}
				}
			}
		})
	}
	for i := int64(1); i <= txns; i++ {
		inTxn(t, s, uint64(i), func(tx *TxnWrite) {
			require.NoError(t, tx.GrantLease(i, 5))
			tx.Put(fmt.Appendf(nil, "a%d", i), []byte("v"), i)
			tx.Put(fmt.Appendf(nil, "b%d", i), []byte("v"), i)
			if i > 1 {
				n, err := tx.RevokeLease(i - 1)
				require.NoError(t, err)
				require.EqualValues(t, 2, n)
			}
		})
	}
	done.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	require.Equal(t, []LeaseRecord{{ID: txns, TTL: 5}}, s.Leases())
	require.NoError(t, s.Err())
}
