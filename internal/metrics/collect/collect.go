// Package collect reads statistics that other packages keep (the HTTP server, the arena
// pool, the drives, the audit log) at scrape time, as Prometheus collectors. Each reads
// its source through a one-method interface that the source's own type already has, so
// the wiring is one call per source:
//
//	m.Register(collect.HTTPServer(srv))          // *httpserver.Server
//	m.Register(collect.Arena(srv.Pool()))        // *arena.Pool
//	m.Register(collect.Drives(func() []collect.PlacedDrive { ... }, false))
//	m.Register(collect.Audit(auditLog))          // *audit.Log
//
// It is apart from package metrics so that the faces, which record into package metrics,
// do not import each other through it.
package collect

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashstor/flashstor/internal/metrics"
)

// desc builds a metric description under the flashstor namespace.
func desc(sub, name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, sub, name), help, labels, nil)
}

// family is one metric of a collector: its description, type and how to read it.
type family[S any] struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	get  func(S) float64
}

// snapshotCollector reads S (a snapshot, or a pointer to live atomics) once per scrape
// and reports each family.
type snapshotCollector[S any] struct {
	read     func() S
	families []family[S]
	extra    func(s S, ch chan<- prometheus.Metric) // labelled series, if any
	extraDsc []*prometheus.Desc
}

func (c *snapshotCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.families {
		ch <- f.desc
	}
	for _, d := range c.extraDsc {
		ch <- d
	}
}

func (c *snapshotCollector[S]) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for _, f := range c.families {
		ch <- prometheus.MustNewConstMetric(f.desc, f.typ, f.get(s))
	}
	if c.extra != nil {
		c.extra(s, ch)
	}
}
