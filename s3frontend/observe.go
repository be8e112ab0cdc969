package s3frontend

import (
	"io"
	"time"
	"unsafe"

	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// Every request is observed once, when its handler returns: one audit record and one
// metrics sample, both built from the same measurements.
//
// Where the time goes. Duration runs from the handler's start to its return (the last
// buffered bytes of a small response, at most 4 KiB, are sent after that and not counted).
// Its parts are measured, not estimated, except Storage:
//   - Auth: the signature check of the head (chunk signatures are checked as the body is
//     read and count as body reading);
//   - LockWait: what the object layer reports waiting for namespace locks (optiming);
//   - Response: time blocked in writes to the client;
//   - Storage: the operation's own time with the lock wait, the writes to the client and
//     the waits for the client's body taken out: erasure coding, drive I/O and the
//     handler's own work (XML, metadata), which is small beside them.
type clock struct {
	start    time.Time
	auth     time.Duration
	bodyWait time.Duration // blocked reading the request body from the client
	respWait time.Duration // blocked writing the response to the client
	opStart  time.Time     // when the operation began, after authentication
	opEnd    time.Time
}

// observedBody is the request body as handlers see it: it counts the bytes and the time
// spent waiting for them.
type observedBody struct {
	r     io.Reader
	n     int64
	clock *clock
}

func (b *observedBody) Read(p []byte) (int, error) {
	t := time.Now()
	n, err := b.r.Read(p)
	b.clock.bodyWait += time.Since(t)
	b.n += int64(n)
	return n, err
}

// observedWriter is the response writer as handlers see it: it remembers the status and
// counts the body bytes and the time spent writing them.
type observedWriter struct {
	w      httpserver.ResponseWriter
	status int
	n      int64
	clock  *clock
	src    timedReader // ReadFrom's source
}

var _ httpserver.ResponseWriter = (*observedWriter)(nil)

func (o *observedWriter) Header() *httpserver.ResponseHeader { return o.w.Header() }

func (o *observedWriter) WriteHeader(status int) {
	if o.status == 0 && status >= 200 {
		o.status = status
	}
	o.w.WriteHeader(status)
}

func (o *observedWriter) Write(p []byte) (int, error) {
	if o.status == 0 {
		o.status = 200
	}
	t := time.Now()
	n, err := o.w.Write(p)
	o.clock.respWait += time.Since(t)
	o.n += int64(n)
	return n, err
}

func (o *observedWriter) WriteVectored(bufs [][]byte) (int64, error) {
	if o.status == 0 {
		o.status = 200
	}
	t := time.Now()
	n, err := o.w.WriteVectored(bufs)
	o.clock.respWait += time.Since(t)
	o.n += n
	return n, err
}

// ReadFrom streams src to the client; the time spent reading src (object data: storage)
// is not counted as writing to the client.
func (o *observedWriter) ReadFrom(src io.Reader) (int64, error) {
	if o.status == 0 {
		o.status = 200
	}
	t := time.Now()
	o.src = timedReader{r: src}
	n, err := o.w.ReadFrom(&o.src)
	o.clock.respWait += time.Since(t) - o.src.d
	o.src = timedReader{}
	o.n += n
	return n, err
}

// timedReader measures the time spent in its reader.
type timedReader struct {
	r io.Reader
	d time.Duration
}

func (t *timedReader) Read(p []byte) (int, error) {
	start := time.Now()
	n, err := t.r.Read(p)
	t.d += time.Since(start)
	return n, err
}

// observe records the request that just ended: metrics sample, security events, audit
// record.
func (c *call) observe() {
	h := c.h
	if h.metrics == nil && h.audit == nil {
		return
	}
	end := time.Now()
	ck := &c.clock
	status := c.out.status
	if status == 0 {
		status = 200
	}
	var lockWait, lockHeld, storage time.Duration
	if !ck.opStart.IsZero() {
		lockWait, lockHeld = c.timing.LockWait(), c.timing.LockHeld()
		storage = max(0, ck.opEnd.Sub(ck.opStart)-lockWait-ck.respWait-ck.bodyWait)
	}
	opName := c.opName()
	if h.metrics != nil {
		op := h.opMetrics[c.route.Op]
		switch c.special {
		case specialHealth:
			op = h.healthMetrics
		case specialMetrics:
			op = h.scrapeMetrics
		}
		op.Observe(metrics.Sample{
			Status: status, BytesIn: c.in.n, BytesOut: c.out.n, Duration: end.Sub(ck.start),
			Auth: ck.auth, LockWait: lockWait, Storage: storage, Response: ck.respWait,
		})
		c.countSecurityEvent(op)
	}
	if h.audit != nil {
		r := &c.rec
		*r = audit.Record{
			Time: ck.start, RequestID: viewString(c.reqID), RemoteAddr: c.r.RemoteAddr,
			AccessKey: viewString(c.auth.AccessKey), Operation: opName,
			Bucket: c.bucket, Key: c.key, Status: status, ErrorCode: c.errCode,
			BytesIn: c.in.n, BytesOut: c.out.n, Duration: end.Sub(ck.start),
			Auth: ck.auth, LockWait: lockWait, Storage: storage, Response: ck.respWait,
			LockHeld: lockHeld,
		}
		h.audit.Emit(r) // a full log drops the record and counts it; requests never wait
		*r = audit.Record{}
	}
}

// opName is the operation's name for the audit log and metrics.
func (c *call) opName() string {
	switch c.special {
	case specialHealth:
		return "HealthCheck"
	case specialMetrics:
		return "Metrics"
	}
	return c.route.Op.String()
}

// countSecurityEvent counts a request refused for its credentials.
func (c *call) countSecurityEvent(op *metrics.Op) {
	if c.authErr == nil {
		if c.policyDenied {
			op.AccessDenied()
		}
		return
	}
	m := c.h.metrics
	switch sigv4.FailureOf(c.authErr) {
	case sigv4.FailMissingAuth:
		op.AccessDenied() // anonymous, and refused
	case sigv4.FailSignatureMismatch, sigv4.FailChunkSignatureMismatch, sigv4.FailContentSHA256Mismatch:
		m.SignatureFailure(metrics.SigMismatch)
	case sigv4.FailUnknownAccessKey:
		m.SignatureFailure(metrics.SigUnknownKey)
	case sigv4.FailTimeSkewed, sigv4.FailExpired, sigv4.FailNotYetValid:
		m.SignatureFailure(metrics.SigExpired)
	case sigv4.FailMissingDate, sigv4.FailUnsignedHeaders, sigv4.FailMissingContentSHA256, sigv4.FailMissingDecodedLength:
		m.SignatureFailure(metrics.SigMissing)
	case sigv4.FailUnsupportedAuth, sigv4.FailMultipleAuth, sigv4.FailHeaderMalformed, sigv4.FailWrongRegion,
		sigv4.FailQueryMalformed, sigv4.FailQueryWrongRegion, sigv4.FailBadContentSHA256, sigv4.FailBadDecodedLength:
		m.SignatureFailure(metrics.SigMalformed)
	case 0:
		if c.tokenRejected {
			m.TokenRejected(c.tokenExpired)
		}
	}
}

// viewString views b as a string without copying; valid while b is unchanged.
func viewString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
