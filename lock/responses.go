package lock

import "github.com/keeldb/keel"

// rangeResp returns the response of the i-th operation of a transaction,
// which must be a get.
func rangeResp(r *keel.TxnResponse, i int) *keel.GetResponse { return r.Responses[i].Get() }

// watchHeader returns a copy of a watch response's header, for a
// GetResponse the caller owns.
func watchHeader(wr *keel.WatchResponse) keel.ResponseHeader { return *wr.Header }
