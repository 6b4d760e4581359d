package chaos

import (
	"fmt"
	"math/rand"
	"slices"
	"time"
)

// ChangeKind names a kind of membership change. Changes run alongside the
// faults of a schedule (each one starts while a fault is injected), one
// change at a time.
type ChangeKind string

// Membership change kinds.
const (
	// JoinVoter starts a fresh member that joins the cluster (a learner
	// first, which the leader promotes to voter once it has caught up).
	JoinVoter ChangeKind = "join"
	// JoinLearner starts a fresh member that joins as a permanent learner
	// (keel.Config.Learner), which only PromoteLearner makes a voter.
	JoinLearner ChangeKind = "join-learner"
	// PromoteLearner promotes a permanent learner (keel.Store.MemberPromote).
	PromoteLearner ChangeKind = "promote"
	// LeaveMember makes a running member leave (keel.Store.Leave; a leader
	// hands leadership away first).
	LeaveMember ChangeKind = "leave"
	// RemoveMember removes a running member through another one
	// (keel.Store.MemberRemove); it then stops by itself.
	RemoveMember ChangeKind = "remove"
	// RemoveCrashed removes a member that is down: one a fault holds down,
	// or else one the change crashes first (a dead machine taken out).
	RemoveCrashed ChangeKind = "remove-crashed"
)

// AllChangeKinds returns every membership change kind, in a fixed order.
func AllChangeKinds() []ChangeKind {
	return []ChangeKind{JoinVoter, JoinLearner, PromoteLearner, LeaveMember, RemoveMember, RemoveCrashed}
}

// removes reports whether k takes a member out of the cluster.
func (k ChangeKind) removes() bool {
	return k == LeaveMember || k == RemoveMember || k == RemoveCrashed
}

// Change is one scheduled membership change: start it at At (from the start
// of the run), or as soon as the change before it has ended. The executor
// resolves its member at run time, as the members then are: Target picks
// among the candidates (index modulo their number) and Via the member the
// call is made on, where there is a choice.
type Change struct {
	Kind   ChangeKind    `json:"kind"`
	At     time.Duration `json:"at"`
	Target int           `json:"target"`
	Via    int           `json:"via"`
}

// Member bounds of the changes: see ScheduleConfig.MinVoters and
// MaxMembers.
const (
	defaultMaxChanges = 3
	defaultExtraRoom  = 2 // MaxMembers defaults to Members + 2
)

// changeWeight is how often k is drawn relative to the others: a
// permanent learner half as often as a voter joins, as it adds no voter
// and so enables no removal.
func changeWeight(k ChangeKind) int {
	if k == JoinLearner {
		return 1
	}
	return 2
}

// generateChanges draws cfg.Changes kinds into a list of changes that each
// start inside one of s's faults, so that every change runs under a
// partition, a kill or a disk fault. Kinds are drawn in time order from
// the ones the membership allows if every earlier change succeeded: a
// join while there are fewer than MaxMembers members, a promotion while
// there is a permanent learner, a removal while there are more than
// MinVoters voters. It uses its own random stream, so the faults of a seed
// do not depend on whether changes are drawn.
func generateChanges(seed int64, cfg ScheduleConfig, faults []Fault) ([]Change, error) {
	if len(cfg.Changes) == 0 {
		return nil, nil
	}
	for _, k := range cfg.Changes {
		if !slices.Contains(AllChangeKinds(), k) {
			return nil, fmt.Errorf("%w: unknown membership change kind %q", ErrInvalidArgument, k)
		}
	}
	maxChanges := cfg.MaxChanges
	if maxChanges == 0 {
		maxChanges = defaultMaxChanges
	}
	minVoters, maxMembers := cfg.MinVoters, cfg.MaxMembers
	if minVoters == 0 {
		minVoters = cfg.Members
	}
	if maxMembers == 0 {
		maxMembers = cfg.Members + defaultExtraRoom
	}
	if maxChanges < 0 || minVoters < 1 || minVoters > cfg.Members || maxMembers < cfg.Members {
		return nil, fmt.Errorf("%w: membership bounds: %d changes, %d to %d members from %d",
			ErrInvalidArgument, maxChanges, minVoters, maxMembers, cfg.Members)
	}
	rng := rand.New(rand.NewSource(seed ^ 0x6d656d62657273)) // "members"
	n := 1 + rng.Intn(maxChanges)
	changes := make([]Change, n)
	for i := range changes {
		f := faults[rng.Intn(len(faults))]
		changes[i] = Change{At: f.At + time.Duration(rng.Int63n(int64(f.Duration))), Target: rng.Intn(8), Via: rng.Intn(8)}
	}
	slices.SortStableFunc(changes, func(a, b Change) int { return int(a.At - b.At) })
	voters, learners := cfg.Members, 0
	out := changes[:0]
	for _, c := range changes {
		var usable []ChangeKind // each kind changeWeight times
		for _, k := range cfg.Changes {
			switch {
			case (k == JoinVoter || k == JoinLearner) && voters+learners < maxMembers,
				k == PromoteLearner && learners > 0,
				k.removes() && voters > minVoters:
				for range changeWeight(k) {
					usable = append(usable, k)
				}
			}
		}
		if len(usable) == 0 {
			continue // these kinds allow nothing more now
		}
		c.Kind = usable[rng.Intn(len(usable))]
		switch {
		case c.Kind == JoinVoter:
			voters++
		case c.Kind == JoinLearner:
			learners++
		case c.Kind == PromoteLearner:
			learners--
			voters++
		default:
			voters-- // the plan removes voters; the executor may take a learner
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
