package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/google/pprof/profile"
)

// Sampling rates while a timed part runs (off otherwise).
const (
	mutexProfileFraction = 5
	blockProfileRateNs   = 10_000
)

// profiler writes a child's pprof profiles and execution traces, covering
// only the timed parts of the workloads: CPU profiling runs during each
// timed part and the parts are merged; each part gets its own trace; mutex
// and block sampling are switched on only during them; the heap profile is
// taken after the last timed part. A profiler with no directories does
// nothing.
type profiler struct {
	dirs profileDirs
	// name is "<target>-<round>", the file name stem.
	name string
	cpu  []*bytes.Buffer
	// traces holds the execution trace of each timed part.
	traces []*bytes.Buffer
}

// begin starts profiling a timed part.
func (p *profiler) begin() error {
	if p.dirs.CPU != "" {
		buf := new(bytes.Buffer)
		if err := pprof.StartCPUProfile(buf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		p.cpu = append(p.cpu, buf)
	}
	if p.dirs.Trace != "" {
		buf := new(bytes.Buffer)
		if err := trace.Start(buf); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		p.traces = append(p.traces, buf)
	}
	if p.dirs.Mutex != "" {
		runtime.SetMutexProfileFraction(mutexProfileFraction)
	}
	if p.dirs.Block != "" {
		runtime.SetBlockProfileRate(blockProfileRateNs)
	}
	return nil
}

// end stops profiling a timed part.
func (p *profiler) end() {
	if p.dirs.CPU != "" {
		pprof.StopCPUProfile()
	}
	if p.dirs.Trace != "" {
		trace.Stop()
	}
	if p.dirs.Mutex != "" {
		runtime.SetMutexProfileFraction(0)
	}
	if p.dirs.Block != "" {
		runtime.SetBlockProfileRate(0)
	}
}

// finish writes every requested profile.
func (p *profiler) finish() error {
	var errs []error
	if p.dirs.CPU != "" && len(p.cpu) > 0 {
		errs = append(errs, p.writeCPU())
	}
	for i, buf := range p.traces {
		path := filepath.Join(p.dirs.Trace, fmt.Sprintf("%s-trace-%d.out", p.name, i+1))
		errs = append(errs, writeFile(path, func(w io.Writer) error { _, err := buf.WriteTo(w); return err }))
	}
	if p.dirs.Mem != "" {
		runtime.GC()
		errs = append(errs, p.writeLookup(p.dirs.Mem, "mem", "heap"))
	}
	if p.dirs.Mutex != "" {
		errs = append(errs, p.writeLookup(p.dirs.Mutex, "mutex", "mutex"))
	}
	if p.dirs.Block != "" {
		errs = append(errs, p.writeLookup(p.dirs.Block, "block", "block"))
	}
	return errors.Join(errs...)
}

// path returns dir/<target>-<round>-<kind>.pprof.
func (p *profiler) path(dir, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%s.pprof", p.name, kind))
}

func (p *profiler) writeCPU() error {
	var parts []*profile.Profile
	for _, buf := range p.cpu {
		pr, err := profile.Parse(buf)
		if err != nil {
			return fmt.Errorf("parse cpu profile: %w", err)
		}
		parts = append(parts, pr)
	}
	merged, err := profile.Merge(parts)
	if err != nil {
		return fmt.Errorf("merge cpu profiles: %w", err)
	}
	return writeFile(p.path(p.dirs.CPU, "cpu"), merged.Write)
}

func (p *profiler) writeLookup(dir, kind, name string) error {
	return writeFile(p.path(dir, kind), func(w io.Writer) error { return pprof.Lookup(name).WriteTo(w, 0) })
}

// writeFile creates path and fills it with write.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return write(f)
}
