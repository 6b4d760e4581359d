package keel

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/keeldb/keel/internal/testhook"
	"github.com/keeldb/keel/wal"
)

// Peer names one member of a statically bootstrapped cluster.
type Peer struct {
	// ID is the member's stable ID (its Config.ID).
	ID string
	// Addr is the address other members dial to reach it, "host:port".
	Addr string
}

// Config configures a Keel member. The zero value of every field except Dir
// means its documented default. Config is passed by value to Open and not
// retained by reference.
type Config struct {
	// ID is the member's stable ID, unique in its cluster. Required when
	// Peers is set (it must be one of the Peers). Default for a single
	// node: generated on first Open and persisted in Dir. Reopening a Dir
	// with a different ID fails with ErrInvalidConfig.
	ID string
	// Dir is the data directory (required). It holds the raft log (wal/),
	// the key-value database (kv.db), raft snapshots (snapshots/) and the
	// member identity (keel.json).
	Dir string
	// Addr is the listen address for member traffic, "host:port". Default:
	// this member's address in Peers, else "127.0.0.1:0".
	Addr string
	// AdvertiseAddr is the address other members dial. Default: Addr with
	// the port actually bound.
	AdvertiseAddr string
	// Peers lists every first member of a static cluster, the same list on
	// each member. Empty means a single-member cluster (unless Join is
	// set). Peers is only used to bootstrap a new Dir; on reopen,
	// membership comes from the raft log.
	Peers []Peer
	// Join lists addresses ("host:port"; host names are resolved at each
	// dial) of running members, any of them. A member opened with Join and
	// a Dir that has no cluster joins the cluster through them instead of
	// bootstrapping one: it is added as a learner, catches up, and is
	// promoted to voter once it keeps up (see doc.go, "Membership"). Open
	// returns once it is a member and serves. The cluster must authorise
	// the join: see ClusterToken and TLS. A Dir that already belongs to a
	// cluster ignores Join. Join and Peers are exclusive.
	Join []string
	// Learner makes a joining member a permanent learner: a non-voting
	// read replica that is never promoted automatically (MemberPromote
	// still promotes it).
	Learner bool
	// JoinTimeout bounds how long Open waits for a join to be accepted
	// and for the new member to catch up. Default 5 minutes.
	JoinTimeout time.Duration
	// RemoveDeadAfter, when positive, makes the leader remove a voter it
	// has not heard from for that long (dead-member cleanup, as Consul's
	// autopilot does): only while the voters that remain reachable keep a
	// quorum of the remaining voters, and never below a quorum of the
	// cluster's initial size (3 voters stay 2 or more). Default 0: off.
	//
	// Caveat: a voter that is alive but cut off from the leader for that
	// long is removed too. When the partition heals it learns it was
	// removed and stops (ErrRemoved); it must join again with a fresh Dir.
	// Choose a duration well above any partition you expect to ride out.
	RemoveDeadAfter time.Duration
	// ClusterToken distinguishes clusters bootstrapped with the same Peers
	// (etcd's --initial-cluster-token): give each cluster its own, the
	// same on all of its first members. The cluster ID is derived from
	// Peers (IDs and addresses) and ClusterToken when a Dir is
	// bootstrapped and persisted in it; members accept connections only
	// from members with the same cluster ID. Default "".
	//
	// Without TLS, ClusterToken is also the join secret: a process joins
	// (Config.Join) only if it presents the same token, compared in
	// constant time and never logged, and a cluster without a token
	// refuses every join. A member's token can be set or changed at any
	// Open; only the token at bootstrap goes into the cluster ID.
	ClusterToken string
	// TLS, when non-nil, secures all member traffic with TLS: it is used
	// both to accept and to dial, so give it certificates, RootCAs and
	// (for mutual TLS) ClientCAs with ClientAuth set. nil means plaintext.
	// With TLS, a joining process is authorised by its certificate: it
	// must be verified against ClientCAs (ClientAuth at least
	// VerifyClientCertIfGiven) and name the joiner's Config.ID as its
	// common name or one of its DNS names.
	TLS *tls.Config
	// Logger receives Keel's and raft's logs. nil discards them.
	Logger *slog.Logger

	// HeartbeatTimeout is how long a follower waits without hearing from
	// the leader before starting an election. Default 1s. A single-member
	// cluster does not wait it out: Open starts its election at once.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits before retrying an
	// election. Default: HeartbeatTimeout.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader keeps leading without
	// hearing from a quorum. Default: HeartbeatTimeout / 2.
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is the number of log entries after which raft
	// takes a snapshot and compacts the log. Default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks SnapshotThreshold.
	// Default 120s.
	SnapshotInterval time.Duration
	// TrailingLogs is the number of log entries kept after a snapshot so
	// that slow followers can catch up without a snapshot. Default 10240.
	TrailingLogs uint64
	// MaxAppendEntries bounds the entries per replication message and per
	// FSM batch. Default 256 (max 1024).
	MaxAppendEntries int
	// MaxTxnOps is the maximum number of compares, and of operations per
	// branch, in one transaction. Default 128.
	MaxTxnOps int
	// MaxRequestBytes is the maximum encoded size of one request.
	// Default 1.5 MiB.
	MaxRequestBytes int
	// CommitInterval is how often applied changes are committed to the
	// key-value database. Durability comes from the raft log, which is
	// fsynced before a write is acknowledged; the database catches up from
	// the log after a crash. Default 100ms.
	CommitInterval time.Duration
	// WALSegmentSize is the preallocated size of each raft log segment.
	// Default 64 MiB. Once a segment is half full the next one is
	// preallocated in the background (one more file of this size on disk)
	// so that starting a segment does not stall writes.
	WALSegmentSize int64

	// AutoCompactRevisions, when positive, makes the leader compact history
	// automatically, keeping the last AutoCompactRevisions revisions.
	// Default 0: off (as in etcd); compact explicitly with Compact.
	AutoCompactRevisions int64
	// AutoCompactWindow, when positive, makes the leader compact history
	// automatically, keeping the revisions of the last AutoCompactWindow.
	// With AutoCompactRevisions also set, the one keeping more history
	// wins. Default 0: off.
	AutoCompactWindow time.Duration
	// AutoCompactInterval is how often automatic compaction runs. Default:
	// AutoCompactWindow/10 (at least 1s, at most 1h) with a window, else
	// 5 minutes.
	AutoCompactInterval time.Duration
	// QuotaBytes is this member's space quota: the most its key-value
	// database may hold in use (its size minus bbolt's free pages; see
	// doc.go, "Space quota"). A write that would take it over fails with
	// ErrNoSpace and raises a NOSPACE alarm, which refuses writes that
	// add data on the whole cluster until the member's in-use size is
	// back under the quota; the member then clears the alarm itself.
	// Default 2 GiB, etcd's default; etcd suggests at most 8 GiB. A
	// negative value means no quota.
	QuotaBytes int64
	// LeaseRevokeRate is the most expired leases the leader revokes per
	// second. Revokes are spread evenly (a share every 50 ms, earliest
	// deadline first), so that a mass expiry, such as every lease at once
	// after a partition longer than the TTLs, does not crowd out writes;
	// the excess waits its turn, expired (its keepalives fail) but not yet
	// revoked. Default 1000, etcd's rate; a negative value means no limit.
	LeaseRevokeRate int
	// AutoDefrag makes this member defragment its database by itself (see
	// Defragment) once compaction has left much of it free: at least half
	// of the database, and at least AutoDefragMinFree bytes, in free
	// pages, checked every AutoDefragInterval. Members take turns through
	// the leader, so at most one member of the cluster defragments
	// automatically at a time (doc.go, "Defragmentation"). Default false:
	// off, as in etcd.
	AutoDefrag bool
	// AutoDefragInterval is how often AutoDefrag checks the free space.
	// Default 5 minutes.
	AutoDefragInterval time.Duration
	// AutoDefragMinFree is the least free space, in bytes, that makes
	// AutoDefrag defragment. Default 64 MiB (above bbolt's 16 MiB growth
	// step, so a file that has just grown is not defragmented again).
	AutoDefragMinFree int64
	// CorruptCheckInterval is how often the leader compares the members'
	// key-value hashes at one revision; every member also compares itself
	// with the others once it has caught up after it starts. A member
	// whose hash differs from the one most members share gets a CORRUPT
	// alarm and stops serving (doc.go, "Corruption detection"). Default 5
	// minutes; a negative value turns both checks off.
	CorruptCheckInterval time.Duration
	// WatchBufferSize is the number of responses a watcher's channel
	// buffers. A watcher whose consumer falls further behind catches up
	// from history later, so this bounds the memory a slow watcher holds.
	// Default 64.
	WatchBufferSize int
	// WatchProgressNotifyInterval is how often watchers created
	// WithProgressNotify get a progress response. Default 10 minutes.
	WatchProgressNotifyInterval time.Duration

	// WALFS, when non-nil, is the file system the raft log is stored on
	// (a seam for fault-injection tests). nil means the OS file system.
	WALFS wal.FS
	// Dial, when non-nil, opens every connection this member makes to
	// other members (a seam for partition and fault-injection tests). nil
	// means a plain TCP dial.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Listener, when non-nil, is used for member traffic instead of
	// listening on Addr (for tests and fault injection). Open takes
	// ownership and closes it on Close.
	Listener net.Listener
	// TestHooks is set by package keeltest, which uses it to crash the
	// members it runs (keeltest.Cluster.Crash). Its type is internal to
	// Keel, so no other caller can set it: leave it nil.
	TestHooks *testhook.Hooks
}

const (
	defaultHeartbeatTimeout  = time.Second
	defaultSnapshotThreshold = 8192
	defaultSnapshotInterval  = 120 * time.Second
	defaultTrailingLogs      = 10240
	defaultMaxAppendEntries  = 256
	defaultMaxTxnOps         = 128
	defaultMaxRequestBytes   = 1536 * 1024
	defaultLeaseRevokeRate   = 1000
	maxMaxAppendEntries      = 1024
	defaultWatchBufferSize   = 64
	defaultAutoCompactEvery  = 5 * time.Minute
	defaultJoinTimeout       = 5 * time.Minute
	defaultQuotaBytes        = 2 << 30
	defaultAutoDefragEvery   = 5 * time.Minute
	defaultAutoDefragMinFree = 64 << 20
	defaultCorruptCheckEvery = 5 * time.Minute
)

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = defaultHeartbeatTimeout
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = cfg.HeartbeatTimeout
	}
	if cfg.LeaderLeaseTimeout <= 0 {
		cfg.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = defaultSnapshotThreshold
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = defaultSnapshotInterval
	}
	if cfg.TrailingLogs == 0 {
		cfg.TrailingLogs = defaultTrailingLogs
	}
	if cfg.MaxAppendEntries <= 0 {
		cfg.MaxAppendEntries = defaultMaxAppendEntries
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = defaultMaxTxnOps
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = defaultMaxRequestBytes
	}
	if cfg.LeaseRevokeRate == 0 {
		cfg.LeaseRevokeRate = defaultLeaseRevokeRate
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = defaultJoinTimeout
	}
	if cfg.QuotaBytes == 0 {
		cfg.QuotaBytes = defaultQuotaBytes
	}
	if cfg.WatchBufferSize <= 0 {
		cfg.WatchBufferSize = defaultWatchBufferSize
	}
	if cfg.AutoCompactInterval <= 0 {
		cfg.AutoCompactInterval = defaultAutoCompactEvery
		if cfg.AutoCompactWindow > 0 {
			cfg.AutoCompactInterval = min(max(cfg.AutoCompactWindow/10, time.Second), time.Hour)
		}
	}
	if cfg.AutoDefragInterval <= 0 {
		cfg.AutoDefragInterval = defaultAutoDefragEvery
	}
	if cfg.CorruptCheckInterval == 0 {
		cfg.CorruptCheckInterval = defaultCorruptCheckEvery
	}
	if cfg.AutoDefragMinFree <= 0 {
		cfg.AutoDefragMinFree = defaultAutoDefragMinFree
	}
	if cfg.Addr == "" {
		for _, p := range cfg.Peers {
			if p.ID == cfg.ID && cfg.ID != "" {
				cfg.Addr = p.Addr
			}
		}
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	return cfg
}

// validate reports the first problem with cfg (after withDefaults).
func (cfg Config) validate() error {
	if cfg.Dir == "" {
		return fmt.Errorf("%w: Dir is required", ErrInvalidConfig)
	}
	if cfg.MaxAppendEntries > maxMaxAppendEntries {
		return fmt.Errorf("%w: MaxAppendEntries %d exceeds %d", ErrInvalidConfig, cfg.MaxAppendEntries, maxMaxAppendEntries)
	}
	if cfg.LeaderLeaseTimeout > cfg.HeartbeatTimeout {
		return fmt.Errorf("%w: LeaderLeaseTimeout must not exceed HeartbeatTimeout", ErrInvalidConfig)
	}
	if cfg.ElectionTimeout < cfg.HeartbeatTimeout {
		return fmt.Errorf("%w: ElectionTimeout must not be below HeartbeatTimeout", ErrInvalidConfig)
	}
	if len(cfg.Join) > 0 && len(cfg.Peers) > 0 {
		return fmt.Errorf("%w: Join and Peers are exclusive", ErrInvalidConfig)
	}
	if cfg.Learner && len(cfg.Peers) > 0 {
		return fmt.Errorf("%w: the first members (Peers) are voters; Learner is for joining members", ErrInvalidConfig)
	}
	if len(cfg.Peers) == 0 {
		return nil
	}
	if cfg.ID == "" {
		return fmt.Errorf("%w: ID is required with Peers", ErrInvalidConfig)
	}
	seen := make(map[string]bool, len(cfg.Peers))
	self := false
	for _, p := range cfg.Peers {
		if p.ID == "" || p.Addr == "" {
			return fmt.Errorf("%w: every peer needs an ID and an Addr", ErrInvalidConfig)
		}
		if seen[p.ID] {
			return fmt.Errorf("%w: duplicate peer ID %q", ErrInvalidConfig, p.ID)
		}
		seen[p.ID] = true
		self = self || p.ID == cfg.ID
	}
	if !self {
		return fmt.Errorf("%w: ID %q is not in Peers", ErrInvalidConfig, cfg.ID)
	}
	return nil
}
