package chaos

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/anishathalye/porcupine"
)

// keyState is the per-key state of the model: whether the key exists and
// its value.
type keyState struct {
	exists bool
	value  string
}

// Model is the porcupine model of one key of Keel's KV store, with the
// history partitioned by key (see reliability.md §2.2). Inputs are Input
// and outputs Output values:
//
//   - Get must see the current state;
//   - Put sets the value;
//   - Delete removes the key; a definite Delete must report OK exactly when
//     the key existed;
//   - CAS puts when its compare holds; a definite CAS must report OK exactly
//     when it held.
//
// An Unknown output is accepted in every state, and the write may take
// effect (it always does in the model: an unknown write that never took
// effect is linearized after every other operation, as its Return is
// math.MaxInt64).
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByKey,
		Init:      func() any { return keyState{} },
		Step: func(state, input, output any) (bool, any) {
			return step(state.(keyState), input.(Input), output.(Output))
		},
		Equal: func(a, b any) bool { return a.(keyState) == b.(keyState) },
		Hash: func(s any) uint64 {
			st := s.(keyState)
			h := fnv.New64a()
			if st.exists {
				h.Write([]byte{1})
			} else {
				h.Write([]byte{0})
			}
			h.Write([]byte(st.value))
			return h.Sum64()
		},
		DescribeOperation: func(input, output any) string {
			return describeOp(input.(Input), output.(Output))
		},
		DescribeState: func(s any) string {
			st := s.(keyState)
			if !st.exists {
				return "<absent>"
			}
			return shortValue(st.value)
		},
	}
}

func step(st keyState, in Input, out Output) (bool, keyState) {
	switch in.Kind {
	case OpGet:
		if out.Unknown {
			return true, st
		}
		return out.Found == st.exists && (!out.Found || out.Value == st.value), st
	case OpPut:
		return true, keyState{exists: true, value: in.Value}
	case OpDelete:
		return out.Unknown || out.OK == st.exists, keyState{}
	case OpCAS:
		match := (in.ExpectAbsent && !st.exists) || (!in.ExpectAbsent && st.exists && st.value == in.Expected)
		next := st
		if match {
			next = keyState{exists: true, value: in.Value}
		}
		return out.Unknown || out.OK == match, next
	}
	return false, st
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(Input).Key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

func describeOp(in Input, out Output) string {
	res := func(s string) string {
		if out.Unknown {
			return "unknown"
		}
		return s
	}
	switch in.Kind {
	case OpGet:
		if !out.Found {
			return fmt.Sprintf("get(%s) -> %s", in.Key, res("<absent>"))
		}
		return fmt.Sprintf("get(%s) -> %s", in.Key, res(shortValue(out.Value)))
	case OpPut:
		return fmt.Sprintf("put(%s, %s) -> %s", in.Key, shortValue(in.Value), res("ok"))
	case OpDelete:
		return fmt.Sprintf("delete(%s) -> %s", in.Key, res(fmt.Sprintf("deleted=%t", out.OK)))
	case OpCAS:
		exp := shortValue(in.Expected)
		if in.ExpectAbsent {
			exp = "<absent>"
		}
		return fmt.Sprintf("cas(%s, %s -> %s) -> %s", in.Key, exp, shortValue(in.Value), res(fmt.Sprintf("ok=%t", out.OK)))
	}
	return fmt.Sprintf("%v -> %v", in, out)
}
