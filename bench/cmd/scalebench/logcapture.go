package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logEvent is one captured log line.
type logEvent struct {
	at    time.Time
	msg   string
	attrs map[string]any
}

// logCapture records the log lines of one member whose message is one of
// a fixed set, and drops every other line without formatting it. It is how
// this command observes snapshots and log compaction, which neither
// system's API reports. It is safe for concurrent use.
type logCapture struct {
	want   map[string]bool
	mu     sync.Mutex
	events []logEvent
}

// newLogCapture returns a capture of the lines whose message is in msgs.
func newLogCapture(msgs ...string) *logCapture {
	c := &logCapture{want: make(map[string]bool, len(msgs))}
	for _, m := range msgs {
		c.want[m] = true
	}
	return c
}

func (c *logCapture) record(msg string, attrs map[string]any) {
	c.mu.Lock()
	c.events = append(c.events, logEvent{at: time.Now(), msg: msg, attrs: attrs})
	c.mu.Unlock()
}

// since returns the captured lines with message msg logged at or after t.
func (c *logCapture) since(msg string, t time.Time) []logEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logEvent
	for _, e := range c.events {
		if e.msg == msg && !e.at.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// first returns when the first line with message msg logged at or after
// t was logged, and whether there was one.
func (c *logCapture) first(msg string, t time.Time) (time.Time, bool) {
	if es := c.since(msg, t); len(es) > 0 {
		return es[0].at, true
	}
	return time.Time{}, false
}

// maxUint returns the largest unsigned integer attribute attr among the
// lines with message msg logged at or after t, and whether there was one.
func (c *logCapture) maxUint(msg, attr string, t time.Time) (uint64, bool) {
	var best uint64
	found := false
	for _, e := range c.since(msg, t) {
		if v, ok := asUint(e.attrs[attr]); ok && (!found || v > best) {
			best, found = v, true
		}
	}
	return best, found
}

// asUint converts the integer types loggers record to uint64.
func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint64:
		return x, true
	case int64:
		return uint64(max(x, 0)), x >= 0
	case int:
		return uint64(max(x, 0)), x >= 0
	case uint:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case int32:
		return uint64(max(x, 0)), x >= 0
	default:
		return 0, false
	}
}

// slogHandler feeds a logCapture from a *slog.Logger (Keel's Config.Logger;
// Keel adapts raft's logs to it). It handles Info and above.
type slogHandler struct {
	c     *logCapture
	attrs []slog.Attr
}

var _ slog.Handler = slogHandler{}

// newSlogLogger returns a logger that feeds c.
func newSlogLogger(c *logCapture) *slog.Logger { return slog.New(slogHandler{c: c}) }

func (h slogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h slogHandler) Handle(_ context.Context, r slog.Record) error {
	if !h.c.want[r.Message] {
		return nil
	}
	attrs := make(map[string]any, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Any()
		return true
	})
	h.c.record(r.Message, attrs)
	return nil
}

func (h slogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return slogHandler{c: h.c, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup ignores groups: captured attributes are looked up by key.
func (h slogHandler) WithGroup(string) slog.Handler { return h }

// zapCore feeds a logCapture from a *zap.Logger (etcd's logger). Lines at
// every level are checked by message, so debug-only lines such as
// "compacted Raft logs" are seen too; unwanted lines are never encoded.
type zapCore struct {
	c      *logCapture
	fields []zapcore.Field
}

var _ zapcore.Core = zapCore{}

// newZapLogger returns a logger that feeds c.
func newZapLogger(c *logCapture) *zap.Logger { return zap.New(zapCore{c: c}) }

func (z zapCore) Enabled(zapcore.Level) bool { return true }

func (z zapCore) With(fs []zapcore.Field) zapcore.Core {
	return zapCore{c: z.c, fields: append(slices.Clip(z.fields), fs...)}
}

func (z zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if z.c.want[e.Message] {
		return ce.AddCore(e, z)
	}
	return ce
}

func (z zapCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range z.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	z.c.record(e.Message, enc.Fields)
	return nil
}

func (z zapCore) Sync() error { return nil }
