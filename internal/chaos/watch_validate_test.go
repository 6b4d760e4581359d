package chaos

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keeldb/keel"
)

func putEv(key, val string, create, mod, ver int64) Event {
	return Event{Type: keel.EventTypePut, KV: KV{Key: key, Value: val, CreateRev: create, ModRev: mod, Version: ver}}
}

func delEv(key string, mod int64) Event {
	return Event{Type: keel.EventTypeDelete, KV: KV{Key: key, ModRev: mod}}
}

// groundTruth: 1 put k/a, 2 put k/b, 3 put k/a, 4 {delete k/a, put k/b},
// 5 put k/a (re-create), 6 put x (outside the prefix).
func groundTruth(t testing.TB) *History {
	t.Helper()
	h, err := NewHistory([]Event{
		putEv("k/a", "1", 1, 1, 1),
		putEv("k/b", "1", 2, 2, 1),
		putEv("k/a", "2", 1, 3, 2),
		delEv("k/a", 4),
		putEv("k/b", "2", 2, 4, 2),
		putEv("k/a", "3", 5, 5, 1),
		putEv("x", "1", 6, 6, 1),
	})
	require.NoError(t, err)
	return h
}

func withPrev(h *History, rev int64, key string) Event {
	i := h.find(rev, key)
	e := h.events[i]
	e.PrevKV = h.prev[i]
	return e
}

func resp(events ...Event) WatchResponse {
	r := WatchResponse{Events: events}
	for _, e := range events {
		r.HeaderRev = max(r.HeaderRev, e.KV.ModRev)
	}
	return r
}

func progress(rev int64) WatchResponse { return WatchResponse{HeaderRev: rev, Progress: true} }

// goodStream is a correct prefix watch from revision 1 with prevKV.
func goodStream(h *History) WatchStream {
	e := func(rev int64, key string) Event { return withPrev(h, rev, key) }
	return WatchStream{
		Member:  "m0",
		Request: WatchRequest{Key: "k/", Prefix: true, StartRev: 1, PrevKV: true},
		Responses: []WatchResponse{
			resp(e(1, "k/a")),
			resp(e(2, "k/b"), e(3, "k/a")),
			resp(e(4, "k/a"), e(4, "k/b")),
			progress(4),
			resp(e(5, "k/a")),
			progress(6),
		},
	}
}

func rulesOf(vs []*Violation) map[Rule]bool {
	m := map[Rule]bool{}
	for _, v := range vs {
		m[v.Rule] = true
	}
	return m
}

func TestValidateWatch(t *testing.T) {
	h := groundTruth(t)
	cases := []struct {
		name   string
		mutate func(s *WatchStream)
		want   Rule // "" = no violation
	}{
		{"good stream", func(*WatchStream) {}, ""},
		{"good single key", func(s *WatchStream) {
			s.Request = WatchRequest{Key: "k/b", StartRev: 1}
			s.Responses = []WatchResponse{resp(h.events[1]), resp(h.events[4]), progress(6)}
		}, ""},
		{"good from now", func(s *WatchStream) {
			s.Request.StartRev = 0
			s.Responses = s.Responses[2:]
		}, ""},
		{"good range", func(s *WatchStream) {
			s.Request = WatchRequest{Key: "k/b", End: "y"}
			s.Responses = []WatchResponse{resp(h.events[4]), resp(h.events[6])}
		}, ""},
		{"filter", func(s *WatchStream) {
			s.Responses = append(s.Responses, resp(h.events[6]))
		}, RuleFilter},
		{"ordered", func(s *WatchStream) {
			s.Responses[1], s.Responses[2] = s.Responses[2], s.Responses[1]
		}, RuleOrdered},
		{"unique", func(s *WatchStream) {
			s.Responses = append(s.Responses[:5:5], s.Responses[0])
		}, RuleUnique},
		{"atomic split revision", func(s *WatchStream) {
			r := s.Responses[2]
			s.Responses[2] = resp(r.Events[0])
			s.Responses = append(s.Responses[:3], append([]WatchResponse{resp(r.Events[1])}, s.Responses[3:]...)...)
		}, RuleAtomic},
		{"atomic partial revision", func(s *WatchStream) {
			s.Responses[2] = resp(s.Responses[2].Events[0])
		}, RuleAtomic},
		{"bookmarkable event after progress", func(s *WatchStream) {
			s.Responses[3] = progress(5)
		}, RuleBookmarkable},
		{"bookmarkable progress backwards", func(s *WatchStream) {
			s.Responses[5] = progress(3)
		}, RuleBookmarkable},
		{"resumable", func(s *WatchStream) {
			s.Request.StartRev = 2
			s.Responses[1] = resp(s.Responses[1].Events[1])
			s.Responses = s.Responses[1:]
		}, RuleResumable},
		{"reliable gap", func(s *WatchStream) {
			s.Responses[1] = resp(s.Responses[1].Events[0])
		}, RuleReliable},
		{"reliable wrong value", func(s *WatchStream) {
			e := s.Responses[4].Events[0]
			e.KV.Value = "zzz"
			s.Responses[4] = resp(e)
		}, RuleReliable},
		{"reliable missing tail before progress", func(s *WatchStream) {
			s.Responses = append(s.Responses[:4:4], progress(6))
		}, RuleReliable},
		{"reliable phantom event", func(s *WatchStream) {
			s.Responses = append(s.Responses, resp(putEv("k/z", "1", 9, 9, 1)))
		}, RuleReliable},
		{"prevkv wrong", func(s *WatchStream) {
			e := s.Responses[1].Events[1]
			e.PrevKV = &KV{Key: "k/a", Value: "0", CreateRev: 1, ModRev: 1, Version: 1}
			s.Responses[1] = resp(s.Responses[1].Events[0], e)
		}, RulePrevKV},
		{"prevkv missing", func(s *WatchStream) {
			e := s.Responses[2].Events[0]
			e.PrevKV = nil
			s.Responses[2] = resp(e, s.Responses[2].Events[1])
		}, RulePrevKV},
		{"prevkv on create", func(s *WatchStream) {
			e := s.Responses[4].Events[0]
			e.PrevKV = &KV{Key: "k/a", Value: "2", CreateRev: 1, ModRev: 3, Version: 2}
			s.Responses[4] = resp(e)
		}, RulePrevKV},
		{"iscreate wrong", func(s *WatchStream) {
			e := s.Responses[4].Events[0]
			e.KV.CreateRev = 1
			s.Responses[4] = resp(e)
		}, RuleIsCreate},
		{"compaction honored", func(s *WatchStream) {
			s.CompactRevAtStart = 3
			s.Responses = []WatchResponse{{HeaderRev: 6, Canceled: true, CompactRev: 3, Err: "compacted"}}
		}, ""},
		{"compaction silently skipped", func(s *WatchStream) {
			s.CompactRevAtStart = 3
		}, RuleCompaction},
		{"compaction cancel not justified", func(s *WatchStream) {
			s.Request.StartRev = 4
			s.Responses = []WatchResponse{{HeaderRev: 6, Canceled: true, CompactRev: 3}}
		}, RuleCompaction},
		{"compaction cancel not final", func(s *WatchStream) {
			s.Responses = append([]WatchResponse{{HeaderRev: 6, Canceled: true, CompactRev: 3}}, s.Responses...)
		}, RuleCompaction},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := goodStream(h)
			tc.mutate(&s)
			vs := Violations(h, s)
			err := ValidateWatch(h, s)
			if tc.want == "" {
				require.Empty(t, vs)
				require.NoError(t, err)
				return
			}
			require.True(t, rulesOf(vs)[tc.want], "want a %s violation, got %v", tc.want, err)
			require.ErrorIs(t, err, ErrWatchViolation)
			var v *Violation
			require.True(t, errors.As(err, &v))
			require.Equal(t, "m0", v.Member)
		})
	}
}

func TestNewHistoryRejectsMalformed(t *testing.T) {
	cases := []struct {
		name   string
		events []Event
	}{
		{"zero revision", []Event{putEv("a", "1", 0, 0, 1)}},
		{"backwards", []Event{putEv("a", "1", 2, 2, 1), putEv("b", "1", 1, 1, 1)}},
		{"key twice in revision", []Event{putEv("a", "1", 1, 1, 1), delEv("a", 1)}},
		{"delete of absent key", []Event{delEv("a", 1)}},
		{"bad version", []Event{putEv("a", "1", 1, 1, 1), putEv("a", "2", 1, 2, 5)}},
		{"bad create revision", []Event{putEv("a", "1", 1, 1, 1), putEv("a", "2", 2, 2, 2)}},
		{"create without version 1", []Event{putEv("a", "1", 1, 1, 2)}},
		{"bad type", []Event{{Type: 7, KV: KV{Key: "a", ModRev: 1}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHistory(tc.events)
			require.ErrorIs(t, err, ErrBadGroundTruth)
		})
	}
}

func TestHistoryState(t *testing.T) {
	h := groundTruth(t)
	require.Equal(t, int64(6), h.LastRevision())
	require.Equal(t, map[string]string{"k/a": "2", "k/b": "1"}, h.State(3))
	require.Equal(t, map[string]string{"k/b": "2"}, h.State(4))
	require.Equal(t, map[string]string{"k/a": "3", "k/b": "2", "x": "1"}, h.State(6))
	evs := h.Events()
	require.Len(t, evs, 7)
	require.Nil(t, evs[0].PrevKV)
	require.Equal(t, &KV{Key: "k/a", Value: "1", CreateRev: 1, ModRev: 1, Version: 1}, evs[2].PrevKV)
}

func TestWatchRequestMatches(t *testing.T) {
	cases := []struct {
		name string
		req  WatchRequest
		key  string
		want bool
	}{
		{"exact hit", WatchRequest{Key: "a"}, "a", true},
		{"exact miss", WatchRequest{Key: "a"}, "ab", false},
		{"prefix hit", WatchRequest{Key: "a", Prefix: true}, "ab", true},
		{"prefix miss", WatchRequest{Key: "a", Prefix: true}, "b", false},
		{"empty prefix", WatchRequest{Prefix: true}, "zz", true},
		{"range hit", WatchRequest{Key: "b", End: "d"}, "c", true},
		{"range end excluded", WatchRequest{Key: "b", End: "d"}, "d", false},
		{"from key", WatchRequest{Key: "b", FromKey: true}, "zz", true},
		{"from key miss", WatchRequest{Key: "b", FromKey: true}, "a", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.req.Matches(tc.key))
		})
	}
}
