package chaos

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// Helpers that build operations for hand-written histories.
func get(c int, key string, call, ret int64, found bool, v string) Operation {
	return Operation{ClientID: c, Input: Input{Kind: OpGet, Key: key}, Output: Output{Found: found, Value: v}, Call: call, Return: ret}
}

func put(c int, key, v string, call, ret int64) Operation {
	return Operation{ClientID: c, Input: Input{Kind: OpPut, Key: key, Value: v}, Call: call, Return: ret}
}

func unknownPut(c int, key, v string, call int64) Operation {
	return Operation{ClientID: c, Input: Input{Kind: OpPut, Key: key, Value: v}, Output: Output{Unknown: true}, Call: call, Return: math.MaxInt64}
}

func del(c int, key string, call, ret int64, ok bool) Operation {
	return Operation{ClientID: c, Input: Input{Kind: OpDelete, Key: key}, Output: Output{OK: ok}, Call: call, Return: ret}
}

func cas(c int, key, expected, v string, call, ret int64, ok bool) Operation {
	in := Input{Kind: OpCAS, Key: key, Value: v, Expected: expected, ExpectAbsent: expected == ""}
	return Operation{ClientID: c, Input: in, Output: Output{OK: ok}, Call: call, Return: ret}
}

func TestCheckVerdicts(t *testing.T) {
	cases := []struct {
		name string
		ops  []Operation
		ok   bool
	}{
		{"empty", nil, true},
		{"sequential put get", []Operation{put(0, "a", "1", 0, 10), get(1, "a", 20, 30, true, "1")}, true},
		{"read of absent key", []Operation{get(0, "a", 0, 10, false, "")}, true},
		{"concurrent read may see old or new", []Operation{
			put(0, "a", "1", 0, 10), put(0, "a", "2", 20, 40), get(1, "a", 25, 30, true, "1"), get(2, "a", 26, 31, true, "2"),
		}, true},
		{"stale read", []Operation{
			put(0, "a", "1", 0, 10), put(0, "a", "2", 20, 30), get(1, "a", 40, 50, true, "1"),
		}, false},
		{"lost write", []Operation{put(0, "a", "1", 0, 10), get(1, "a", 20, 30, false, "")}, false},
		{"read of never written value", []Operation{get(0, "a", 0, 10, true, "x")}, false},
		{"keys are independent", []Operation{
			put(0, "a", "1", 0, 10), put(0, "b", "2", 20, 30), get(1, "a", 40, 50, true, "1"), get(1, "b", 40, 50, true, "2"),
		}, true},
		{"cas success", []Operation{put(0, "a", "1", 0, 10), cas(1, "a", "1", "2", 20, 30, true), get(2, "a", 40, 50, true, "2")}, true},
		{"cas absent success", []Operation{cas(1, "a", "", "2", 0, 10, true), get(2, "a", 20, 30, true, "2")}, true},
		{"cas wins on wrong value", []Operation{put(0, "a", "1", 0, 10), cas(1, "a", "9", "2", 20, 30, true)}, false},
		{"cas fails on right value", []Operation{put(0, "a", "1", 0, 10), cas(1, "a", "1", "2", 20, 30, false)}, false},
		{"cas absent wins on existing key", []Operation{put(0, "a", "1", 0, 10), cas(1, "a", "", "2", 20, 30, true)}, false},
		{"failed cas has no effect", []Operation{
			put(0, "a", "1", 0, 10), cas(1, "a", "9", "2", 20, 30, false), get(2, "a", 40, 50, true, "2"),
		}, false},
		{"two cas from one value both win", []Operation{
			put(0, "a", "1", 0, 10), cas(1, "a", "1", "2", 20, 30, true), cas(2, "a", "1", "3", 20, 30, true),
		}, false},
		{"delete hit then miss", []Operation{put(0, "a", "1", 0, 10), del(1, "a", 20, 30, true), del(1, "a", 40, 50, false)}, true},
		{"delete reports hit on absent key", []Operation{del(1, "a", 0, 10, true)}, false},
		{"read after delete sees value", []Operation{put(0, "a", "1", 0, 10), del(1, "a", 20, 30, true), get(2, "a", 40, 50, true, "1")}, false},
		{"unknown write that later appears", []Operation{
			put(0, "a", "1", 0, 10), unknownPut(1, "a", "2", 20), get(2, "a", 100, 110, true, "2"), cas(2, "a", "2", "3", 120, 130, true),
		}, true},
		{"unknown write that never appears", []Operation{
			put(0, "a", "1", 0, 10), unknownPut(1, "a", "2", 20), get(2, "a", 100, 110, true, "1"), get(2, "a", 200, 210, true, "1"),
		}, true},
		{"unknown write appears then vanishes", []Operation{
			put(0, "a", "1", 0, 10), unknownPut(1, "a", "2", 20), get(2, "a", 100, 110, true, "2"), get(2, "a", 200, 210, true, "1"),
		}, false},
		{"unknown write seen before it was called", []Operation{
			get(2, "a", 0, 10, true, "2"), unknownPut(1, "a", "2", 20),
		}, false},
		{"unknown delete may hit", []Operation{
			put(0, "a", "1", 0, 10), {ClientID: 1, Input: Input{Kind: OpDelete, Key: "a"}, Output: Output{Unknown: true}, Call: 20, Return: math.MaxInt64},
			get(2, "a", 30, 40, false, ""),
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, res, _, err := Check(tc.ops, 10*time.Second)
			require.Equal(t, tc.ok, ok, "result %s", res)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, porcupine.Ok, res)
			} else {
				require.ErrorIs(t, err, ErrNotLinearizable)
				require.Equal(t, porcupine.Illegal, res)
			}
		})
	}
}

func TestSaveHTMLShowsFaults(t *testing.T) {
	ops := []Operation{put(0, "a", "1", 0, 10), put(0, "a", "2", 20, 30), get(1, "a", 40, 50, true, "1")}
	ok, _, info, err := Check(ops, 0)
	require.False(t, ok)
	require.ErrorIs(t, err, ErrNotLinearizable)
	path := filepath.Join(t.TempDir(), "sub", "history.html")
	faults := []FaultEvent{{Kind: KillAll, Targets: []string{"m0", "m1"}, Start: 15, End: 15, Detail: "kill -9 all"}}
	require.NoError(t, SaveHTML(path, info, faults))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), "kill-all")
	require.Contains(t, string(b), "kill -9 all")
	require.Contains(t, string(b), `put(a, \"2\")`)
}

// FuzzCheckHistory feeds arbitrary JSON histories to the checker: it must
// never panic, and a history must be judged the same way twice.
func FuzzCheckHistory(f *testing.F) {
	seed := func(ops []Operation) {
		b, err := json.Marshal(ops)
		require.NoError(f, err)
		f.Add(b)
	}
	seed([]Operation{put(0, "a", "1", 0, 10), get(1, "a", 20, 30, true, "1")})
	seed([]Operation{put(0, "a", "1", 0, 10), cas(1, "a", "1", "2", 5, 30, true), unknownPut(2, "b", "x", 3)})
	seed([]Operation{{Input: Input{Kind: "bogus", Key: "a"}, Call: 5, Return: 1}})
	f.Add([]byte(`[{"input":{"kind":"get"},"output":{"found":true},"call":-1,"return":-5}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ops []Operation
		if json.Unmarshal(b, &ops) != nil || len(ops) > 12 {
			return
		}
		ok1, _, _, _ := Check(ops, 5*time.Second)
		ok2, _, _, _ := Check(ops, 5*time.Second)
		require.Equal(t, ok1, ok2)
	})
}
