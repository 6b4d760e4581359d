package keel

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingHandler keeps every log record's message and attributes.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]loggedEvent
	attrs   []slog.Attr
}

// loggedEvent is one record: its level, message and attributes by key.
type loggedEvent struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{mu: &sync.Mutex{}, records: &[]loggedEvent{}}
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	ev := loggedEvent{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	for _, a := range h.attrs {
		ev.attrs[a.Key] = a.Value
	}
	r.Attrs(func(a slog.Attr) bool {
		ev.attrs[a.Key] = a.Value
		return true
	})
	h.mu.Lock()
	*h.records = append(*h.records, ev)
	h.mu.Unlock()
	return nil
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

// find returns the records with message msg.
func (h *recordingHandler) find(msg string) []loggedEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []loggedEvent
	for _, ev := range *h.records {
		if ev.msg == msg {
			out = append(out, ev)
		}
	}
	return out
}

// TestLogEvents checks the stable events doc.go lists that one member can
// produce alone: their messages, levels and attributes.
func TestLogEvents(t *testing.T) {
	h := newRecordingHandler()
	s, err := Open(Config{Dir: t.TempDir(), Logger: slog.New(h)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := testCtx(t)
	for range 3 {
		_, err := s.Put(ctx, "k", "v")
		require.NoError(t, err)
	}
	_, err = s.Compact(ctx, 3)
	require.NoError(t, err)
	require.NoError(t, s.RaftSnapshot())

	want := []struct {
		msg   string
		level slog.Level
		attrs []string
	}{
		{msg: "election started", level: slog.LevelInfo, attrs: []string{"member", "term"}},
		{msg: "leader changed", level: slog.LevelInfo, attrs: []string{"member", "leader", "term"}},
		{msg: "leader ready", level: slog.LevelInfo, attrs: []string{"member", "term", "index"}},
		{msg: "compacted", level: slog.LevelInfo, attrs: []string{"member", "rev", "index"}},
		{msg: "snapshot taken", level: slog.LevelInfo, attrs: []string{"member", "id", "bytes", "duration"}},
	}
	for _, w := range want {
		var evs []loggedEvent
		require.Eventually(t, func() bool { evs = h.find(w.msg); return len(evs) > 0 }, 30*time.Second, 10*time.Millisecond, w.msg)
		ev := evs[0]
		require.Equal(t, w.level, ev.level, w.msg)
		for _, k := range w.attrs {
			require.Contains(t, ev.attrs, k, w.msg)
		}
		require.Len(t, ev.attrs, len(w.attrs), "%s: %v", w.msg, ev.attrs)
		require.Equal(t, s.ID(), ev.attrs["member"].String(), w.msg)
	}
	var elected bool
	for _, ev := range h.find("leader changed") {
		elected = elected || ev.attrs["leader"].String() == s.ID()
	}
	require.True(t, elected, "the member logged itself as leader")
	require.Equal(t, int64(3), h.find("compacted")[0].attrs["rev"].Int64())
	require.Positive(t, h.find("snapshot taken")[0].attrs["bytes"].Int64())
}
