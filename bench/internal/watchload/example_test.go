package watchload_test

import (
	"fmt"
	"time"

	"github.com/keeldb/keel/bench/internal/watchload"
)

func ExampleHistogram() {
	h := watchload.NewHistogram()
	for i := range 100 {
		h.Record(i, time.Duration(i+1)*time.Millisecond)
	}
	// Quantiles are bucket upper bounds: within 1/64 above the exact value.
	fmt.Println(h.Count(), h.Quantile(0.5).Round(time.Millisecond), h.Max())
	// Output: 100 50ms 100ms
}

func ExampleEncodeStamp() {
	clock := watchload.NewClock()
	v, _ := watchload.EncodeStamp(clock.Now(), 256) // the value of a Put
	issued, _ := watchload.DecodeStamp([]byte(v))   // in the watcher
	lag := time.Duration(clock.Now() - issued)
	fmt.Println(len(v), lag >= 0)
	// Output: 256 true
}
