package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/lock"
	"github.com/stretchr/testify/require"
)

var isolations = []lock.Isolation{lock.SerializableSnapshot, lock.Serializable, lock.RepeatableReads, lock.ReadCommitted}

// countingClient counts the transactions made through it: every read and
// every commit of an STM is one.
type countingClient struct {
	keel.Client
	txns atomic.Int64
}

func (c *countingClient) Txn(ctx context.Context) keel.Txn {
	c.txns.Add(1)
	return c.Client.Txn(ctx)
}

// put writes key=val directly on the store, as a concurrent client would.
func put(tb testing.TB, st *keel.Store, key, val string) {
	tb.Helper()
	_, err := st.Put(tb.Context(), key, val)
	require.NoError(tb, err)
}

func get(tb testing.TB, st *keel.Store, key string) string {
	tb.Helper()
	r, err := st.Get(tb.Context(), key)
	require.NoError(tb, err)
	if len(r.Kvs) == 0 {
		return ""
	}
	return string(r.Kvs[0].Value)
}

// TestSTMConflicts runs, at each isolation level, transactions whose
// first attempt is interfered with by a concurrent write at a known point,
// and checks whether the level retries (the function runs again) or
// commits, what the first attempt read, and how many round trips it took.
// The rules are etcd's:
//
//   - ReadCommitted never retries.
//   - RepeatableReads retries when a key it read changed before its
//     commit, and reads each key at the current revision.
//   - Serializable also reads every key at the first read's revision, so
//     a key changed after that revision retries even if read later.
//   - SerializableSnapshot also retries when a key it writes changed after
//     that revision, unless the attempt read nothing.
//   - The serializable levels carry a failed commit's reads into the next
//     attempt, which saves the read round trip.
//
// In every case a, b and w start as "1", and "-" stands for the
// concurrent write (to the key after it) during the first attempt.
func TestSTMConflicts(t *testing.T) {
	type want struct {
		attempts int
		seen     string // what the first attempt read, joined
		txns     int64  // transactions the STM made, reads and commits
	}
	tests := []struct {
		name  string
		apply func(s lock.STM, interfere func(key string), seen *[]string)
		// want per level: SerializableSnapshot, Serializable,
		// RepeatableReads, ReadCommitted.
		want [4]want
	}{
		{
			name: "read key changed: get a, -a, put c",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("a"))
				interfere("a")
				s.Put("c", "x")
			},
			want: [4]want{{2, "1", 3}, {2, "1", 3}, {2, "1", 4}, {1, "1", 2}},
		},
		{
			name: "read key deleted: get a, -a deleted, put c",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("a"))
				interfere("-a")
				s.Put("c", "x")
			},
			want: [4]want{{2, "1", 3}, {2, "1", 3}, {2, "1", 4}, {1, "1", 2}},
		},
		{
			name: "absent read key created: get n, -n, put c",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("n"))
				interfere("n")
				s.Put("c", "x")
			},
			want: [4]want{{2, "", 3}, {2, "", 3}, {2, "", 4}, {1, "", 2}},
		},
		{
			name: "written key changed after the snapshot: get a, -w, put w",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("a"))
				interfere("w")
				s.Put("w", "x")
			},
			want: [4]want{{2, "1", 3}, {1, "1", 2}, {1, "1", 2}, {1, "1", 2}},
		},
		{
			name: "blind write: -w, put w",
			apply: func(s lock.STM, interfere func(string), _ *[]string) {
				interfere("w")
				s.Put("w", "x")
			},
			want: [4]want{{1, "", 1}, {1, "", 1}, {1, "", 1}, {1, "", 1}},
		},
		{
			name: "key changed before its first read: get a, -b, get b, put c",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("a"))
				interfere("b")
				*seen = append(*seen, s.Get("b"))
				s.Put("c", "x")
			},
			want: [4]want{{2, "1 1", 4}, {2, "1 1", 4}, {1, "1 2", 3}, {1, "1 2", 3}},
		},
		{
			name: "reads repeat: get a, -a, get a",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("a"))
				interfere("a")
				*seen = append(*seen, s.Get("a"))
			},
			want: [4]want{{2, "1 1", 3}, {2, "1 1", 3}, {2, "1 1", 4}, {1, "1 1", 2}},
		},
		{
			name: "unrelated key changed: get a, -b, put c",
			apply: func(s lock.STM, interfere func(string), seen *[]string) {
				*seen = append(*seen, s.Get("a"))
				interfere("b")
				s.Put("c", "x")
			},
			want: [4]want{{1, "1", 2}, {1, "1", 2}, {1, "1", 2}, {1, "1", 2}},
		},
	}
	st := openStore(t)
	for _, tc := range tests {
		for i, iso := range isolations {
			t.Run(tc.name+"/"+iso.String(), func(t *testing.T) {
				pfx := fmt.Sprintf("%s/%s/", t.Name(), iso)
				for _, k := range []string{"a", "b", "w"} {
					put(t, st, pfx+k, "1")
				}
				c := &countingClient{Client: st}
				attempts := 0
				var seen []string
				resp, err := lock.NewSTM(c, func(s lock.STM) error {
					attempts++
					interfere := func(key string) {
						if attempts > 1 {
							return
						}
						if key[0] == '-' {
							_, err := st.Delete(t.Context(), pfx+key[1:])
							require.NoError(t, err)
							return
						}
						put(t, st, pfx+key, "2")
					}
					var s1 []string
					tc.apply(prefixed{s, pfx}, interfere, &s1)
					if attempts == 1 {
						seen = s1
					}
					return nil
				}, lock.WithIsolation(iso))
				require.NoError(t, err)
				require.True(t, resp.Succeeded)
				w := tc.want[i]
				require.Equal(t, w.attempts, attempts, "attempts")
				require.Equal(t, w.seen, strings.Join(seen, " "), "values read by the first attempt")
				require.Equal(t, w.txns, c.txns.Load(), "transactions made")
				now, err := st.Get(t.Context(), pfx, keel.WithPrefix(), keel.WithCountOnly())
				require.NoError(t, err)
				require.Equal(t, now.Header.Revision, resp.Header.Revision, "the response is the commit's, the last change")
			})
		}
	}
}

// prefixed is an STM whose keys are under pfx.
type prefixed struct {
	s   lock.STM
	pfx string
}

func (p prefixed) Get(keys ...string) string {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = p.pfx + k
	}
	return p.s.Get(full...)
}
func (p prefixed) Put(k, v string, opts ...keel.OpOption) { p.s.Put(p.pfx+k, v, opts...) }
func (p prefixed) Rev(k string) int64                     { return p.s.Rev(p.pfx + k) }
func (p prefixed) Del(k string)                           { p.s.Del(p.pfx + k) }

// TestSTMOperations checks what Get, Put, Del and Rev return inside an
// attempt, and what the commit writes, at every level.
func TestSTMOperations(t *testing.T) {
	st := openStore(t)
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			pfx := iso.String() + "/"
			put(t, st, pfx+"a", "1")
			put(t, st, pfx+"d", "gone soon")
			before, err := st.Get(t.Context(), pfx+"a")
			require.NoError(t, err)
			aRev := before.Kvs[0].ModRevision
			lease, err := st.Grant(t.Context(), 60)
			require.NoError(t, err)
			c := &countingClient{Client: st}
			resp, err := lock.NewSTM(c, func(s lock.STM) error {
				p := prefixed{s, pfx}
				require.Equal(t, "", p.s.Get(), "Get of no keys")
				require.Equal(t, "1", p.Get("a", "b", "d"), "the first key's value")
				n := c.txns.Load()
				require.Equal(t, "gone soon", p.Get("d"), "prefetched by the Get above")
				require.Equal(t, "", p.Get("b"), "absent, prefetched")
				require.Equal(t, n, c.txns.Load(), "no round trip for keys already read")
				require.Equal(t, aRev, p.Rev("a"))
				require.Equal(t, int64(0), p.Rev("b"), "absent")
				p.Put("a", "2")
				require.Equal(t, "2", p.Get("a"), "reads see the attempt's writes")
				require.Equal(t, aRev, p.Rev("a"), "Rev is the read revision, not changed by writes")
				p.Del("d")
				require.Equal(t, "", p.Get("d"), "deleted in this attempt")
				p.Put("b", "new", keel.WithLease(lease.ID))
				require.Equal(t, "new", p.Get("b", "a"))
				require.Equal(t, "", p.Get("d", "a"), "the first key decides")
				return nil
			}, lock.WithIsolation(iso))
			require.NoError(t, err)
			require.True(t, resp.Succeeded)
			require.Len(t, resp.Responses, 3, "one response per write")
			require.Equal(t, "2", get(t, st, pfx+"a"))
			require.Equal(t, "", get(t, st, pfx+"d"))
			b, err := st.Get(t.Context(), pfx+"b")
			require.NoError(t, err)
			require.Equal(t, int64(lease.ID), b.Kvs[0].Lease, "Put's options apply")
		})
	}
}

// TestSTMPrefetch checks that WithPrefetch reads its keys in one round
// trip before the function runs, on every attempt.
func TestSTMPrefetch(t *testing.T) {
	st := openStore(t)
	for _, iso := range isolations {
		t.Run(iso.String(), func(t *testing.T) {
			pfx := iso.String() + "/"
			keys := []string{pfx + "a", pfx + "b", pfx + "c"}
			for _, k := range keys {
				put(t, st, k, "1")
			}
			c := &countingClient{Client: st}
			_, err := lock.NewSTM(c, func(s lock.STM) error {
				require.Equal(t, int64(1), c.txns.Load(), "one read before the function runs")
				sum := 0
				for _, k := range keys {
					n, err := strconv.Atoi(s.Get(k))
					require.NoError(t, err)
					sum += n
				}
				s.Put(keys[0], strconv.Itoa(sum))
				require.Equal(t, int64(1), c.txns.Load(), "the function's reads were prefetched")
				return nil
			}, lock.WithIsolation(iso), lock.WithPrefetch(keys...))
			require.NoError(t, err)
			require.Equal(t, int64(2), c.txns.Load())
			require.Equal(t, "3", get(t, st, keys[0]))
		})
	}
}

// TestSTMAbort checks the ways an STM stops without committing: the
// function's error, an ended abort context (etcd's TestSTMAbort), a read
// that fails, and a panic, which reaches the caller.
func TestSTMAbort(t *testing.T) {
	st := openStore(t)
	errApply := errors.New("apply failed")
	tests := []struct {
		name  string
		apply func(t *testing.T, s lock.STM, cancel context.CancelFunc) error
		want  error
	}{
		{"function error", func(_ *testing.T, s lock.STM, _ context.CancelFunc) error {
			s.Put("k", "v")
			return errApply
		}, errApply},
		{"abort context ended before the commit", func(_ *testing.T, s lock.STM, cancel context.CancelFunc) error {
			s.Put("k", "v")
			cancel()
			return nil
		}, context.Canceled},
		{"abort context ended before a read", func(_ *testing.T, s lock.STM, cancel context.CancelFunc) error {
			s.Put("k", "v")
			cancel()
			s.Get("r")
			panic("Get returned after its read failed")
		}, context.Canceled},
		{"read of a compacted revision", func(t *testing.T, s lock.STM, _ context.CancelFunc) error {
			s.Get("r") // the snapshot, at the serializable levels
			put(t, st, "r2", "x")
			now, err := st.Get(t.Context(), "r2")
			require.NoError(t, err)
			_, err = st.Compact(t.Context(), now.Header.Revision)
			require.NoError(t, err)
			s.Get("r2")
			s.Put("k", "v")
			return nil
		}, keel.ErrCompacted},
	}
	for _, tc := range tests {
		for _, iso := range isolations {
			t.Run(tc.name+"/"+iso.String(), func(t *testing.T) {
				_, err := st.Delete(t.Context(), "k")
				require.NoError(t, err)
				put(t, st, "r", "x")
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				attempts := 0
				resp, err := lock.NewSTM(st, func(s lock.STM) error {
					attempts++
					return tc.apply(t, s, cancel)
				}, lock.WithIsolation(iso), lock.WithAbortContext(ctx))
				if iso != lock.SerializableSnapshot && iso != lock.Serializable && errors.Is(tc.want, keel.ErrCompacted) {
					// Reads at the current revision are not affected.
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tc.want)
				require.Nil(t, resp)
				require.Equal(t, 1, attempts)
				require.Equal(t, "", get(t, st, "k"), "nothing written")
			})
		}
	}
	t.Run("panic reaches the caller", func(t *testing.T) {
		require.PanicsWithValue(t, "boom", func() {
			_, _ = lock.NewSTM(st, func(s lock.STM) error {
				s.Get("r")
				panic("boom")
			})
		})
	})
}

func TestSTMInvalid(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		name  string
		apply func(lock.STM) error
		opts  []lock.STMOption
	}{
		{"nil function", nil, nil},
		{"unknown isolation", func(lock.STM) error { return nil }, []lock.STMOption{lock.WithIsolation(lock.ReadCommitted + 1)}},
		{"negative isolation", func(lock.STM) error { return nil }, []lock.STMOption{lock.WithIsolation(-1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lock.NewSTM(st, tc.apply, tc.opts...)
			require.ErrorIs(t, err, lock.ErrInvalidSTM)
		})
	}
}

// TestSTMDeprecatedConstructors checks that etcd's older constructors run
// at their levels: a read conflict retries except at ReadCommitted.
func TestSTMDeprecatedConstructors(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		name     string
		run      func(context.Context, keel.Client, func(lock.STM) error) (*keel.TxnResponse, error)
		attempts int
	}{
		{"NewSTMRepeatable", lock.NewSTMRepeatable, 2},
		{"NewSTMSerializable", lock.NewSTMSerializable, 2},
		{"NewSTMReadCommitted", lock.NewSTMReadCommitted, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attempts := 0
			_, err := tc.run(t.Context(), st, func(s lock.STM) error {
				attempts++
				s.Get(tc.name)
				if attempts == 1 {
					put(t, st, tc.name, "changed")
				}
				s.Put(tc.name+"/out", "x")
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, tc.attempts, attempts)
		})
	}
}
