package keel

import (
	"cmp"
	"context"
	"fmt"

	"github.com/keeldb/keel/mvcc"
)

// Chunk bounds of GetStream. A chunk holds at most maxChunkKeys keys and
// ends once its KVs take Config.MaxRequestBytes (etcd's target size for a
// stream's message); the key bound starts at firstChunkKeys, so that the
// first chunk comes back fast, and doubles while chunks stay under half
// the byte target.
const (
	firstChunkKeys = 16
	maxChunkKeys   = 16384
)

// chunkBounds overrides GetStream's chunk bounds (tests); a zero field
// keeps the default.
type chunkBounds struct {
	firstKeys, maxKeys, maxBytes int
}

// GetStream reads a key, or a range with WithRange, WithPrefix or
// WithFromKey, as Get does, but delivers the result in chunks on a
// channel, so that a range of any size is read in bounded memory: the
// stream holds no more than the chunk it reads and the one waiting in the
// channel, each of about Config.MaxRequestBytes (as in etcd) and at most
// 16384 keys. Every chunk is read at one revision: WithRev's, or the one
// current when the stream starts (after the read-index wait of a
// linearizable read; WithSerializable reads this member's state at once).
// Writes made meanwhile are not seen, and a compaction past that revision
// ends the stream with ErrCompacted. See RangeStreamResponse for what the
// chunks hold and how a failed stream ends; GetStreamToGetResponse merges
// them into a Get's response.
//
// Options: those of Get, with WithLimit bounding the total and
// WithCountOnly sending one response with just Count and the header. As
// in etcd, a stream is always in key order: WithSort with a target other
// than the key or a descending order, and the min/max revision filters,
// fail with ErrInvalidOption (etcd answers Unimplemented).
//
// Errors found before the first chunk (invalid options, ErrCompacted or
// ErrFutureRev for WithRev, no leader, ctx ended, member stopped) are
// returned by GetStream itself, which also reads the first chunk; etcd
// delivers them as a terminal response. Later ones come as the terminal
// response.
//
// The stream's goroutine ends once the final chunk is in the channel,
// when ctx ends or when the Store closes; until then a consumer that
// stops reading leaves it waiting. To abandon a stream before its end,
// cancel ctx.
func (s *Store) GetStream(ctx context.Context, key string, opts ...OpOption) (_ GetStreamChan, err error) {
	defer s.met.request(kindRange, s.met.start(), &err)
	op := OpGet(key, opts...)
	if err := checkOp(&op, s.cfg.MaxTxnOps); err != nil {
		return nil, err
	}
	if err := checkStreamOp(&op); err != nil {
		return nil, err
	}
	if err := s.dataBarrier(ctx, op.serializable); err != nil {
		return nil, err
	}
	st := s.newRangeStream(&op)
	first, done, err := st.next()
	if err != nil {
		return nil, err
	}
	ch := make(chan RangeStreamResponse, 1)
	ch <- first
	if done {
		close(ch)
		return ch, nil
	}
	s.wg.Go(func() { st.run(ctx, ch) })
	return ch, nil
}

// checkStreamOp refuses what a stream cannot do in key order, chunk by
// chunk: another order, and the revision filters (which would make a
// chunk's limit count keys it then drops).
func checkStreamOp(op *Op) error {
	if op.sortOrder != SortNone || op.sortTarget != SortByKey {
		return fmt.Errorf("%w: GetStream does not support custom sort orders", ErrInvalidOption)
	}
	if op.minModRev != 0 || op.maxModRev != 0 || op.minCreateRev != 0 || op.maxCreateRev != 0 {
		return fmt.Errorf("%w: GetStream does not support revision filters", ErrInvalidOption)
	}
	return nil
}

// rangeStream reads a GetStream's chunks; it belongs to one goroutine at a
// time (GetStream's, then run's).
type rangeStream struct {
	s        *Store
	key, end []byte // the next chunk starts at key
	rev      int64  // the revision read at: WithRev's, or pinned by the first chunk
	hdrRev   int64  // the header's revision: current at the first chunk
	pinned   bool   // the first chunk was read
	limit    int64  // WithLimit's total; <= 0 means none
	sent     int64  // keys in the chunks read so far
	keys     int    // the next chunk's key bound
	bounds   chunkBounds
	keysOnly bool
	count    bool // WithCountOnly
}

func (s *Store) newRangeStream(op *Op) *rangeStream {
	b := chunkBounds{firstKeys: firstChunkKeys, maxKeys: maxChunkKeys, maxBytes: s.cfg.MaxRequestBytes}
	if o := s.streamChunks; o.firstKeys > 0 || o.maxKeys > 0 || o.maxBytes > 0 {
		b = chunkBounds{
			firstKeys: cmp.Or(o.firstKeys, b.firstKeys), maxKeys: cmp.Or(o.maxKeys, b.maxKeys), maxBytes: cmp.Or(o.maxBytes, b.maxBytes),
		}
	}
	return &rangeStream{
		s: s, key: op.key, end: op.end, rev: op.rev, limit: op.limit,
		keys: min(b.firstKeys, b.maxKeys), bounds: b, keysOnly: op.keysOnly, count: op.countOnly,
	}
}

// next reads the next chunk; done reports that it is the final one.
func (st *rangeStream) next() (_ RangeStreamResponse, done bool, err error) {
	s := st.s
	if st.count {
		rr, err := s.kv.Range(st.key, st.end, mvcc.RangeOptions{Rev: st.rev, CountOnly: true})
		if err != nil {
			return RangeStreamResponse{}, false, s.localReadErr(err)
		}
		return RangeStreamResponse{GetResponse: &GetResponse{Header: s.headerAt(rr.Rev), Count: rr.Count}}, true, nil
	}
	keys := st.keys
	if st.limit > 0 {
		keys = int(min(int64(keys), st.limit-st.sent))
	}
	cr, err := s.kv.RangeChunk(st.key, st.end, mvcc.ChunkOptions{
		Rev: st.rev, MaxKeys: keys, MaxBytes: st.bounds.maxBytes, KeysOnly: st.keysOnly,
	})
	if err != nil {
		return RangeStreamResponse{}, false, s.localReadErr(err)
	}
	if !st.pinned {
		st.rev, st.hdrRev, st.pinned = cr.ReadRev, cr.Rev, true
	}
	st.sent += int64(len(cr.KVs))
	resp := &GetResponse{Kvs: cr.KVs}
	if cr.More {
		last := cr.KVs[len(cr.KVs)-1].Key
		st.key = append(append(make([]byte, 0, len(last)+1), last...), 0)
	}
	if !cr.More || (st.limit > 0 && st.sent == st.limit) {
		resp.Header, resp.More, resp.Count = s.headerAt(st.hdrRev), cr.More, st.sent
		if cr.More {
			rest, err := s.kv.Range(st.key, st.end, mvcc.RangeOptions{Rev: st.rev, CountOnly: true})
			if err != nil {
				return RangeStreamResponse{}, false, s.localReadErr(err)
			}
			resp.Count += rest.Count
		}
		return RangeStreamResponse{GetResponse: resp}, true, nil
	}
	switch {
	case len(cr.KVs) < keys: // ended by the byte bound: keep about this many
		st.keys = max(len(cr.KVs)+len(cr.KVs)/4, 1)
	case cr.Bytes < st.bounds.maxBytes/2:
		st.keys = min(2*st.keys, st.bounds.maxKeys)
	}
	return RangeStreamResponse{GetResponse: resp}, false, nil
}

// run sends the chunks after the first, which GetStream sent, and closes
// ch. It returns when the final chunk is sent, or ends the stream with a
// terminal response when a read fails, ctx ends or the Store closes.
func (st *rangeStream) run(ctx context.Context, ch chan RangeStreamResponse) {
	defer close(ch)
	s := st.s
	for {
		if err := st.interrupted(ctx); err != nil {
			endStream(ch, err)
			return
		}
		resp, done, err := st.next()
		if err != nil {
			endStream(ch, err)
			return
		}
		select {
		case ch <- resp:
		case <-ctx.Done():
			endStream(ch, st.interrupted(ctx))
			return
		case <-s.stop:
			endStream(ch, s.errStopped())
			return
		}
		if done {
			return
		}
	}
}

// interrupted returns the error that ends the stream before its next
// chunk, if the Store closed or ctx ended.
func (st *rangeStream) interrupted(ctx context.Context) error {
	if st.s.stopped() {
		return st.s.errStopped()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return nil
}

// endStream sends the terminal response carrying err. A chunk still
// waiting in ch is dropped to make room, so that the error is the last
// value the consumer sees, even one that stopped reading: the stream is
// the only sender, so this takes at most two rounds.
func endStream(ch chan RangeStreamResponse, err error) {
	t := RangeStreamResponse{closeErr: err}
	for {
		select {
		case ch <- t:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
