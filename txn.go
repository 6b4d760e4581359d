package keel

import (
	"context"
	"fmt"
)

type txn struct {
	s     *Store
	ctx   context.Context
	cmps  []Cmp
	then  []Op
	els   []Op
	stage int // 0 fresh, 1 after If, 2 after Then, 3 after Else
	err   error
}

func (t *txn) advance(stage int, name string) bool {
	if t.stage >= stage {
		if t.err == nil {
			t.err = fmt.Errorf("%w: %s called twice or out of order", ErrInvalidTxn, name)
		}
		return false
	}
	t.stage = stage
	return true
}

func (t *txn) If(cs ...Cmp) Txn {
	if t.advance(1, "If") {
		t.cmps = append([]Cmp(nil), cs...)
	}
	return t
}

func (t *txn) Then(ops ...Op) Txn {
	if t.advance(2, "Then") {
		t.then = append([]Op(nil), ops...)
	}
	return t
}

func (t *txn) Else(ops ...Op) Txn {
	if t.advance(3, "Else") {
		t.els = append([]Op(nil), ops...)
	}
	return t
}

func (t *txn) Commit() (*TxnResponse, error) {
	if t.err != nil {
		return nil, t.err
	}
	r, err := t.s.Do(t.ctx, OpTxn(t.cmps, t.then, t.els))
	if err != nil {
		return nil, err
	}
	return r.Txn(), nil
}
