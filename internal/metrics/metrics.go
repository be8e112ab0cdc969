// Package metrics is the server's Prometheus side: one registry per server (no global
// registry, so that several servers can run in one process), the metric families the
// faces record into through small methods that are cheap on the hot path, and the
// /metrics handler, open or behind a bearer token.
//
// Recording: the S3 face resolves an *Op once per operation (at start-up, beside its
// dispatch table) and calls Op.Observe when a request ends; the FUSE face does the same
// with FUSEOp. Both hold pre-curried children, so a request costs a few atomic adds and
// no map lookup or allocation. Security events, bitrot, heals and expired uploads have one method each.
// Statistics kept elsewhere (HTTP server, arena pool, drives, audit log) are read at
// scrape time by collectors (package collect) registered with Register.
//
// Label values passed to these methods must come from the code (operation names,
// reason constants), never from a request: each distinct value is a new time series.
package metrics

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "flashstor"

// latencyBuckets are the upper bounds, in seconds, of the request latency histograms:
// from a cached HEAD on a fast disk to a large PUT on a slow one.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics is one server's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests          *prometheus.CounterVec   // operation, code
	latency           *prometheus.HistogramVec // operation
	phases            *prometheus.HistogramVec // phase
	phaseAuth         prometheus.Observer
	phaseLock         prometheus.Observer
	phaseStorage      prometheus.Observer
	phaseResponse     prometheus.Observer
	received, sent    *prometheus.CounterVec // operation
	sigFailures       *prometheus.CounterVec // reason
	denied            *prometheus.CounterVec // operation
	tokenFailures     *prometheus.CounterVec // reason
	scrapesRefused    prometheus.Counter
	bitrot            prometheus.Counter
	heals             *prometheus.CounterVec // result
	fuseOps           *prometheus.CounterVec // operation, result
	fuseLatency       *prometheus.HistogramVec
	healed, healFails prometheus.Counter
	// healDangling counts objects removed by heal as dangling: on too few drives ever to
	// be read.
	healDangling   prometheus.Counter
	uploadsExpired prometheus.Counter

	mu sync.Mutex
	// ops and fuse cache the handles returned by Op and FUSEOp. Guarded by mu.
	ops  map[string]*Op
	fuse map[string]*FUSEOp
}

// New returns a server's metrics in a registry of their own, with the Go runtime and
// process collectors registered.
func New() *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		ops:  make(map[string]*Op),
		fuse: make(map[string]*FUSEOp),
	}
	f := factory{m.reg}
	m.requests = f.counterVec("s3", "requests_total", "S3 requests by operation and HTTP status code.", "operation", "code")
	m.latency = f.histogramVec("s3", "request_duration_seconds", "S3 request latency, from the complete request head until the handler has written the response (a last buffered piece of at most 4 KiB goes out after).", "operation")
	m.phases = f.histogramVec("s3", "request_phase_duration_seconds", "Parts of the S3 request latency: auth (signature and policy), lock_wait, storage (erasure coding and drive I/O), response (sending).", "phase")
	m.phaseAuth = m.phases.WithLabelValues("auth")
	m.phaseLock = m.phases.WithLabelValues("lock_wait")
	m.phaseStorage = m.phases.WithLabelValues("storage")
	m.phaseResponse = m.phases.WithLabelValues("response")
	m.received = f.counterVec("s3", "received_bytes_total", "Request body bytes read, by S3 operation.", "operation")
	m.sent = f.counterVec("s3", "sent_bytes_total", "Response body bytes sent, by S3 operation.", "operation")
	m.sigFailures = f.counterVec("security", "signature_failures_total", "Requests whose signature did not verify, by reason.", "reason")
	m.denied = f.counterVec("security", "access_denied_total", "Authenticated requests denied by policy, by S3 operation.", "operation")
	m.tokenFailures = f.counterVec("security", "token_failures_total", "Requests with a session token that was expired or invalid.", "reason")
	m.scrapesRefused = f.counter("security", "metrics_scrapes_refused_total", "Requests for /metrics refused for a missing or wrong bearer token.")
	m.bitrot = f.counter("storage", "bitrot_detected_total", "Shards found corrupt (checksum mismatch) when read or verified.")
	m.heals = f.counterVec("storage", "heals_total", "Objects healed, by result (healed, failed, dangling_removed: copies of an object on too few drives ever to be read, removed).", "result")
	m.healed = m.heals.WithLabelValues("healed")
	m.healFails = m.heals.WithLabelValues("failed")
	m.healDangling = m.heals.WithLabelValues("dangling_removed")
	m.uploadsExpired = f.counter("storage", "multipart_uploads_expired_total", "Incomplete multipart uploads removed, with their parts, for being older than the expiry age.")
	m.fuseOps = f.counterVec("fuse", "operations_total", "FUSE operations by operation and result (ok, error).", "operation", "result")
	m.fuseLatency = f.histogramVec("fuse", "operation_duration_seconds", "FUSE operation latency.", "operation")
	for _, r := range []SigReason{SigMismatch, SigMalformed, SigUnknownKey, SigExpired, SigMissing} {
		m.sigFailures.WithLabelValues(string(r)) // every reason shows, at 0, from the start
	}
	m.tokenFailures.WithLabelValues("expired")
	m.tokenFailures.WithLabelValues("invalid")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the server's registry, to register more collectors or to gather.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Register adds a collector (see package collect) to the server's registry.
func (m *Metrics) Register(c prometheus.Collector) error {
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register collector: %w", err)
	}
	return nil
}

// SigReason is why a signature did not verify.
type SigReason string

// Signature failure reasons.
const (
	SigMismatch   SigReason = "mismatch"    // computed and given signatures differ
	SigMalformed  SigReason = "malformed"   // Authorization header or query unparsable
	SigUnknownKey SigReason = "unknown_key" // access key id not found
	SigExpired    SigReason = "expired"     // request time outside the allowed skew, or presigned URL expired
	SigMissing    SigReason = "missing"     // a signed header or the payload hash is missing
)

// SignatureFailure counts a request whose signature did not verify.
func (m *Metrics) SignatureFailure(reason SigReason) {
	m.sigFailures.WithLabelValues(string(reason)).Inc()
}

// AccessDenied counts an authenticated request that policy denied.
func (m *Metrics) AccessDenied(operation string) { m.denied.WithLabelValues(operation).Inc() }

// TokenRejected counts a request with an expired (expired true) or otherwise invalid
// session token.
func (m *Metrics) TokenRejected(expired bool) {
	r := "invalid"
	if expired {
		r = "expired"
	}
	m.tokenFailures.WithLabelValues(r).Inc()
}

// BitrotDetected counts corrupt shards found.
func (m *Metrics) BitrotDetected(shards int) { m.bitrot.Add(float64(shards)) }

// Healed counts one object heal, successful or not.
func (m *Metrics) Healed(ok bool) {
	if ok {
		m.healed.Inc()
	} else {
		m.healFails.Inc()
	}
}

// DanglingRemoved counts one object heal removed as dangling.
func (m *Metrics) DanglingRemoved() { m.healDangling.Inc() }

// UploadsExpired counts incomplete multipart uploads removed by the expiry.
func (m *Metrics) UploadsExpired(n int) { m.uploadsExpired.Add(float64(n)) }

// factory creates and registers metric families.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(sub, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(sub, name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogramVec(sub, name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help, Buckets: latencyBuckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// seconds converts a duration for Observe.
func seconds(d time.Duration) float64 { return d.Seconds() }
