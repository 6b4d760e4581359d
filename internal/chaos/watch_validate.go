package chaos

import (
	"errors"
	"fmt"

	"github.com/keeldb/keel"
)

// Rule names a watch guarantee.
type Rule string

// Watch guarantees checked by ValidateWatch (definitions as in etcd's
// robustness suite, reliability.md §2.5).
const (
	// RuleFilter: every event matches the watched key or range.
	RuleFilter Rule = "filter"
	// RuleOrdered: event revisions never go backwards.
	RuleOrdered Rule = "ordered"
	// RuleUnique: no (revision, key) is delivered twice.
	RuleUnique Rule = "unique"
	// RuleAtomic: a revision's events are never split across responses.
	RuleAtomic Rule = "atomic"
	// RuleBookmarkable: after a progress notification at R no event <= R
	// arrives, and notifications never go backwards.
	RuleBookmarkable Rule = "bookmarkable"
	// RuleResumable: a watch from revision R first receives the first
	// matching event with revision >= R.
	RuleResumable Rule = "resumable"
	// RuleReliable: the events between the first expected and the last
	// observed revision are exactly the matching ground-truth events.
	RuleReliable Rule = "reliable"
	// RulePrevKV: with prevKV, each event's PrevKV is the key's state at
	// revision-1.
	RulePrevKV Rule = "prevkv"
	// RuleIsCreate: a put is a create exactly when the key was absent.
	RuleIsCreate Rule = "iscreate"
	// RuleCompaction: a start revision below the compaction revision gets
	// an explicit CompactRev cancel (never a silent skip), and a
	// compaction cancel is final, empty and justified.
	RuleCompaction Rule = "compaction"
)

// Violation is one broken watch guarantee. It wraps ErrWatchViolation.
type Violation struct {
	Rule   Rule
	Member string
	Detail string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("%v: %s (member %q): %s", ErrWatchViolation, v.Rule, v.Member, v.Detail)
}

// Unwrap returns ErrWatchViolation.
func (v *Violation) Unwrap() error { return ErrWatchViolation }

// ValidateWatch checks a recorded stream against the ground truth h with
// every rule and returns all violations joined (nil if none). Each element
// is a *Violation; use errors.As or Violations to inspect them.
func ValidateWatch(h *History, s WatchStream) error {
	vs := Violations(h, s)
	if len(vs) == 0 {
		return nil
	}
	errs := make([]error, len(vs))
	for i, v := range vs {
		errs[i] = v
	}
	return errors.Join(errs...)
}

// Violations returns every violation of every rule, at most a few per rule.
func Violations(h *History, s WatchStream) []*Violation {
	var out []*Violation
	for _, check := range []func(*History, WatchStream) []*Violation{
		checkFilter, checkOrdered, checkUnique, checkAtomic, checkBookmarkable,
		checkResumable, checkReliable, checkPrevKV, checkIsCreate, checkCompaction,
	} {
		out = append(out, check(h, s)...)
	}
	return out
}

const maxPerRule = 5

type collector struct {
	rule   Rule
	member string
	out    []*Violation
}

func (c *collector) addf(format string, args ...any) {
	if len(c.out) < maxPerRule {
		c.out = append(c.out, &Violation{Rule: c.rule, Member: c.member, Detail: fmt.Sprintf(format, args...)})
	}
}

// observed is one delivered event with the index of its response.
type observed struct {
	resp int
	ev   Event
}

func flatten(s WatchStream) []observed {
	var out []observed
	for i, r := range s.Responses {
		for _, e := range r.Events {
			out = append(out, observed{i, e})
		}
	}
	return out
}

func checkFilter(_ *History, s WatchStream) []*Violation {
	c := collector{rule: RuleFilter, member: s.Member}
	for _, o := range flatten(s) {
		if !s.Request.Matches(o.ev.KV.Key) {
			c.addf("event for key %q at revision %d outside the watched range", o.ev.KV.Key, o.ev.KV.ModRev)
		}
	}
	return c.out
}

func checkOrdered(_ *History, s WatchStream) []*Violation {
	c := collector{rule: RuleOrdered, member: s.Member}
	var last int64
	for _, o := range flatten(s) {
		if o.ev.KV.ModRev < last {
			c.addf("revision %d (key %q) after revision %d", o.ev.KV.ModRev, o.ev.KV.Key, last)
		}
		last = max(last, o.ev.KV.ModRev)
	}
	return c.out
}

func checkUnique(_ *History, s WatchStream) []*Violation {
	c := collector{rule: RuleUnique, member: s.Member}
	type rk struct {
		rev int64
		key string
	}
	seen := map[rk]bool{}
	for _, o := range flatten(s) {
		k := rk{o.ev.KV.ModRev, o.ev.KV.Key}
		if seen[k] {
			c.addf("key %q at revision %d delivered twice", k.key, k.rev)
		}
		seen[k] = true
	}
	return c.out
}

func checkAtomic(h *History, s WatchStream) []*Violation {
	c := collector{rule: RuleAtomic, member: s.Member}
	respOf := map[int64]int{}
	count := map[int64]int{}
	for _, o := range flatten(s) {
		r := o.ev.KV.ModRev
		if first, ok := respOf[r]; ok && first != o.resp {
			c.addf("revision %d split across responses %d and %d", r, first, o.resp)
		}
		if _, ok := respOf[r]; !ok {
			respOf[r] = o.resp
		}
		count[r]++
	}
	for r, n := range count {
		if r > h.last {
			continue // reported by Reliable
		}
		if want := len(h.matching(s.Request, r, r)); n < want {
			c.addf("revision %d delivered %d of its %d matching events", r, n, want)
		}
	}
	return c.out
}

func checkBookmarkable(_ *History, s WatchStream) []*Violation {
	c := collector{rule: RuleBookmarkable, member: s.Member}
	var lastEvent, lastProgress int64
	for _, r := range s.Responses {
		if r.Progress {
			if r.HeaderRev < lastProgress {
				c.addf("progress notification %d after %d", r.HeaderRev, lastProgress)
			}
			if r.HeaderRev < lastEvent {
				c.addf("progress notification %d below delivered event revision %d", r.HeaderRev, lastEvent)
			}
			lastProgress = max(lastProgress, r.HeaderRev)
			continue
		}
		for _, e := range r.Events {
			if e.KV.ModRev <= lastProgress {
				c.addf("event at revision %d after progress notification %d", e.KV.ModRev, lastProgress)
			}
			lastEvent = max(lastEvent, e.KV.ModRev)
		}
	}
	return c.out
}

func checkResumable(h *History, s WatchStream) []*Violation {
	c := collector{rule: RuleResumable, member: s.Member}
	obs := flatten(s)
	if s.Request.StartRev <= 0 || len(obs) == 0 {
		return nil
	}
	want := h.matching(s.Request, s.Request.StartRev, h.last)
	switch {
	case len(want) == 0:
		c.addf("first event %q@%d but no matching event >= %d in ground truth", obs[0].ev.KV.Key, obs[0].ev.KV.ModRev, s.Request.StartRev)
	case !sameChange(obs[0].ev, h.events[want[0]]):
		g := h.events[want[0]]
		c.addf("first event %s %q@%d, want %s %q@%d", obs[0].ev.Type, obs[0].ev.KV.Key, obs[0].ev.KV.ModRev, g.Type, g.KV.Key, g.KV.ModRev)
	}
	return c.out
}

func checkReliable(h *History, s WatchStream) []*Violation {
	c := collector{rule: RuleReliable, member: s.Member}
	obs := flatten(s)
	for _, o := range obs {
		if o.ev.KV.ModRev > h.last {
			c.addf("event %q@%d beyond ground truth (last revision %d)", o.ev.KV.Key, o.ev.KV.ModRev, h.last)
		}
	}
	first := s.Request.StartRev
	if first <= 0 {
		if len(obs) == 0 {
			return c.out
		}
		first = obs[0].ev.KV.ModRev
	}
	last := min(s.LastRevision(), h.last)
	if last < first {
		return c.out
	}
	want := h.matching(s.Request, first, last)
	var got []Event
	for _, o := range obs {
		if r := o.ev.KV.ModRev; r >= first && r <= last {
			got = append(got, o.ev)
		}
	}
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			g := h.events[want[i]]
			c.addf("missing %s %q@%d (%d events delivered of %d in [%d,%d])", g.Type, g.KV.Key, g.KV.ModRev, len(got), len(want), first, last)
		case i >= len(want):
			c.addf("unexpected %s %q@%d", got[i].Type, got[i].KV.Key, got[i].KV.ModRev)
		case !sameChange(got[i], h.events[want[i]]):
			g := h.events[want[i]]
			c.addf("event %d is %s %+v, ground truth %s %+v", i, got[i].Type, got[i].KV, g.Type, g.KV)
		default:
			continue
		}
		return c.out // one difference shifts the rest: report the first
	}
	return c.out
}

func checkPrevKV(h *History, s WatchStream) []*Violation {
	if !s.Request.PrevKV {
		return nil
	}
	c := collector{rule: RulePrevKV, member: s.Member}
	for _, o := range flatten(s) {
		i := h.find(o.ev.KV.ModRev, o.ev.KV.Key)
		if i < 0 {
			continue // reported by Reliable
		}
		want, got := h.prev[i], o.ev.PrevKV
		switch {
		case want == nil && got != nil:
			c.addf("%q@%d has PrevKV %+v, key was absent", o.ev.KV.Key, o.ev.KV.ModRev, *got)
		case want != nil && got == nil:
			c.addf("%q@%d has no PrevKV, want %+v", o.ev.KV.Key, o.ev.KV.ModRev, *want)
		case want != nil && *want != *got:
			c.addf("%q@%d has PrevKV %+v, want %+v", o.ev.KV.Key, o.ev.KV.ModRev, *got, *want)
		}
	}
	return c.out
}

func checkIsCreate(h *History, s WatchStream) []*Violation {
	c := collector{rule: RuleIsCreate, member: s.Member}
	for _, o := range flatten(s) {
		if o.ev.Type != keel.EventTypePut {
			continue
		}
		i := h.find(o.ev.KV.ModRev, o.ev.KV.Key)
		if i < 0 {
			continue
		}
		if want := h.prev[i] == nil; o.ev.IsCreate() != want {
			c.addf("%q@%d IsCreate=%t, want %t", o.ev.KV.Key, o.ev.KV.ModRev, o.ev.IsCreate(), want)
		}
	}
	return c.out
}

func checkCompaction(_ *History, s WatchStream) []*Violation {
	c := collector{rule: RuleCompaction, member: s.Member}
	var lastEvent int64
	for i, r := range s.Responses {
		if r.CompactRev == 0 {
			for _, e := range r.Events {
				lastEvent = max(lastEvent, e.KV.ModRev)
			}
			continue
		}
		if !r.Canceled || len(r.Events) > 0 || i != len(s.Responses)-1 {
			c.addf("compaction response %d: canceled=%t events=%d last=%t", i, r.Canceled, len(r.Events), i == len(s.Responses)-1)
		}
		needed := s.Request.StartRev
		if lastEvent > 0 {
			needed = lastEvent + 1
		}
		if needed > 0 && needed >= r.CompactRev {
			c.addf("canceled for compaction at %d but next needed revision %d was not compacted", r.CompactRev, needed)
		}
	}
	if q := s.Request.StartRev; q > 0 && q < s.CompactRevAtStart {
		first := -1
		for i, r := range s.Responses {
			if !r.Created {
				first = i
				break
			}
		}
		if first < 0 || s.Responses[first].CompactRev == 0 {
			c.addf("start revision %d below compaction revision %d without an explicit CompactRev cancel", q, s.CompactRevAtStart)
		}
	}
	return c.out
}
