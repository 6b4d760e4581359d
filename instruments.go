package keel

import (
	"io"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keeldb/keel/internal/durable"
	"github.com/keeldb/keel/internal/metrics"
)

// reqKind is the kind of a call, the "kind" label of the request metrics.
type reqKind uint8

const (
	kindRange reqKind = iota
	kindPut
	kindDelete
	kindTxn
	kindCompact
	kindLeaseGrant
	kindLeaseRevoke
	kindLeaseKeepAlive
	kindLeaseTimeToLive
	kindLeaseLeases
	numReqKinds
)

func (k reqKind) String() string {
	switch k {
	case kindRange:
		return "range"
	case kindPut:
		return "put"
	case kindDelete:
		return "delete"
	case kindTxn:
		return "txn"
	case kindCompact:
		return "compact"
	case kindLeaseGrant:
		return "lease_grant"
	case kindLeaseRevoke:
		return "lease_revoke"
	case kindLeaseKeepAlive:
		return "lease_keepalive"
	case kindLeaseTimeToLive:
		return "lease_timetolive"
	case kindLeaseLeases:
		return "lease_leases"
	}
	return "unknown"
}

// opKind is the kind of an Op (an Op that is none of the four fails
// validation and counts as a range).
func opKind(t opType) reqKind {
	switch t {
	case tPut:
		return kindPut
	case tDeleteRange:
		return kindDelete
	case tTxn:
		return kindTxn
	}
	return kindRange
}

// Bucket bounds of the latency histograms: 100µs to 6.6s for requests and
// storage, 1ms to 131s for snapshots.
func latencyBounds() []time.Duration {
	return metrics.ExponentialBounds(100*time.Microsecond, 2, 17)
}

func snapshotBounds() []time.Duration { return metrics.ExponentialBounds(time.Millisecond, 2, 18) }

// storeMetrics holds a Store's counters and histograms: what must be
// counted as it happens. Gauges are read from the Store's state when
// Metrics is called (store_metrics.go). Every field is safe for
// concurrent use.
type storeMetrics struct {
	// epoch is when the metrics began: request timings are offsets from
	// it (now), which read only the monotonic clock.
	epoch time.Time

	requests [numReqKinds]*metrics.Histogram
	// sampleMask makes one request in sampleMask+1 (a power of two) timed,
	// counted sampleMask+1 times in requests: timing every request cost
	// a linearizable Get several percent (two clock reads and two atomic
	// additions on cache lines every goroutine shares).
	sampleMask     uint32
	requestsFailed [numReqKinds]metrics.Counter

	proposals, proposalsFailed metrics.Counter
	leaderChanges, elections   metrics.Counter

	walFsync, dbCommit *metrics.Histogram

	snapTake, snapSend, snapInstall       *metrics.Histogram
	snapTakenBytes                        metrics.Counter
	snapSentBytes, snapSendFailed         metrics.Counter
	snapInstalledBytes, snapInstallFailed metrics.Counter

	leaseGrants, leaseRevokes metrics.Counter
}

func newStoreMetrics() *storeMetrics {
	m := &storeMetrics{
		epoch:      time.Now(),
		sampleMask: requestSampleMask,
		walFsync:   metrics.NewHistogram(latencyBounds()), dbCommit: metrics.NewHistogram(latencyBounds()),
		snapTake: metrics.NewHistogram(snapshotBounds()), snapSend: metrics.NewHistogram(snapshotBounds()),
		snapInstall: metrics.NewHistogram(snapshotBounds()),
	}
	for i := range m.requests {
		m.requests[i] = metrics.NewHistogram(latencyBounds())
	}
	return m
}

// requestSampleMask: one request in 8 is timed.
const requestSampleMask = 7

// start returns when a request starts, for request; -1 (not timed) for
// the requests the sampling skips.
func (m *storeMetrics) start() time.Duration {
	if rand.Uint32()&m.sampleMask != 0 {
		return -1
	}
	return m.now()
}

// now returns the time since epoch. It reads the monotonic clock once,
// where time.Now also reads the wall clock: on some virtual machines each
// read costs ~100ns, which a serializable Get would feel.
func (m *storeMetrics) now() time.Duration { return time.Since(m.epoch) }

// request records a call of kind k that started at start (from now) and
// ended with *err; callers defer it with a named error result.
func (m *storeMetrics) request(k reqKind, start time.Duration, err *error) {
	if start >= 0 {
		m.requests[k].ObserveN(m.now()-start, uint64(m.sampleMask)+1)
	}
	if *err != nil {
		m.requestsFailed[k].Inc()
	}
}

// proposed records a proposal that ended with *err; propose defers it.
func (m *storeMetrics) proposed(err *error) {
	m.proposals.Inc()
	if *err != nil {
		m.proposalsFailed.Inc()
	}
}

// snapshotSender is the raft transport handed to raft: the member's
// transport, with snapshot sends counted and logged.
type snapshotSender struct {
	*durable.Transport
	s *Store
}

// InstallSnapshot implements raft.Transport.
func (t snapshotSender) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest,
	resp *raft.InstallSnapshotResponse, data io.Reader) error {
	start := time.Now()
	err := t.Transport.InstallSnapshot(id, target, args, resp, data)
	m, d := t.s.met, time.Since(start)
	if err != nil {
		m.snapSendFailed.Inc()
		t.s.log.Warn(evSnapshotSendFailed, "to", string(id), "bytes", args.Size, "duration", d, "err", err)
		return err
	}
	m.snapSend.Observe(d)
	m.snapSentBytes.Add(uint64(args.Size))
	t.s.log.Info(evSnapshotSent, "to", string(id), "bytes", args.Size, "duration", d, "index", args.LastLogIndex)
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// restoreKV installs a snapshot into the key-value store, counting and
// logging it.
func (f *fsm) restoreKV(r io.Reader) error {
	start := time.Now()
	cr := &countingReader{r: r}
	err := f.kv.Restore(cr)
	d := time.Since(start)
	if err != nil {
		f.met.snapInstallFailed.Inc()
		f.log.Warn(evSnapshotInstallFailed, "bytes", cr.n, "duration", d, "err", err)
		return err
	}
	f.met.snapInstall.Observe(d)
	f.met.snapInstalledBytes.Add(uint64(cr.n))
	f.log.Info(evSnapshotInstalled, "bytes", cr.n, "duration", d,
		"index", f.kv.ConsistentIndex(), "rev", f.kv.Rev())
	return nil
}

// snapshotTaken counts and logs a raft snapshot written to the sink id.
func (f *fsm) snapshotTaken(id string, n int64, d time.Duration, err error) {
	if err != nil {
		f.log.Warn(evSnapshotTakeFailed, "id", id, "err", err)
		return
	}
	f.met.snapTake.Observe(d)
	f.met.snapTakenBytes.Add(uint64(n))
	f.log.Info(evSnapshotTaken, "id", id, "bytes", n, "duration", d)
}

// count returns the number of leases this member tracks: every lease
// that exists, as of its last apply.
func (l *lessor) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.deadline)
}
