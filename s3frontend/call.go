package s3frontend

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"
	"unsafe"

	"github.com/flashstor/flashstor/iam/authz"
	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/reqid"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/optiming"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/s3frontend/router"
	"github.com/flashstor/flashstor/s3frontend/s3err"
	"github.com/flashstor/flashstor/s3frontend/s3xml"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// call is the state of one request, recycled through Handler.calls. Everything in it that
// views the request (r, the router's request, sig) is cleared by end; the buffers it owns
// (query, route, xml, scratch) keep their memory for the next request.
type call struct {
	h   *Handler
	w   httpserver.ResponseWriter
	r   *httpserver.Request
	ctx context.Context

	sig   sigRequest
	query router.Query
	rreq  router.Request
	route router.Route
	auth  sigv4.Auth

	// bucket and key are copies of the route's: the object layer may keep them.
	bucket, key string

	// reqID is the x-amz-request-id of the response, in the request's arena.
	reqID []byte
	// xml is the reusable buffer of response documents.
	xml s3xml.Writer
	// scratch formats header values before they are copied into the arena.
	scratch []byte
	// body is the lazy-status writer GET streams through.
	body bodyWriter

	// What observe records: the request's clock, the observed body and response writer
	// the handlers use, the object layer's timing (through the contexts), the outcome.
	clock  clock
	in     observedBody
	out    observedWriter
	timing optiming.Timing
	// rctx is readContext()'s, over context.Background(). It is set on first use and
	// never reset: a drive call the layer abandoned (timed out) may still hold it after the
	// request ended, and must find it valid and unchanged.
	rctx    optiming.Context
	special special
	errCode string
	authErr error
	// tokenRejected marks a request refused for carrying a session token.
	tokenRejected bool
	// anonymous marks an unauthenticated request let through to its operation, which
	// must ask objectAccess before it answers with an object.
	anonymous bool
	// anonErr is the authentication failure of an anonymous request let through: if
	// it is refused after all, it counts as the anonymous refusal it is.
	anonErr error
	// caller is who the request runs as, resolved after its signature; authq and pctx
	// are the authorisation question and its condition keys, reused between requests.
	caller *authz.Caller
	authq  authz.Query
	pctx   requestContext
	// aclOnly: no policy allowed the object read; the object's ACL decides. needTags: a
	// statement asked for s3:ExistingObjectTag, decided again once the object is read.
	// policyAllowed and policyDenied record the policies' answer (policyDenied counts
	// in the security metrics).
	aclOnly, needTags, policyAllowed, policyDenied bool
	// tokenExpired marks a refused session token that had expired.
	tokenExpired bool
	// queryBody is the IAM or STS form, read before the signature is verified.
	queryBody []byte
	rec       audit.Record
}

// special marks the requests that are not S3 operations.
type special uint8

const (
	specialNone    special = iota
	specialHealth          // /flashstor/health/live or /ready
	specialMetrics         // /metrics
)

// maxRetainedXML bounds the document buffer a call keeps between requests.
const maxRetainedXML = 1 << 20

func (c *call) begin(w httpserver.ResponseWriter, r *httpserver.Request) {
	c.out = observedWriter{w: w, clock: &c.clock}
	c.in = observedBody{r: r.Body, clock: &c.clock}
	r.Body = &c.in
	c.w, c.r = &c.out, r
	c.sig.r = r
	c.ctx = nil
	c.timing.Reset()
}

func (c *call) end() {
	c.w, c.r, c.ctx = nil, nil, nil
	c.out, c.in = observedWriter{}, observedBody{}
	c.special, c.errCode, c.authErr, c.tokenRejected = specialNone, "", nil, false
	c.anonymous, c.anonErr = false, nil
	c.caller, c.pctx = nil, requestContext{c: c}
	c.authq.Reset()
	c.aclOnly, c.needTags, c.policyAllowed, c.policyDenied, c.tokenExpired = false, false, false, false, false
	c.queryBody, c.sig.payloadSum = nil, nil
	c.sig.r = nil
	c.rreq = router.Request{}
	c.route.Bucket, c.route.Key = nil, nil
	c.auth = sigv4.Auth{}
	c.bucket, c.key = "", ""
	c.reqID = nil
	c.body = bodyWriter{}
	if cap(c.xml.B) > maxRetainedXML {
		c.xml.B = nil
	}
	c.xml.Reset()
}

// readContext is the context of GET and HEAD: a read holds nothing that needs cancelling
// (a client that goes away makes the next write fail, which ends the read), and the
// request's own cancellable context costs allocations in the object layer, whose drive
// calls derive their deadlines from it.
// Like context, it carries the call's timing, without allocating.
func (c *call) readContext() context.Context {
	if c.rctx.Context == nil {
		c.rctx = optiming.Context{Context: context.Background(), Timing: &c.timing}
	}
	return &c.rctx
}

// context returns the request's context, created on first use; it carries the call's
// timing. It is allocated for each request, not kept in the pooled call: when the request's
// context ends (net/http ends it when the client goes away), the layer stops waiting for
// its drive calls but they run on, holding the context, after the request has ended and
// its call has been reset and reused. A context must stay valid as long as anything holds
// it; a pooled one was zeroed under them (a nil pointer dereference that ended the server).
func (c *call) context() context.Context {
	if c.ctx == nil {
		c.ctx = &optiming.Context{Context: c.r.Context(), Timing: &c.timing}
	}
	return c.ctx
}

// signed reports whether the request carries S3 authentication (header or query), which
// makes it an S3 request even on the paths of the health and metrics endpoints. A bearer
// token (a Prometheus scrape) is not S3 authentication.
func (c *call) signed() bool {
	if a := c.r.Header("authorization"); a != nil && !hasPrefixFold(a, "bearer ") {
		return true
	}
	for q := c.r.RawQuery; len(q) > 0; {
		var param []byte
		param, q, _ = bytes.Cut(q, []byte{'&'})
		name, _, _ := bytes.Cut(param, []byte{'='})
		switch string(name) {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId", "Signature":
			return true
		}
	}
	return false
}

// serve runs the request from routing to response.
func (c *call) serve() {
	h := c.h
	c.setRequestID()
	if c.health() || c.serveMetrics() {
		return
	}
	if err := c.query.Parse(c.r.RawQuery); err != nil {
		c.fail(s3err.InvalidURI)
		return
	}
	c.rreq = router.Request{
		Method:     c.r.Method,
		Host:       c.r.Host,
		Path:       c.r.Path,
		Query:      &c.query,
		CopySource: c.r.Header("x-amz-copy-source") != nil,
	}
	routeErr := h.router.Route(&c.rreq, &c.route)
	if routeErr == nil && c.route.Op == router.OpPreflightCORS {
		// Browsers never sign a preflight: the bucket's CORS rules alone decide it.
		c.runOp()
		return
	}
	if routeErr == nil && c.route.Op == router.OpPostObject && !c.signed() && c.h.configs != nil {
		// A browser form signs its policy, not the request: postObject finds who it is
		// from the form, then authorizes.
		c.runOp()
		return
	}
	if c.isQueryAPI() {
		if err := c.readQueryBody(); err != nil {
			c.fail(err)
			return
		}
	}
	authStart := time.Now()
	auth, err := h.verifier.Verify(&c.sig)
	switch {
	case err != nil && routeErr == nil && sigv4.FailureOf(err) == sigv4.FailMissingAuth && c.h.configs != nil:
		// Unauthenticated: the bucket's policy and ACLs decide, below.
		c.anonymous, c.anonErr = true, err
	case err != nil:
		// Authentication comes first: an anonymous or forged request learns nothing, not
		// even whether its operation exists.
		c.clock.auth = time.Since(authStart)
		c.authErr = err
		c.fail(err)
		return
	}
	c.auth = auth
	c.caller, err = h.authz.Resolve(auth.AccessKey, auth.SecurityToken)
	if err != nil {
		c.clock.auth = time.Since(authStart)
		c.tokenRejected, c.tokenExpired = true, errors.Is(err, authz.ErrExpiredToken)
		e := s3err.InvalidToken
		if c.tokenExpired {
			e = s3err.ExpiredToken
		}
		c.authErr = e
		c.fail(e)
		return
	}
	if auth.Service != "" && auth.Service != sigv4.Service {
		c.clock.auth = time.Since(authStart)
		c.serveQuery()
		return
	}
	if routeErr != nil {
		c.clock.auth = time.Since(authStart)
		if c.anonymous {
			c.fail(c.anonErr)
			return
		}
		c.fail(routeErr)
		return
	}
	c.bucket, c.key = string(c.route.Bucket), string(c.route.Key)
	err = c.authorize()
	c.clock.auth = time.Since(authStart)
	if err != nil {
		c.fail(err)
		return
	}
	c.runOp()
}

// runOp runs the routed operation and answers its error.
func (c *call) runOp() {
	if c.bucket == "" {
		c.bucket, c.key = string(c.route.Bucket), string(c.route.Key)
	}
	c.clock.opStart = time.Now()
	if c.route.Op != router.OpPreflightCORS {
		c.corsActual()
	}
	err := c.h.ops[c.route.Op](c)
	c.clock.opEnd = time.Now()
	if err != nil {
		c.fail(err)
	}
}

// setRequestID sets x-amz-request-id and x-amz-id-2, which every response carries.
func (c *call) setRequestID() {
	id := c.h.ids.Next()
	b := c.r.Arena.AllocNoZero(reqid.Len)
	copy(b, id[:])
	c.reqID = b
	hdr := c.w.Header()
	hdr.SetBytes("x-amz-request-id", b)
	hdr.Set("x-amz-id-2", c.h.hostID)
}

// health answers the unauthenticated health endpoints; it reports whether it did. A signed
// request for the same path is an S3 request (for bucket "flashstor"), not a health check.
func (c *call) health() bool {
	p := c.r.Path
	const live, ready = "/flashstor/health/live", "/flashstor/health/ready"
	if string(p) != live && string(p) != ready || c.signed() {
		return false
	}
	c.special = specialHealth
	if c.r.Method != httpwire.MethodGet && c.r.Method != httpwire.MethodHead {
		c.fail(s3err.MethodNotAllowed)
		return true
	}
	status := 200
	if string(p) == ready && !c.h.layer.Ready(c.context()) {
		status = 503
	}
	c.setHealthHeaders()
	c.w.Header().Set("Content-Length", "0")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	return true
}

// setHealthHeaders tells, on a health response, how many erasure sets there are and how
// many are degraded (a drive missing or left out), read-only (below write quorum) and
// unavailable (below read quorum), when the layer reports it: a probe that only looks at
// the status still sees the server up while a set is degraded, and one that reads these
// sees what to page about.
func (c *call) setHealthHeaders() {
	hr, ok := c.h.layer.(objstore.HealthReporter)
	if !ok {
		return
	}
	var degraded, readOnly, unavailable int
	sets := hr.SetHealth()
	for _, s := range sets {
		switch {
		case s.Usable < s.ReadQuorum:
			unavailable++
		case s.Usable < s.WriteQuorum:
			readOnly++
		case s.Usable < s.Drives:
			degraded++
		}
	}
	hdr := c.w.Header()
	hdr.Set("X-Flashstor-Sets", strconv.Itoa(len(sets)))
	hdr.Set("X-Flashstor-Sets-Degraded", strconv.Itoa(degraded))
	hdr.Set("X-Flashstor-Sets-Read-Only", strconv.Itoa(readOnly))
	hdr.Set("X-Flashstor-Sets-Unavailable", strconv.Itoa(unavailable))
}

// fail sends the S3 error response for err. The response must not have started.
func (c *call) fail(err error) {
	e := s3err.From(err)
	c.errCode = e.Code
	if c.anonymous && e.Code == s3err.AccessDenied.Code {
		c.authErr = c.anonErr
	}
	switch {
	case e.Status >= 500 && e.Code == s3err.InternalError.Code:
		c.h.log.Error("s3: internal error", "op", c.route.Op.String(), "bucket", c.bucket, "key", c.key,
			"request", string(c.reqID), "err", err)
	case s3err.BodyFault(err):
		// The client broke its own request (reset, stall, bad framing): worth a line for
		// whoever looks into a failed upload, but not an error of the server's.
		c.h.log.Info("s3: client error", "op", c.route.Op.String(), "bucket", c.bucket, "key", c.key,
			"request", string(c.reqID), "code", e.Code, "err", err)
	}
	hdr := c.w.Header()
	if e.Status == 503 {
		hdr.Set("Retry-After", "1")
	}
	if c.r.Method == httpwire.MethodHead || e.Status == 304 {
		// HEAD responses and 304s carry no body, and S3 sends no error document then.
		c.w.WriteHeader(e.Status)
		return
	}
	x := &c.xml
	x.Reset()
	x.Declaration()
	x.Open("Error")
	x.String("Code", e.Code)
	x.String("Message", e.Message)
	for _, kv := range e.Extra {
		x.String(kv[0], kv[1])
	}
	switch e.Code {
	case s3err.NoSuchBucket.Code:
		x.String("BucketName", c.bucket)
	case s3err.NoSuchKey.Code:
		x.String("Key", c.key)
	case s3err.NoSuchUpload.Code:
		x.Bytes("UploadId", c.queryValue("uploadId"))
	}
	x.Bytes("Resource", c.r.Path)
	x.Bytes("RequestId", c.reqID)
	x.String("HostId", c.h.hostID)
	x.Close("Error")
	c.sendXML(e.Status)
}

// sendXML sends the document in c.xml with status.
func (c *call) sendXML(status int) {
	hdr := c.w.Header()
	hdr.Set("Content-Type", "application/xml")
	c.scratch = strconv.AppendInt(c.scratch[:0], int64(len(c.xml.B)), 10)
	hdr.SetBytes("Content-Length", c.scratch)
	c.w.WriteHeader(status)
	c.w.Write(c.xml.B)
}

// startXML starts a response document with the namespaced root element.
func (c *call) startXML(root string) *s3xml.Writer {
	x := &c.xml
	x.Reset()
	x.Declaration()
	x.Root(root)
	return x
}

// header returns the first value of a request header, nil when absent. A presigned URL may
// carry x-amz-* headers in its query instead (signed there): they count as headers.
func (c *call) header(name string) []byte {
	if v := c.r.Header(name); v != nil {
		return v
	}
	if c.auth.Presigned && hasPrefixFold(bytesOf(name), "x-amz-") {
		for i := 0; i < c.query.Len(); i++ {
			if httpwire.EqualFold(c.query.Name(i), name) {
				return c.query.Value(i)
			}
		}
	}
	return nil
}

// queryValue returns a query parameter's decoded value, nil when absent.
func (c *call) queryValue(name string) []byte {
	v, _ := c.query.Get(name)
	return v
}

// setHeader sets a response header from bytes (copied into the arena).
func (c *call) setHeader(name string, v []byte) { c.w.Header().SetBytes(name, v) }

// sigRequest is the sigv4.Request view of the transport's request.
type sigRequest struct {
	r *httpserver.Request
	// payloadSum is the hex SHA-256 of an IAM or STS form read before verification.
	payloadSum []byte
}

var _ sigv4.PayloadHasher = (*sigRequest)(nil)

// PayloadSHA256 implements sigv4.PayloadHasher.
func (s *sigRequest) PayloadSHA256() ([]byte, bool) { return s.payloadSum, s.payloadSum != nil }

var _ sigv4.Request = (*sigRequest)(nil)

// Method implements sigv4.Request.
func (s *sigRequest) Method() []byte { return bytesOf(s.r.Method) }

// RawPath implements sigv4.Request.
func (s *sigRequest) RawPath() []byte { return s.r.Path }

// RawQuery implements sigv4.Request.
func (s *sigRequest) RawQuery() []byte { return s.r.RawQuery }

// AppendHeaderValues implements sigv4.Request.
func (s *sigRequest) AppendHeaderValues(dst [][]byte, name string) [][]byte {
	for _, f := range s.r.Fields() {
		if httpwire.EqualFold(f.Name, name) {
			dst = append(dst, f.Value)
		}
	}
	return dst
}

// AppendHeaderNames implements sigv4.Request.
func (s *sigRequest) AppendHeaderNames(dst [][]byte) [][]byte {
	for _, f := range s.r.Fields() {
		dst = append(dst, f.Name)
	}
	return dst
}

// bytesOf views s as bytes without copying; the result must never be written to.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
