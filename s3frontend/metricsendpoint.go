package s3frontend

import (
	"net/http"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// metricsPath is where Prometheus scrapes. It is also the path of bucket "metrics": an
// unsigned GET is a scrape, a signed request is an S3 request for that bucket (S3 clients
// always sign; Prometheus never does), so neither hides the other.
const metricsPath = "/metrics"

// serveMetrics answers a scrape of /metrics; it reports whether the request was one.
func (c *call) serveMetrics() bool {
	m := c.h.metrics
	if m == nil || string(c.r.Path) != metricsPath || c.signed() {
		return false
	}
	c.special = specialMetrics
	if c.r.Method != httpwire.MethodGet && c.r.Method != httpwire.MethodHead {
		c.fail(s3err.MethodNotAllowed)
		return true
	}
	hdr := c.w.Header()
	hdr.Set("Cache-Control", "no-store")
	if !m.Authorized(string(c.r.Header("authorization")), c.h.metricsToken) {
		hdr.Set("WWW-Authenticate", `Bearer realm="flashstor metrics"`)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		c.w.WriteHeader(http.StatusUnauthorized)
		c.w.Write([]byte("401 unauthorized: /metrics needs \"Authorization: Bearer TOKEN\"\n"))
		return true
	}
	hdr.Set("Content-Type", metrics.TextContentType)
	c.w.WriteHeader(http.StatusOK)
	if err := m.WriteText(c.w); err != nil {
		c.h.log.Warn("metrics: scrape incomplete", "request", string(c.reqID), "err", err)
	}
	return true
}
