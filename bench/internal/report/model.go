package report

import (
	"time"

	"github.com/keeldb/keel/bench/internal/workload"
)

// Cell names a measured scenario.
type Cell string

// The measured cells, in report order.
const (
	// CellB1Fresh is batch-1 StoreLogs on a fresh store.
	CellB1Fresh Cell = "batch1-fresh"
	// CellB64Fresh is batch-64 StoreLogs on a fresh store.
	CellB64Fresh Cell = "batch64-fresh"
	// CellB1AfterTruncate is batch-1 StoreLogs after a burst and a head
	// truncation, on the same store.
	CellB1AfterTruncate Cell = "batch1-after-truncate"
)

// Cells lists the cells in report order.
func Cells() []Cell { return []Cell{CellB1Fresh, CellB64Fresh, CellB1AfterTruncate} }

// Config records the parameters of a run.
type Config struct {
	Rounds      int    `json:"rounds"`
	EntryBytes  int    `json:"entry_bytes"`
	Batch1Calls int    `json:"batch1_calls"`
	Batch64     int    `json:"batch64_size"`
	Batch64Call int    `json:"batch64_calls"`
	WarmupCalls int    `json:"warmup_calls"`
	Burst       int    `json:"burst_entries"`
	BurstBatch  int    `json:"burst_batch"`
	Keep        uint64 `json:"keep_entries"`
	Seed        uint64 `json:"seed"`
	Dir         string `json:"dir"`
	// Reference is the store the ratios are computed for (keel-wal).
	Reference string `json:"reference"`
	// Stores lists the stores in the order of the first round.
	Stores []string `json:"stores"`
}

// Env records where a run happened.
type Env struct {
	GoVersion string    `json:"go_version"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	NumCPU    int       `json:"num_cpu"`
	Started   time.Time `json:"started"`
	Duration  string    `json:"duration"`
}

// Sample is one measured cell of one store in one round.
type Sample struct {
	Round int            `json:"round"`
	Store string         `json:"store"`
	Cell  Cell           `json:"cell"`
	Stats workload.Stats `json:"stats"`
	// Burst, Truncate and DiskBytes are set for CellB1AfterTruncate only.
	Burst    *workload.BurstStats    `json:"burst,omitempty"`
	Truncate *workload.TruncateStats `json:"truncate,omitempty"`
	// DiskBytes is the size of the store's directory after the cell.
	DiskBytes int64 `json:"disk_bytes,omitempty"`
}

// Summary is the median of one store's cell over all rounds.
type Summary struct {
	Store        string        `json:"store"`
	Cell         Cell          `json:"cell"`
	Rounds       int           `json:"rounds"`
	OpsPerSec    float64       `json:"ops_per_sec"`
	MinOpsPerSec float64       `json:"min_ops_per_sec"`
	MaxOpsPerSec float64       `json:"max_ops_per_sec"`
	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
}

// Truncation is the median burst and truncation cost of one store, and its
// degradation (after/fresh) in the same rounds.
type Truncation struct {
	Store         string        `json:"store"`
	DeleteRange   time.Duration `json:"delete_range_ns"`
	BurstOpsSec   float64       `json:"burst_ops_per_sec"`
	DiskBytes     int64         `json:"disk_bytes_after"`
	OpsAfterFresh float64       `json:"ops_after_over_fresh"`
	P99AfterFresh float64       `json:"p99_after_over_fresh"`
}

// Ratio compares the reference store with one baseline in one cell: the
// median over rounds of the per-round ratios.
type Ratio struct {
	Cell      Cell    `json:"cell"`
	Reference string  `json:"reference"`
	Baseline  string  `json:"baseline"`
	Ops       float64 `json:"ops_ratio"`
	P99       float64 `json:"p99_ratio"`
	Rounds    int     `json:"rounds"`
}

// Target is one goal from the issue and whether this run met it.
type Target struct {
	Name      string  `json:"name"`
	Measured  float64 `json:"measured"`
	Threshold float64 `json:"threshold"`
	// Evaluated is false when a store the target needs was not run.
	Evaluated bool `json:"evaluated"`
	Met       bool `json:"met"`
}

// Report is everything a run produced.
type Report struct {
	Config      Config       `json:"config"`
	Env         Env          `json:"env"`
	Summaries   []Summary    `json:"summaries"`
	Truncations []Truncation `json:"truncations"`
	Ratios      []Ratio      `json:"ratios"`
	Targets     []Target     `json:"targets"`
	Samples     []Sample     `json:"samples"`
}
