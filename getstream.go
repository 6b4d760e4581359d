package keel

// GetStreamChan is the channel of a GetStream: the chunks of the read, in
// key order, then closed. It is clientv3's GetStreamChan.
type GetStreamChan <-chan RangeStreamResponse

// RangeStreamResponse is one chunk of a GetStream, as in clientv3. The
// chunks' Kvs are disjoint and follow each other in key order; Header,
// More and Count are set only on the final chunk, and mean what they mean
// in a Get's response (Count is the number of keys in the range, not in
// the chunk).
//
// A stream that fails after it started ends with a terminal response
// whose embedded GetResponse is nil and whose Err is not: ErrCompacted if
// a compaction removed the revision the stream reads at, ErrTimeout
// wrapping the context's error if ctx ended, ErrStopped (ErrRemoved) if
// the member stopped. Chunks not yet received when it failed may be
// dropped, so the error is always the last value before the channel
// closes.
type RangeStreamResponse struct {
	*GetResponse
	closeErr error
}

// Err returns the error of a terminal response, or nil for a chunk.
func (r *RangeStreamResponse) Err() error { return r.closeErr }

// GetStreamToGetResponse reads stream to its end and merges its chunks
// into one response: what Get returns for the same request at the same
// revision. It returns the error of a terminal response, if one comes.
// To give up early, cancel the GetStream's context: GetStreamToGetResponse
// then returns that error.
func GetStreamToGetResponse(stream GetStreamChan) (*GetResponse, error) {
	resp := &GetResponse{}
	for r := range stream {
		if err := r.Err(); err != nil {
			return nil, err
		}
		if r.GetResponse == nil {
			continue
		}
		resp.Kvs = append(resp.Kvs, r.Kvs...)
		if r.Header != nil {
			resp.Header = r.Header
		}
		resp.More = resp.More || r.More
		if r.Count != 0 {
			resp.Count = r.Count
		}
	}
	return resp, nil
}
