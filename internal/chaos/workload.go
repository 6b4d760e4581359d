package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/keeldb/keel"
)

// Exec runs one recorded-kind operation against kv and returns the
// client-visible output. It never retries.
func Exec(ctx context.Context, kv keel.KV, in Input) (Output, error) {
	switch in.Kind {
	case OpGet:
		r, err := kv.Get(ctx, in.Key)
		if err != nil {
			return Output{}, err
		}
		out := Output{Revision: revOf(r.Header)}
		if len(r.Kvs) > 0 {
			out.Found, out.Value = true, string(r.Kvs[0].Value)
		}
		return out, nil
	case OpPut:
		r, err := kv.Put(ctx, in.Key, in.Value)
		if err != nil {
			return Output{}, err
		}
		return Output{Revision: revOf(r.Header)}, nil
	case OpDelete:
		r, err := kv.Delete(ctx, in.Key)
		if err != nil {
			return Output{}, err
		}
		return Output{OK: r.Deleted > 0, Revision: revOf(r.Header)}, nil
	case OpCAS:
		cmp := keel.Compare(keel.Value(in.Key), "=", in.Expected)
		if in.ExpectAbsent {
			cmp = keel.Compare(keel.CreateRevision(in.Key), "=", 0)
		}
		r, err := kv.Txn(ctx).If(cmp).Then(keel.OpPut(in.Key, in.Value)).Commit()
		if err != nil {
			return Output{}, err
		}
		return Output{OK: r.Succeeded, Revision: revOf(r.Header)}, nil
	}
	return Output{}, fmt.Errorf("%w: operation kind %q", ErrInvalidArgument, in.Kind)
}

func revOf(h *keel.ResponseHeader) int64 {
	if h == nil {
		return 0
	}
	return h.Revision
}

// Mix holds the relative weights of the operation kinds. The zero value
// means the default Get 35 / Put 30 / Delete 10 / CAS 25.
type Mix struct {
	Get, Put, Delete, CAS int
}

func (m Mix) orDefault() Mix {
	if m.Get+m.Put+m.Delete+m.CAS <= 0 {
		return Mix{Get: 35, Put: 30, Delete: 10, CAS: 25}
	}
	return m
}

func (m Mix) pick(rng *rand.Rand) OpKind {
	n := rng.Intn(m.Get + m.Put + m.Delete + m.CAS)
	switch {
	case n < m.Get:
		return OpGet
	case n < m.Get+m.Put:
		return OpPut
	case n < m.Get+m.Put+m.Delete:
		return OpDelete
	}
	return OpCAS
}

// WorkloadConfig configures a Client. The zero value is usable except that
// Duration or MaxOps (or the ctx) must bound the run.
type WorkloadConfig struct {
	// Keys is the key set, shared by every client of a run; empty means
	// "k0".."k5". Use RunKeys to rotate keys between runs.
	Keys []string
	// Duration bounds the run; 0 means no bound other than MaxOps and ctx.
	Duration time.Duration
	// MaxOps bounds the number of attempted operations; 0 means no bound.
	MaxOps int
	// OpTimeout is the per-operation timeout; 0 means 1 s.
	OpTimeout time.Duration
	// Mix is the operation mix; zero means the default.
	Mix Mix
	// MaxUnknown caps this client's unknown writes, which are expensive to
	// check (each stays concurrent with everything after it): once reached,
	// the client only reads. 0 means 20; negative means no cap.
	MaxUnknown int
	// PadBytes, when positive, makes one write in four carry a value of
	// PadBytes/2 to PadBytes bytes (the unique "c<id>-<seq>" followed by
	// "|" and padding), so that a batch spans several file pages and a
	// crash can persist them out of order. 0 means no padding.
	PadBytes int
}

// Counts summarises a workload run.
type Counts struct {
	// Completed counts operations with a definite outcome.
	Completed int `json:"completed"`
	// Unknown counts writes whose outcome is unknown.
	Unknown int `json:"unknown"`
	// Failed counts operations that certainly had no effect (dropped).
	Failed int `json:"failed"`
}

// Add returns the sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{Completed: c.Completed + d.Completed, Unknown: c.Unknown + d.Unknown, Failed: c.Failed + d.Failed}
}

// RunKeys returns n keys under a random per-run prefix, so successive runs
// against one cluster use fresh keys.
func RunKeys(rng *rand.Rand, n int) []string {
	prefix := fmt.Sprintf("chaos/%08x/", rng.Uint32())
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", prefix, i)
	}
	return keys
}

// Client runs a random sequential workload against one member and records
// every operation. Values are unique: "c<id>-<seq>". A Client is not safe
// for concurrent use; run one goroutine per Client.
type Client struct {
	id   int
	ex   Executor
	rec  *Recorder
	rng  *rand.Rand
	cfg  WorkloadConfig
	seq  int
	seen map[string]*string // last value this client saw per key; nil = absent
	unk  int
}

// NewClient returns a Client with the given id (a porcupine client id, so
// small and unique per Recorder) sending to kv and recording into rec.
func NewClient(id int, kv keel.KV, rec *Recorder, rng *rand.Rand, cfg WorkloadConfig) *Client {
	return NewExecClient(id, KVExecutor{KV: kv}, rec, rng, cfg)
}

// NewExecClient is NewClient for any Executor (for example a member in
// another process).
func NewExecClient(id int, ex Executor, rec *Recorder, rng *rand.Rand, cfg WorkloadConfig) *Client {
	if len(cfg.Keys) == 0 {
		cfg.Keys = []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = time.Second
	}
	if cfg.MaxUnknown == 0 {
		cfg.MaxUnknown = 20
	}
	cfg.Mix = cfg.Mix.orDefault()
	return &Client{id: id, ex: ex, rec: rec, rng: rng, cfg: cfg, seen: map[string]*string{}}
}

// Run issues operations one at a time until ctx ends, Duration elapses or
// MaxOps operations were attempted, and returns the counts of this run.
// Duration only stops new operations: the one in flight keeps its own
// OpTimeout, so the end of a run does not create unknown outcomes
// (canceling ctx does).
// Run may be called again (for example after a restart of the member,
// with a new kv through SetKV); sequence numbers continue.
func (c *Client) Run(ctx context.Context) Counts {
	start := time.Now()
	var n Counts
	for i := 0; c.cfg.MaxOps <= 0 || i < c.cfg.MaxOps; i++ {
		if ctx.Err() != nil || (c.cfg.Duration > 0 && time.Since(start) >= c.cfg.Duration) {
			break
		}
		switch c.step(ctx) {
		case Definite:
			n.Completed++
		case Unknown:
			n.Unknown++
		default:
			n.Failed++
		}
	}
	return n
}

// SetKV points the client at another member (or a restarted one).
func (c *Client) SetKV(kv keel.KV) { c.ex = KVExecutor{KV: kv} }

func (c *Client) step(ctx context.Context) Outcome {
	in := c.next()
	opCtx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	call := c.rec.Now()
	out, err := c.ex.Exec(opCtx, in)
	cancel()
	oc := c.rec.Record(c.id, in, call, out, err)
	switch {
	case oc == Unknown:
		c.unk++
		delete(c.seen, in.Key)
	case oc != Definite:
	case in.Kind == OpGet && out.Found:
		v := out.Value
		c.seen[in.Key] = &v
	case in.Kind == OpGet:
		c.seen[in.Key] = nil
	case in.Kind == OpPut, in.Kind == OpCAS && out.OK:
		v := in.Value
		c.seen[in.Key] = &v
	case in.Kind == OpDelete:
		c.seen[in.Key] = nil
	}
	return oc
}

func (c *Client) next() Input {
	key := c.cfg.Keys[c.rng.Intn(len(c.cfg.Keys))]
	kind := c.cfg.Mix.pick(c.rng)
	if c.cfg.MaxUnknown > 0 && c.unk >= c.cfg.MaxUnknown {
		kind = OpGet
	}
	in := Input{Kind: kind, Key: key}
	if kind == OpGet || kind == OpDelete {
		return in
	}
	c.seq++
	in.Value = fmt.Sprintf("c%d-%d", c.id, c.seq)
	if n := c.cfg.PadBytes; n > 0 && c.rng.Intn(4) == 0 {
		in.Value = padValue(in.Value, n/2+c.rng.Intn(n/2+1))
	}
	if kind == OpCAS {
		last, known := c.seen[key]
		switch {
		case !known || (last == nil && c.rng.Intn(4) == 0):
			in.ExpectAbsent = c.rng.Intn(2) == 0
			if !in.ExpectAbsent {
				in.Expected = fmt.Sprintf("c%d-%d", c.rng.Intn(8), c.rng.Intn(c.seq+1))
			}
		case last == nil:
			in.ExpectAbsent = true
		default:
			in.Expected = *last
		}
	}
	return in
}

// padValue returns v followed by "|" and filler up to size bytes (v alone
// if it is already that long). The filler is a repeated pattern: values
// stay unique through v, and compress no better than the WAL needs.
func padValue(v string, size int) string {
	if len(v)+1 >= size {
		return v
	}
	b := make([]byte, size)
	n := copy(b, v)
	b[n] = padSep
	for i := n + 1; i < size; i++ {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// padSep separates a padded value's unique part from its filler.
const padSep = '|'

// shortValue renders a value for a history description: a padded value
// as its unique part and its length.
func shortValue(v string) string {
	if i := strings.IndexByte(v, padSep); i >= 0 {
		return fmt.Sprintf("%q+%dB", v[:i], len(v)-i)
	}
	return fmt.Sprintf("%q", v)
}
