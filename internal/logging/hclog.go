package logging

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is the slog level used for hclog's Trace.
const levelTrace = slog.LevelDebug - 4

// HCLog adapts l to hclog.Logger. A nil l discards everything.
func HCLog(l *slog.Logger, name string) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	a := &adapter{l: l, name: name, min: new(atomic.Int32)}
	a.min.Store(int32(hclog.Trace))
	if name != "" {
		a.l = l.With("component", name)
	}
	return a
}

// adapter is safe for concurrent use.
type adapter struct {
	l       *slog.Logger
	name    string
	implied []any
	min     *atomic.Int32 // shared with loggers derived through With/Named
}

var _ hclog.Logger = (*adapter)(nil)

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *adapter) enabled(level hclog.Level) bool {
	if level == hclog.Off || int32(level) < a.min.Load() {
		return false
	}
	return a.l.Enabled(context.Background(), toSlog(level))
}

func (a *adapter) Log(level hclog.Level, msg string, args ...any) {
	if !a.enabled(level) {
		return
	}
	a.l.Log(context.Background(), toSlog(level), msg, args...)
}

func (a *adapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *adapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *adapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *adapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *adapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *adapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *adapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *adapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *adapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *adapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *adapter) ImpliedArgs() []any { return append([]any(nil), a.implied...) }

func (a *adapter) With(args ...any) hclog.Logger {
	b := *a
	b.l = a.l.With(args...)
	b.implied = append(append([]any(nil), a.implied...), args...)
	return &b
}

func (a *adapter) Name() string { return a.name }

func (a *adapter) Named(name string) hclog.Logger {
	full := name
	if a.name != "" {
		full = a.name + "." + name
	}
	return a.ResetNamed(full)
}

func (a *adapter) ResetNamed(name string) hclog.Logger {
	b := *a
	b.name = name
	b.l = a.l.With("component", name)
	return &b
}

func (a *adapter) SetLevel(level hclog.Level) { a.min.Store(int32(level)) }

func (a *adapter) GetLevel() hclog.Level { return hclog.Level(a.min.Load()) }

func (a *adapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *adapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writer{a}
}

// writer turns standard-library log lines into Info records.
type writer struct{ a *adapter }

func (w writer) Write(p []byte) (int, error) {
	w.a.Info(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
