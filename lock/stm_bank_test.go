package lock_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keeltest"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

// transfer is one planned or committed move of money between accounts.
type transfer struct {
	from, to int
	amount   int // planned: the most to move; committed: what moved
	prefetch bool
}

// TestSTMBank is the classic bank test, at each isolation level that
// promises serializable commits, on a 3-member cluster: workers on every
// member move random amounts between accounts (never more than the
// source holds) while auditors on every member sum all accounts, all
// through NewSTM, under contention. Checked:
//
//   - the total is conserved and no balance goes negative;
//   - the final balances are exactly the initial ones plus the committed
//     transfers (plus some subset of those whose outcome was unknown);
//   - every committed audit saw the full total, and at the serializable
//     levels every attempt of one did (a consistent snapshot), while at
//     RepeatableReads an attempt may see a mix that the commit rejects.
//
// The plan (pairs, amounts, which transfers prefetch) comes from the seed
// (LOCK_TEST_SEED replays it); the interleaving is the scheduler's.
func TestSTMBank(t *testing.T) {
	stores := keeltest.NewCluster(t, 3).Members()
	seed := testSeed(t)
	for i, iso := range []lock.Isolation{lock.SerializableSnapshot, lock.Serializable, lock.RepeatableReads} {
		t.Run(iso.String(), func(t *testing.T) {
			runBank(t, stores, iso, rand.New(rand.NewPCG(seed, uint64(i))))
		})
	}
}

func runBank(t *testing.T, stores []*keel.Store, iso lock.Isolation, rng *rand.Rand) {
	const (
		accounts  = 6
		initial   = 100
		workers   = 6
		transfers = 12
		audits    = 8
	)
	ctx := testCtx(t)
	pfx := "bank/" + iso.String() + "/"
	acct := func(i int) string { return fmt.Sprintf("%sacct/%d", pfx, i) }
	keys := make([]string, accounts)
	ops := make([]keel.Op, accounts)
	for i := range accounts {
		keys[i] = acct(i)
		ops[i] = keel.OpPut(keys[i], strconv.Itoa(initial))
	}
	_, err := stores[0].Txn(ctx).Then(ops...).Commit()
	require.NoError(t, err)
	for _, st := range stores {
		// A linearizable read on every member: from now on their
		// serializable reads (RepeatableReads) see the accounts.
		_, err := st.Get(ctx, keys[0])
		require.NoError(t, err)
	}

	plans := make([][]transfer, workers)
	for w := range plans {
		for range transfers {
			from := rng.IntN(accounts)
			to := (from + 1 + rng.IntN(accounts-1)) % accounts
			plans[w] = append(plans[w], transfer{from: from, to: to, amount: 1 + rng.IntN(60), prefetch: rng.IntN(2) == 0})
		}
	}

	var (
		mu                  sync.Mutex
		committed, unknown  []transfer
		attempts, auditRuns atomic.Int64
		mixedViews          atomic.Int64 // audit attempts that saw a wrong total
		wg                  sync.WaitGroup
	)
	errs := make(chan error, workers+len(stores))
	// outcome files one STM's result: committed, not applied, or unknown.
	outcome := func(err error, tr transfer) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			committed = append(committed, tr)
		case errors.Is(err, keel.ErrTimeout): // the commit may have applied
			unknown = append(unknown, tr)
		case errors.Is(err, keel.ErrNoLeader): // nothing was proposed
			t.Logf("not applied: %v", err)
		default:
			return err
		}
		return nil
	}
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for _, plan := range plans[w] {
				var moved transfer // what the last attempt did
				apply := func(s lock.STM) error {
					attempts.Add(1)
					from, err := strconv.Atoi(s.Get(keys[plan.from]))
					if err != nil {
						return err
					}
					to, err := strconv.Atoi(s.Get(keys[plan.to]))
					if err != nil {
						return err
					}
					moved = transfer{from: plan.from, to: plan.to, amount: min(plan.amount, from)}
					if moved.amount > 0 {
						s.Put(keys[plan.from], strconv.Itoa(from-moved.amount))
						s.Put(keys[plan.to], strconv.Itoa(to+moved.amount))
					}
					return nil
				}
				opts := []lock.STMOption{lock.WithIsolation(iso), lock.WithAbortContext(ctx)}
				if plan.prefetch {
					opts = append(opts, lock.WithPrefetch(keys[plan.from], keys[plan.to]))
				}
				_, err := lock.NewSTM(st, apply, opts...)
				if err = outcome(err, moved); err != nil {
					errs <- fmt.Errorf("transfer %+v: %w", plan, err)
					return
				}
			}
		})
	}
	for _, st := range stores {
		wg.Go(func() {
			for range audits {
				var sum int
				_, err := lock.NewSTM(st, func(s lock.STM) error {
					auditRuns.Add(1)
					sum = 0
					for _, k := range keys {
						n, err := strconv.Atoi(s.Get(k))
						if err != nil {
							return err
						}
						sum += n
					}
					if sum != accounts*initial {
						mixedViews.Add(1)
					}
					return nil
				}, lock.WithIsolation(iso), lock.WithAbortContext(ctx))
				switch {
				case errors.Is(err, keel.ErrTimeout), errors.Is(err, keel.ErrNoLeader):
					t.Logf("audit: %v", err)
				case err != nil:
					errs <- fmt.Errorf("audit: %w", err)
					return
				case sum != accounts*initial:
					errs <- fmt.Errorf("committed audit saw a total of %d, want %d", sum, accounts*initial)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%v: %d transfers committed (%d unknown) in %d attempts; %d audit attempts, %d saw a mixed state",
		iso, len(committed), len(unknown), attempts.Load(), auditRuns.Load(), mixedViews.Load())
	if iso != lock.RepeatableReads {
		require.Zero(t, mixedViews.Load(), "an attempt at a serializable level saw a state that never existed")
	}

	final, err := stores[0].Get(ctx, pfx+"acct/", keel.WithPrefix())
	require.NoError(t, err)
	require.Len(t, final.Kvs, accounts)
	got := make([]int, accounts)
	total := 0
	for _, kv := range final.Kvs {
		var i int
		_, err := fmt.Sscanf(string(kv.Key), pfx+"acct/%d", &i)
		require.NoError(t, err)
		got[i], err = strconv.Atoi(string(kv.Value))
		require.NoError(t, err)
		require.GreaterOrEqual(t, got[i], 0, "account %d went negative", i)
		total += got[i]
	}
	require.Equal(t, accounts*initial, total, "the total is conserved")
	want := make([]int, accounts)
	for i := range want {
		want[i] = initial
	}
	for _, tr := range committed {
		want[tr.from] -= tr.amount
		want[tr.to] += tr.amount
	}
	require.True(t, explainedBy(got, want, unknown),
		"final balances %v are not the committed transfers' %v plus a subset of the %d unknown ones", got, want, len(unknown))
}

// explainedBy reports whether got equals want after applying some subset
// of maybe (transfers whose outcome is unknown).
func explainedBy(got, want []int, maybe []transfer) bool {
	if len(maybe) > 16 {
		return true // too many to search; the total was checked
	}
	for set := 0; set < 1<<len(maybe); set++ {
		w := append([]int(nil), want...)
		for i, tr := range maybe {
			if set&(1<<i) != 0 {
				w[tr.from] -= tr.amount
				w[tr.to] += tr.amount
			}
		}
		if equalInts(got, w) {
			return true
		}
	}
	return false
}

func equalInts(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// TestSTMReadCommittedContention runs concurrent increments of one counter
// at ReadCommitted on a 3-member cluster: every function runs exactly once
// (the level never retries), every call commits, and the counter ends
// somewhere between 1 and the number of increments (updates may be lost).
func TestSTMReadCommittedContention(t *testing.T) {
	stores := keeltest.NewCluster(t, 3).Members()
	ctx := testCtx(t)
	const workers, each = 6, 10
	var (
		calls, runs atomic.Int64
		wg          sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for range each {
				calls.Add(1)
				_, err := lock.NewSTM(st, func(s lock.STM) error {
					runs.Add(1)
					n, _ := strconv.Atoi(s.Get("counter")) // "" is 0
					s.Put("counter", strconv.Itoa(n+1))
					return nil
				}, lock.WithIsolation(lock.ReadCommitted), lock.WithAbortContext(ctx))
				if err != nil && !errors.Is(err, keel.ErrTimeout) && !errors.Is(err, keel.ErrNoLeader) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, calls.Load(), runs.Load(), "ReadCommitted ran a function twice")
	n, err := strconv.Atoi(get(t, stores[0], "counter"))
	require.NoError(t, err)
	t.Logf("%d increments, counter %d", calls.Load(), n)
	require.GreaterOrEqual(t, n, 1)
	require.LessOrEqual(t, int64(n), calls.Load())
}
