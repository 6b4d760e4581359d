package keelprom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keeldb/keel"
)

// Collector is a prometheus.Collector for one keel.Store: it describes
// every metric in keel.MetricDescs and, when gathered, reports the
// Store's keel.Store.Metrics. It is safe for concurrent use.
type Collector struct {
	store *keel.Store
	descs map[string]*prometheus.Desc
	order []*prometheus.Desc // descs in keel.MetricDescs' order, for Describe
}

var _ prometheus.Collector = (*Collector)(nil)

// Option configures a Collector.
type Option func(*options)

type options struct {
	constLabels prometheus.Labels
}

// WithConstLabels adds labels with fixed values to every metric of the
// Collector, for example {"member": s.ID()} to tell apart several Stores
// registered on one registry. Later calls add to earlier ones.
func WithConstLabels(labels prometheus.Labels) Option {
	return func(o *options) {
		for k, v := range labels {
			o.constLabels[k] = v
		}
	}
}

// NewCollector returns a Collector for s. It registers nothing: pass it
// to a prometheus.Registerer (or use Register).
func NewCollector(s *keel.Store, opts ...Option) (*Collector, error) {
	if s == nil {
		return nil, ErrNilStore
	}
	o := options{constLabels: prometheus.Labels{}}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	c := &Collector{store: s, descs: map[string]*prometheus.Desc{}}
	for _, d := range keel.MetricDescs() {
		pd := prometheus.NewDesc(d.Name, d.Help, d.Labels, o.constLabels)
		c.descs[d.Name] = pd
		c.order = append(c.order, pd)
	}
	return c, nil
}

// Register registers a Collector for s on reg, which must not be nil: it
// never uses prometheus.DefaultRegisterer unless that is what reg is. It
// returns reg's error if reg refuses the Collector (for instance
// prometheus.AlreadyRegisteredError for a second Store without distinct
// constant labels).
func Register(reg prometheus.Registerer, s *keel.Store, opts ...Option) error {
	if reg == nil {
		return ErrNilRegisterer
	}
	c, err := NewCollector(s, opts...)
	if err != nil {
		return err
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("keelprom: register: %w", err)
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.order {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it converts the Store's
// current metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.store.Metrics() {
		desc, ok := c.descs[m.Name]
		if !ok {
			continue // MetricDescs declares every metric; nothing to do
		}
		lvs := make([]string, len(m.Labels))
		for i, l := range m.Labels {
			lvs[i] = l.Value
		}
		pm, err := convert(desc, m, lvs)
		if err != nil {
			pm = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- pm
	}
}

// convert makes a constant Prometheus metric of m.
func convert(desc *prometheus.Desc, m keel.Metric, lvs []string) (prometheus.Metric, error) {
	switch m.Type {
	case keel.MetricCounter:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, m.Value, lvs...)
	case keel.MetricGauge:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.Value, lvs...)
	case keel.MetricHistogram:
		if m.Histogram == nil {
			return nil, fmt.Errorf("keelprom: histogram %s without a value", m.Name)
		}
		buckets := make(map[float64]uint64, len(m.Histogram.Buckets))
		for _, b := range m.Histogram.Buckets {
			buckets[b.UpperBound] = b.Count
		}
		return prometheus.NewConstHistogram(desc, m.Histogram.Count, m.Histogram.Sum, buckets, lvs...)
	}
	return nil, fmt.Errorf("keelprom: metric %s has unknown type %v", m.Name, m.Type)
}
