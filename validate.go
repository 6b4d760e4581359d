package keel

import (
	"bytes"
	"fmt"
)

// checkOp validates op before it is proposed or served: everything that
// does not depend on the store's state. maxOps bounds compares and ops per
// branch.
func checkOp(op *Op, maxOps int) error {
	if err := checkOpShape(op, maxOps, 0); err != nil {
		return err
	}
	if op.t == tTxn {
		if _, _, err := checkIntervals(op.thenOps); err != nil {
			return err
		}
		if _, _, err := checkIntervals(op.elseOps); err != nil {
			return err
		}
	}
	return nil
}

func checkOpShape(op *Op, maxOps, depth int) error {
	if op.err != nil {
		return op.err
	}
	switch op.t {
	case tRange:
		if len(op.key) == 0 {
			return ErrEmptyKey
		}
		if !op.IsSortOptionValid() {
			return ErrInvalidSortOption
		}
	case tDeleteRange:
		if len(op.key) == 0 {
			return ErrEmptyKey
		}
	case tPut:
		if len(op.key) == 0 {
			return ErrEmptyKey
		}
		if op.ignoreValue && len(op.val) != 0 {
			return ErrValueProvided
		}
		if op.ignoreLease && op.leaseID != NoLease {
			return ErrLeaseProvided
		}
	case tTxn:
		if depth >= maxTxnDepth {
			return fmt.Errorf("%w: txns nested deeper than %d", ErrInvalidOption, maxTxnDepth)
		}
		if len(op.cmps) > maxOps || len(op.thenOps) > maxOps || len(op.elseOps) > maxOps {
			return ErrTooManyOps
		}
		for i := range op.cmps {
			c := &op.cmps[i]
			if c.err != nil {
				return c.err
			}
			if len(c.key) == 0 {
				return ErrEmptyKey
			}
		}
		for _, ops := range [][]Op{op.thenOps, op.elseOps} {
			for i := range ops {
				if err := checkOpShape(&ops[i], maxOps, depth+1); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("%w: empty op", ErrInvalidOption)
	}
	return nil
}

// interval is a key range [begin, end); end nil means the single key
// begin, end "\x00" means every key from begin on.
type interval struct{ begin, end []byte }

func (iv interval) contains(key []byte) bool {
	switch {
	case len(iv.end) == 0:
		return bytes.Equal(iv.begin, key)
	case len(iv.end) == 1 && iv.end[0] == 0:
		return bytes.Compare(key, iv.begin) >= 0
	}
	return bytes.Compare(key, iv.begin) >= 0 && bytes.Compare(key, iv.end) < 0
}

func anyContains(ivs []interval, key []byte) bool {
	for _, iv := range ivs {
		if iv.contains(key) {
			return true
		}
	}
	return false
}

// checkIntervals rejects a branch that puts one key twice or puts a key
// that it also deletes, looking through nested txns: etcd's rule. The Then
// and Else branches of one nested txn are exclusive, so they may put the
// same key. It returns the keys put and the ranges deleted by ops.
func checkIntervals(ops []Op) (map[string]struct{}, []interval, error) {
	var dels []interval
	for i := range ops {
		if ops[i].t == tDeleteRange {
			dels = append(dels, interval{ops[i].key, ops[i].end})
		}
	}
	puts := make(map[string]struct{})
	for i := range ops {
		if ops[i].t != tTxn {
			continue
		}
		putsThen, delsThen, err := checkIntervals(ops[i].thenOps)
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := checkIntervals(ops[i].elseOps)
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, dup := puts[k]; dup || anyContains(dels, []byte(k)) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, dup := puts[k]; dup {
				if _, fromThen := putsThen[k]; !fromThen {
					return nil, nil, ErrDuplicateKey
				}
			}
			if anyContains(dels, []byte(k)) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels = append(append(dels, delsThen...), delsElse...)
	}
	for i := range ops {
		if ops[i].t != tPut {
			continue
		}
		k := string(ops[i].key)
		if _, dup := puts[k]; dup || anyContains(dels, ops[i].key) {
			return nil, nil, ErrDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
