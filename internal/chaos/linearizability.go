package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"
)

// CheckInfo is porcupine's linearization information for a checked history,
// needed to render the HTML visualization.
type CheckInfo = porcupine.LinearizationInfo

// Check runs porcupine over ops with Model and a timeout (0 = none). ok is
// true only for porcupine.Ok: a timeout (porcupine.Unknown) is a failure.
// err is nil when ok, and otherwise wraps ErrNotLinearizable or
// ErrCheckTimeout.
func Check(ops []Operation, timeout time.Duration) (ok bool, result porcupine.CheckResult, info CheckInfo, err error) {
	result, info = porcupine.CheckOperationsVerbose(Model(), toPorcupine(ops), timeout)
	switch result {
	case porcupine.Ok:
		return true, result, info, nil
	case porcupine.Illegal:
		err = fmt.Errorf("%w: %d operations", ErrNotLinearizable, len(ops))
	default:
		err = fmt.Errorf("%w: %d operations after %v", ErrCheckTimeout, len(ops), timeout)
	}
	return false, result, info, err
}

func toPorcupine(ops []Operation) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		out[i] = porcupine.Operation{ClientId: op.ClientID, Input: op.Input, Output: op.Output, Call: op.Call, Return: op.Return}
	}
	return out
}

// SaveHTML writes porcupine's visualization of a checked history to path,
// with one annotation per fault event (on a "faults" lane, or the event's
// Lane) so the page shows when partitions, kills, pauses and membership
// changes happened. The info is copied; the
// caller's is not modified.
func SaveHTML(path string, info CheckInfo, faults []FaultEvent) error {
	ann := make([]porcupine.Annotation, 0, len(faults))
	for _, f := range faults {
		end := f.End
		if end < f.Start {
			end = f.Start
		}
		tag, color := "faults", "#f7c6c6"
		if f.Lane != "" {
			tag, color = f.Lane, "#c6d8f7"
		}
		ann = append(ann, porcupine.Annotation{
			Tag:             tag,
			Start:           f.Start,
			End:             end,
			Description:     string(f.Kind),
			Details:         fmt.Sprintf("%s targets=%v %s", f.Kind, f.Targets, f.Detail),
			BackgroundColor: color,
		})
	}
	info.AddAnnotations(ann)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("chaos: save html: %w", err)
	}
	if err := porcupine.VisualizePath(Model(), info, path); err != nil {
		return fmt.Errorf("chaos: save html: %w", err)
	}
	return nil
}
