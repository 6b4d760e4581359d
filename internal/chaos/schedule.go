package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"time"
)

// FaultKind names a kind of fault. The tiers decide how to inject each; a
// tier that cannot inject a kind leaves it out of ScheduleConfig.Kinds.
type FaultKind string

// Fault kinds.
const (
	// PartitionLeader isolates the current leader (target resolved at
	// injection time) for the fault's duration.
	PartitionLeader FaultKind = "partition-leader"
	// PartitionMinority isolates the target members (a minority).
	PartitionMinority FaultKind = "partition-minority"
	// OneWayLoss drops messages from Targets[0] to Targets[1] only.
	OneWayLoss FaultKind = "one-way-loss"
	// Delay delays messages to and from the target.
	Delay FaultKind = "delay"
	// Flap repeatedly partitions and heals the target during the fault.
	Flap FaultKind = "flap"
	// KillMember kills the target member; it restarts after the duration.
	KillMember FaultKind = "kill-member"
	// KillLeader kills the current leader; it restarts after the duration.
	KillLeader FaultKind = "kill-leader"
	// KillAll kills every member at once; all restart after the duration.
	KillAll FaultKind = "kill-all"
	// Pause stops the target (SIGSTOP, or a stalled member in process) and
	// resumes it after the duration.
	Pause FaultKind = "pause"
	// FsyncFail makes the target's WAL fsync fail (the member must stop;
	// it restarts after the duration).
	FsyncFail FaultKind = "fsync-fail"
	// SlowFsync slows the target's WAL fsync for the duration.
	SlowFsync FaultKind = "slow-fsync"
	// CrashLoseUnsynced crashes the target in a power cut: of its
	// unsynced writes any subset of pages persists, in any order (the
	// in-process tier cuts during a log fsync, faultfs.TornPages); it
	// restarts after the duration.
	CrashLoseUnsynced FaultKind = "crash-lose-unsynced"
	// Restart stops the target cleanly and restarts it after the duration.
	Restart FaultKind = "restart"
)

// AllFaultKinds returns every fault kind, in a fixed order.
func AllFaultKinds() []FaultKind {
	return []FaultKind{PartitionLeader, PartitionMinority, OneWayLoss, Delay, Flap, KillMember, KillLeader,
		KillAll, Pause, FsyncFail, SlowFsync, CrashLoseUnsynced, Restart}
}

// minMembers is the cluster size a kind needs to make sense.
func minMembers(k FaultKind) int {
	switch k {
	case PartitionLeader, PartitionMinority, OneWayLoss, Delay, Flap:
		return 3
	}
	return 1
}

// Fault is one scheduled fault: inject at At (from the start of the run),
// heal or restart after Duration. Targets are member indexes; empty for
// kinds whose target is resolved at injection time (the leader) or is every
// member.
type Fault struct {
	Kind     FaultKind     `json:"kind"`
	At       time.Duration `json:"at"`
	Duration time.Duration `json:"duration"`
	Targets  []int         `json:"targets,omitempty"`
}

// Schedule is a seeded list of faults for a cluster of Members, ordered by
// At, non-overlapping, and of the membership changes that run alongside
// them, ordered by At (see Change).
type Schedule struct {
	Seed    int64    `json:"seed"`
	Members int      `json:"members"`
	Faults  []Fault  `json:"faults"`
	Changes []Change `json:"changes,omitempty"`
}

// String returns the schedule as JSON, for logs.
func (s Schedule) String() string {
	b, _ := json.Marshal(s) // plain data: cannot fail
	return string(b)
}

// ScheduleConfig configures GenerateSchedule. Zero fields mean the
// defaults noted.
type ScheduleConfig struct {
	// Members is the cluster size (required, >= 1).
	Members int
	// Length is the time within which faults start; 0 means 10 s.
	Length time.Duration
	// Kinds are the fault kinds to draw from; empty means every kind
	// applicable to Members. Kinds needing more members are skipped.
	Kinds []FaultKind
	// MinGap and MaxGap bound the quiet time before each fault (the
	// nemesis interval); 0 means 1 s and 3 s.
	MinGap, MaxGap time.Duration
	// MinFault and MaxFault bound each fault's duration; 0 means 500 ms
	// and 3 s.
	MinFault, MaxFault time.Duration
	// MaxFaults caps the number of faults; 0 means no cap other than
	// Length. At least one fault is always scheduled.
	MaxFaults int

	// Changes are the membership change kinds to draw from; empty means
	// none (a schedule of faults only).
	Changes []ChangeKind
	// MaxChanges caps the membership changes: a schedule with Changes has
	// 1 to MaxChanges of them (fewer if the bounds allow no more); 0
	// means 3.
	MaxChanges int
	// MinVoters and MaxMembers bound the membership the changes aim at,
	// were every change to succeed: removals keep at least MinVoters
	// voters, joins at most MaxMembers members. 0 means Members and
	// Members+2.
	MinVoters, MaxMembers int
}

// GenerateSchedule draws a schedule from seed: faults one after another,
// separated by gaps, until Length, and membership changes (cfg.Changes)
// that start during them. The same seed and config give the same
// schedule, and the faults do not depend on cfg's change fields. It
// returns ErrInvalidArgument for an unusable config.
func GenerateSchedule(seed int64, cfg ScheduleConfig) (Schedule, error) {
	if cfg.Members < 1 {
		return Schedule{}, fmt.Errorf("%w: schedule for %d members", ErrInvalidArgument, cfg.Members)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Length, 10*time.Second)
	def(&cfg.MinGap, time.Second)
	def(&cfg.MaxGap, 3*time.Second)
	def(&cfg.MinFault, 500*time.Millisecond)
	def(&cfg.MaxFault, 3*time.Second)
	if cfg.MinGap < 0 || cfg.MaxGap < cfg.MinGap || cfg.MinFault <= 0 || cfg.MaxFault < cfg.MinFault || cfg.Length < 0 {
		return Schedule{}, fmt.Errorf("%w: bad schedule bounds %+v", ErrInvalidArgument, cfg)
	}
	kinds := cfg.Kinds
	if len(kinds) == 0 {
		kinds = AllFaultKinds()
	}
	var usable []FaultKind
	for _, k := range kinds {
		if !slices.Contains(AllFaultKinds(), k) {
			return Schedule{}, fmt.Errorf("%w: unknown fault kind %q", ErrInvalidArgument, k)
		}
		if cfg.Members >= minMembers(k) {
			usable = append(usable, k)
		}
	}
	if len(usable) == 0 {
		return Schedule{}, fmt.Errorf("%w: no fault kind applies to %d members", ErrInvalidArgument, cfg.Members)
	}
	rng := rand.New(rand.NewSource(seed))
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(rng.Int63n(int64(hi-lo)+1))
	}
	s := Schedule{Seed: seed, Members: cfg.Members}
	var at time.Duration
	for {
		at += between(cfg.MinGap, cfg.MaxGap)
		if len(s.Faults) > 0 && (at > cfg.Length || (cfg.MaxFaults > 0 && len(s.Faults) >= cfg.MaxFaults)) {
			break
		}
		f := Fault{Kind: usable[rng.Intn(len(usable))], At: at, Duration: between(cfg.MinFault, cfg.MaxFault)}
		f.Targets = targets(rng, f.Kind, cfg.Members)
		s.Faults = append(s.Faults, f)
		at += f.Duration
	}
	var err error
	if s.Changes, err = generateChanges(seed, cfg, s.Faults); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

func targets(rng *rand.Rand, k FaultKind, n int) []int {
	switch k {
	case PartitionLeader, KillLeader, KillAll:
		return nil
	case PartitionMinority:
		size := 1 + rng.Intn((n-1)/2)
		return rng.Perm(n)[:size]
	case OneWayLoss:
		return rng.Perm(n)[:2]
	}
	return []int{rng.Intn(n)}
}
