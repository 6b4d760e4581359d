package keeltest

import (
	"log/slog"
	"os"
	"time"

	"github.com/keeldb/keel"
)

// WaitLimit bounds every wait a Cluster does on a test's behalf (for a
// leader in NewCluster, Leader and Follower): long enough for a loaded CI
// machine, short enough that a cluster that cannot elect fails the test
// instead of hanging it.
const WaitLimit = 30 * time.Second

// HeartbeatTimeout is the raft heartbeat timeout of a multi-member
// cluster's members unless a Config hook sets another: half Keel's
// default, so that a failover in a test takes about a second, yet long
// enough that a loaded two-core machine running the race detector does not
// see spurious elections (shorter ones do). Their leader lease timeout
// equals their heartbeat timeout unless a hook sets it, instead of Keel's
// default of half of it, so that a leader starved of CPU for a moment
// does not step down. A single member elects itself at once either way.
const HeartbeatTimeout = 500 * time.Millisecond

// ClusterToken is the Config.ClusterToken of a cluster's members unless a
// Config hook sets another: a cluster needs one (or TLS) to take joins.
const ClusterToken = "keeltest"

// Option configures NewCluster.
type Option func(*options)

type options struct {
	configs []func(i int, cfg *keel.Config)
	backup  []byte
}

// WithConfig adds a hook that adjusts member i's Config before its first
// start; every later Restart reuses the result. Hooks run in the order
// given, after keeltest has filled in ID, Dir, Addr, Peers,
// HeartbeatTimeout and Logger, so a hook may change any of them except
// ID, Addr and Peers; LeaderLeaseTimeout, if a hook leaves it zero,
// becomes the heartbeat timeout. A hook's Dial is kept underneath the cluster's fault
// injection; its Listener and TestHooks are replaced by the cluster's own.
func WithConfig(hook func(i int, cfg *keel.Config)) Option {
	return func(o *options) { o.configs = append(o.configs, hook) }
}

// WithBackup makes NewCluster restore every member's Dir from backup (the
// output of keel.Store.Snapshot) with keel.RestoreMember before it first
// starts: the cluster is a new cluster, with a new cluster ID, whose data
// is the backup's. Members that join later (Join) receive it from the
// cluster. NewCluster fails tb if a restore fails.
func WithBackup(backup []byte) Option {
	return func(o *options) { o.backup = backup }
}

// testLogger returns a logger for member id that prints to stderr when the
// environment sets KEEL_TEST_LOG, and nil (discard) otherwise.
func testLogger(id string) *slog.Logger {
	if os.Getenv("KEEL_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("m", id)
}
