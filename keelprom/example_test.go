package keelprom_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keeldb/keel"
	"github.com/keeldb/keel/keelprom"
)

// Register a Store's metrics on a registry of the program's own; serve it
// with promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).
func ExampleRegister() {
	dir, err := os.MkdirTemp("", "keelprom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := keel.Open(keel.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	reg := prometheus.NewRegistry()
	if err := keelprom.Register(reg, s); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Put(context.Background(), "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "keel_proposals_total" || mf.GetName() == "keel_is_leader" {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue()+mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	// Output:
	// keel_is_leader 1
	// keel_proposals_total 1
}
