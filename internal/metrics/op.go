package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sample is what the S3 face measured of one request.
type Sample struct {
	Status            int   // HTTP status sent
	BytesIn, BytesOut int64 // body bytes read and sent
	Duration          time.Duration
	// Parts of Duration; zero parts are not observed (a request that took no lock).
	Auth, LockWait, Storage, Response time.Duration
}

// commonStatus lists the status codes S3 answers with; their counters are kept in an
// array, others go through the label map.
var commonStatus = [...]int{200, 204, 206, 304, 307, 400, 403, 404, 405, 409, 411, 412, 416, 500, 501, 503}

func statusSlot(code int) int {
	for i, c := range commonStatus {
		if c == code {
			return i
		}
	}
	return -1
}

// Op records the requests of one S3 operation. Get it once from Metrics.Op.
type Op struct {
	m        *Metrics
	name     string
	requests *prometheus.CounterVec // curried with the operation
	latency  prometheus.Observer
	in, out  prometheus.Counter
	// byStatus caches the counter of each common status, created on first use so that
	// codes an operation never returns do not show as zero series.
	byStatus [len(commonStatus)]atomic.Pointer[prometheus.Counter]
}

// Op returns the recorder of an S3 operation ("PutObject"), the same one for the same name.
func (m *Metrics) Op(name string) *Op {
	m.mu.Lock()
	defer m.mu.Unlock()
	if op := m.ops[name]; op != nil {
		return op
	}
	op := &Op{
		m:        m,
		name:     name,
		requests: m.requests.MustCurryWith(prometheus.Labels{"operation": name}),
		latency:  m.latency.WithLabelValues(name),
		in:       m.received.WithLabelValues(name),
		out:      m.sent.WithLabelValues(name),
	}
	m.ops[name] = op
	return op
}

// Observe records one finished request.
func (o *Op) Observe(s Sample) {
	o.counter(s.Status).Inc()
	o.latency.Observe(seconds(s.Duration))
	if s.BytesIn > 0 {
		o.in.Add(float64(s.BytesIn))
	}
	if s.BytesOut > 0 {
		o.out.Add(float64(s.BytesOut))
	}
	if s.Auth > 0 {
		o.m.phaseAuth.Observe(seconds(s.Auth))
	}
	if s.LockWait > 0 {
		o.m.phaseLock.Observe(seconds(s.LockWait))
	}
	if s.Storage > 0 {
		o.m.phaseStorage.Observe(seconds(s.Storage))
	}
	if s.Response > 0 {
		o.m.phaseResponse.Observe(seconds(s.Response))
	}
}

// AccessDenied counts a request of this operation denied by policy.
func (o *Op) AccessDenied() { o.m.AccessDenied(o.name) }

func (o *Op) counter(code int) prometheus.Counter {
	i := statusSlot(code)
	if i < 0 {
		return o.requests.WithLabelValues(strconv.Itoa(code))
	}
	if c := o.byStatus[i].Load(); c != nil {
		return *c
	}
	c := o.requests.WithLabelValues(strconv.Itoa(code)) // the same child if two race here
	o.byStatus[i].Store(&c)
	return c
}

// FUSEOp records the calls of one FUSE operation. Get it once from Metrics.FUSEOp.
type FUSEOp struct {
	ok, failed prometheus.Counter
	latency    prometheus.Observer
}

// FUSEOp returns the recorder of a FUSE operation ("Lookup", "Read"), the same one for
// the same name.
func (m *Metrics) FUSEOp(name string) *FUSEOp {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.fuse[name]; f != nil {
		return f
	}
	f := &FUSEOp{
		ok:      m.fuseOps.WithLabelValues(name, "ok"),
		failed:  m.fuseOps.WithLabelValues(name, "error"),
		latency: m.fuseLatency.WithLabelValues(name),
	}
	m.fuse[name] = f
	return f
}

// Observe records one call that took d and failed (returned an errno) or not.
func (f *FUSEOp) Observe(d time.Duration, failed bool) {
	if failed {
		f.failed.Inc()
	} else {
		f.ok.Inc()
	}
	f.latency.Observe(seconds(d))
}
