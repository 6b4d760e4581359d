// Package clientv3util holds transaction compares that etcd's
// client/v3/clientv3util package offers, under the same names, so code
// that uses them ports by changing the import:
//
//	resp, err := s.Txn(ctx).
//		If(clientv3util.KeyMissing("config/mode")).
//		Then(keel.OpPut("config/mode", "active")).
//		Commit()
//
// Both are plain keel.Compare values and work wherever a Cmp does,
// including on a range (WithRange, WithPrefix), where they must hold for
// every key in it.
package clientv3util
