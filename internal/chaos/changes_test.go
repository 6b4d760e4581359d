package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

func TestGenerateChanges(t *testing.T) {
	base := ScheduleConfig{Members: 3, Length: 1200 * time.Millisecond, MaxFaults: 2,
		MinGap: 100 * time.Millisecond, MaxGap: 400 * time.Millisecond,
		MinFault: 200 * time.Millisecond, MaxFault: 800 * time.Millisecond}
	cases := []struct {
		name    string
		changes []ChangeKind
		max     int
	}{
		{"every kind", AllChangeKinds(), 0},
		{"many", AllChangeKinds(), 8},
		{"joins and leaves", []ChangeKind{JoinVoter, LeaveMember}, 4},
		{"learners", []ChangeKind{JoinLearner, PromoteLearner}, 4},
		{"removals only", []ChangeKind{RemoveMember, RemoveCrashed}, 3},
	}
	seed := Seed(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kinds := map[ChangeKind]int{}
			for i := range int64(200) {
				cfg := base
				cfg.Changes, cfg.MaxChanges = tc.changes, tc.max
				s, err := GenerateSchedule(seed+i, cfg)
				require.NoError(t, err)
				again, err := GenerateSchedule(seed+i, cfg)
				require.NoError(t, err)
				require.Equal(t, s, again, "same seed, same schedule")
				faultsOnly, err := GenerateSchedule(seed+i, base)
				require.NoError(t, err)
				require.Equal(t, faultsOnly.Faults, s.Faults, "changes do not alter the faults")
				require.Empty(t, faultsOnly.Changes)

				maxChanges := tc.max
				if maxChanges == 0 {
					maxChanges = defaultMaxChanges
				}
				require.LessOrEqual(t, len(s.Changes), maxChanges)
				voters, learners := 3, 0
				var last time.Duration
				for _, c := range s.Changes {
					kinds[c.Kind]++
					require.Contains(t, tc.changes, c.Kind)
					require.GreaterOrEqual(t, c.At, last, "ordered: %s", s)
					last = c.At
					during := false
					for _, f := range s.Faults {
						during = during || (c.At >= f.At && c.At < f.At+f.Duration)
					}
					require.True(t, during, "change at %v starts during a fault: %s", c.At, s)
					switch {
					case c.Kind == JoinVoter:
						voters++
					case c.Kind == JoinLearner:
						learners++
					case c.Kind == PromoteLearner:
						require.Positive(t, learners, "a promotion needs a learner: %s", s)
						learners--
						voters++
					default:
						voters--
					}
					require.GreaterOrEqual(t, voters, 3, "%s", s)
					require.LessOrEqual(t, voters+learners, 5, "%s", s)
				}
				var back Schedule
				require.NoError(t, json.Unmarshal([]byte(s.String()), &back))
				require.Equal(t, s, back)
			}
			if tc.name != "removals only" { // nothing to remove at the minimum
				for _, k := range tc.changes {
					require.Positive(t, kinds[k], "kind %s drawn in 200 schedules: %v", k, kinds)
				}
			}
		})
	}
}

func TestGenerateChangesRejects(t *testing.T) {
	cases := []struct {
		name string
		cfg  ScheduleConfig
	}{
		{"unknown kind", ScheduleConfig{Members: 3, Changes: []ChangeKind{"split-brain"}}},
		{"min voters above members", ScheduleConfig{Members: 3, Changes: AllChangeKinds(), MinVoters: 4}},
		{"max members below members", ScheduleConfig{Members: 3, Changes: AllChangeKinds(), MaxMembers: 2}},
		{"negative cap", ScheduleConfig{Members: 3, Changes: AllChangeKinds(), MaxChanges: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenerateSchedule(1, tc.cfg)
			require.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

func TestClassifyChange(t *testing.T) {
	cases := []struct {
		name string
		kind ChangeKind
		err  error
		also []error
		want ChangeOutcome
	}{
		{"done", JoinVoter, nil, nil, ChangeDone},
		{"unhealthy", RemoveMember, fmt.Errorf("x: %w", keel.ErrUnhealthy), nil, ChangeRefused},
		{"change in progress", LeaveMember, keel.ErrChangeInProgress, nil, ChangeRefused},
		{"no leader", JoinLearner, fmt.Errorf("%w: joining", keel.ErrNoLeader), nil, ChangeRefused},
		{"unknown outcome", RemoveCrashed, fmt.Errorf("%w: %w", keel.ErrTimeout, errors.New("lost")), nil, ChangeRefused},
		{"caller killed", RemoveMember, keel.ErrStopped, nil, ChangeRefused},
		{"promoter killed", PromoteLearner, keel.ErrStopped, nil, ChangeRefused},
		{"leaving member stopped", LeaveMember, keel.ErrRemoved, nil, ChangeFailed},
		{"leaving member stopped explained", LeaveMember, keel.ErrRemoved, []error{keel.ErrRemoved}, ChangeRefused},
		{"joining member stopped", JoinVoter, keel.ErrStopped, nil, ChangeFailed},
		{"learner not ready on promote", PromoteLearner, keel.ErrLearnerNotReady, nil, ChangeRefused},
		{"learner not ready elsewhere", RemoveMember, keel.ErrLearnerNotReady, nil, ChangeFailed},
		{"member not found", RemoveMember, keel.ErrMemberNotFound, nil, ChangeFailed},
		{"member not found explained", RemoveMember, keel.ErrMemberNotFound, []error{keel.ErrMemberNotFound}, ChangeRefused},
		{"join refused", JoinVoter, keel.ErrJoinRefused, nil, ChangeFailed},
		{"other", LeaveMember, errors.New("boom"), nil, ChangeFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ClassifyChange(tc.kind, tc.err, tc.also...))
		})
	}
}

func TestCheckChanges(t *testing.T) {
	s := Schedule{Changes: []Change{{Kind: JoinVoter}, {Kind: LeaveMember}, {Kind: RemoveMember}}}
	r := func(i int, k ChangeKind, o ChangeOutcome, dev string) ChangeResult {
		return ChangeResult{Change: i, Kind: k, Outcome: o, Deviation: dev}
	}
	cases := []struct {
		name    string
		results []ChangeResult
		want    error
	}{
		{"all done", []ChangeResult{r(0, JoinVoter, ChangeDone, ""), r(1, LeaveMember, ChangeDone, ""), r(2, RemoveMember, ChangeDone, "")}, nil},
		{"refusals", []ChangeResult{r(0, JoinVoter, ChangeRefused, "refused"), r(1, LeaveMember, ChangeSkipped, "skipped"), r(2, RemoveMember, ChangeRefused, "refused")}, nil},
		{"out of order", []ChangeResult{r(2, RemoveMember, ChangeDone, ""), r(0, JoinVoter, ChangeDone, ""), r(1, LeaveMember, ChangeDone, "")}, nil},
		{"missing", []ChangeResult{r(0, JoinVoter, ChangeDone, ""), r(2, RemoveMember, ChangeDone, "")}, ErrChangeNotAttempted},
		{"twice", []ChangeResult{r(0, JoinVoter, ChangeDone, ""), r(0, JoinVoter, ChangeDone, ""), r(1, LeaveMember, ChangeDone, ""), r(2, RemoveMember, ChangeDone, "")}, ErrChangeNotAttempted},
		{"unscheduled", []ChangeResult{r(0, JoinVoter, ChangeDone, ""), r(1, LeaveMember, ChangeDone, ""), r(2, RemoveMember, ChangeDone, ""), r(3, JoinVoter, ChangeDone, "")}, ErrChangeNotAttempted},
		{"wrong kind", []ChangeResult{r(0, JoinLearner, ChangeDone, ""), r(1, LeaveMember, ChangeDone, ""), r(2, RemoveMember, ChangeDone, "")}, ErrChangeNotAttempted},
		{"skip unexplained", []ChangeResult{r(0, JoinVoter, ChangeDone, ""), r(1, LeaveMember, ChangeSkipped, "skipped"), r(2, RemoveMember, ChangeDone, "")}, ErrChangeNotAttempted},
		{"skip explained by a later change only", []ChangeResult{r(0, JoinVoter, ChangeSkipped, "skipped"), r(1, LeaveMember, ChangeRefused, "refused"), r(2, RemoveMember, ChangeDone, "")}, ErrChangeNotAttempted},
		{"failed", []ChangeResult{r(0, JoinVoter, ChangeFailed, "x"), r(1, LeaveMember, ChangeDone, ""), r(2, RemoveMember, ChangeDone, "")}, ErrChangeFailed},
		{"unknown outcome", []ChangeResult{r(0, JoinVoter, "maybe", ""), r(1, LeaveMember, ChangeDone, ""), r(2, RemoveMember, ChangeDone, "")}, ErrChangeNotAttempted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckChanges(s, tc.results)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.NoError(t, CheckChanges(Schedule{}, nil), "no changes scheduled")
}

func TestChangeCounts(t *testing.T) {
	var log ChangeLog
	log.Add(ChangeResult{Kind: JoinVoter, Outcome: ChangeDone, UnderFaults: []FaultKind{KillMember}})
	log.Add(ChangeResult{Kind: JoinVoter, Outcome: ChangeRefused})
	log.Add(ChangeResult{Kind: LeaveMember, Outcome: ChangeDone, UnderFaults: []FaultKind{Flap}})
	log.Add(ChangeResult{Kind: RemoveMember, Outcome: ChangeDone, Reported: "keel: member not found"})
	c := Count(log.Results())
	require.Equal(t, 4, c.Total)
	require.Equal(t, 2, c.UnderFaults)
	require.Equal(t, "4 (2 under faults): join done 1 refused 1, leave done 1, remove done 1 (1 with a known Keel issue)", c.String())
	sum := c.Add(Count([]ChangeResult{{Kind: PromoteLearner, Outcome: ChangeSkipped}, {Kind: RemoveMember, Outcome: ChangeRefused}}))
	require.Equal(t, "6 (2 under faults): join done 1 refused 1, promote skipped 1, leave done 1, remove done 1 (1 with a known Keel issue) refused 1", sum.String())
	require.Equal(t, "0 (0 under faults)", ChangeCounts{}.String())
}
