package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Artifacts is a per-run directory under the system temp dir
// ("keel-chaos-*") holding the seed, schedule, histories, the HTML
// visualization, and room for logs and data dirs. Its path is always
// logged; it is removed when the test passes and kept when it fails (or
// when KEEL_CHAOS_KEEP is set). Methods are safe for concurrent use as long
// as they write different files.
type Artifacts struct {
	// Dir is the directory's path.
	Dir string
}

// NewArtifacts creates the directory, logs its path and registers its
// removal for a passing test.
func NewArtifacts(t testing.TB) *Artifacts {
	t.Helper()
	dir, err := os.MkdirTemp("", "keel-chaos-*")
	if err != nil {
		t.Fatalf("chaos: artifacts: %v", err)
	}
	t.Logf("chaos: artifacts in %s", dir)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv(EnvKeep) != "" {
			t.Logf("chaos: artifacts kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir) // best effort: a leftover temp dir is harmless
	})
	return &Artifacts{Dir: dir}
}

// Path returns the path of name inside the directory.
func (a *Artifacts) Path(name string) string { return filepath.Join(a.Dir, name) }

// Sub creates (if needed) and returns a subdirectory, for member logs and
// data dirs.
func (a *Artifacts) Sub(name string) (string, error) {
	p := a.Path(name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("chaos: artifacts: %w", err)
	}
	return p, nil
}

// WriteFile writes b to name.
func (a *Artifacts) WriteFile(name string, b []byte) error {
	p := a.Path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("chaos: artifacts: %w", err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("chaos: artifacts: %w", err)
	}
	return nil
}

// WriteJSON writes v as indented JSON to name.
func (a *Artifacts) WriteJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("chaos: artifacts: %s: %w", name, err)
	}
	return a.WriteFile(name, b)
}

// SaveRun writes seed.txt, schedule.json, history.json (the operations),
// faults.json and, when info is non-nil, history.html. It returns the
// first error but tries every file.
func (a *Artifacts) SaveRun(seed int64, s Schedule, rec *Recorder, info *CheckInfo) error {
	errs := []error{
		a.WriteFile("seed.txt", fmt.Appendf(nil, "%d\n", seed)),
		a.WriteJSON("schedule.json", s),
		a.WriteJSON("history.json", rec.Operations()),
		a.WriteJSON("faults.json", rec.Faults()),
	}
	if info != nil {
		errs = append(errs, SaveHTML(a.Path("history.html"), *info, rec.Faults()))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// SaveWatches writes the recorded watch streams to watches.json.
func (a *Artifacts) SaveWatches(streams []WatchStream) error {
	return a.WriteJSON("watches.json", streams)
}

// SaveChanges writes the results of the membership changes to
// changes.json.
func (a *Artifacts) SaveChanges(results []ChangeResult) error {
	return a.WriteJSON("changes.json", results)
}
