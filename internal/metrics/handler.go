package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Handler returns the /metrics handler. With an empty token it is open; otherwise a
// request must carry "Authorization: Bearer TOKEN" or it gets 401 (and is counted as a
// security event).
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.authorized(r.Header.Get("Authorization"), &want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flashstor metrics"`)
			http.Error(w, "401 unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Authorized reports whether an Authorization header value carries token as a bearer
// token, for servers that do not use net/http (Handler does this itself). An empty token
// authorizes everything. A refusal is counted.
func (m *Metrics) Authorized(header, token string) bool {
	if token == "" {
		return true
	}
	want := sha256.Sum256([]byte(token))
	return m.authorized(header, &want)
}

// authorized compares hashes in constant time: neither the token's bytes nor its length
// show in the time taken.
func (m *Metrics) authorized(header string, want *[sha256.Size]byte) bool {
	scheme, given, ok := strings.Cut(header, " ")
	got := sha256.Sum256([]byte(strings.TrimSpace(given)))
	if ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
		return true
	}
	m.scrapesRefused.Inc()
	return false
}

// TextContentType is the Content-Type of what WriteText writes.
var TextContentType = string(expfmt.NewFormat(expfmt.TypeTextPlain))

// WriteText writes every metric in the Prometheus text format (TextContentType), for
// servers that do not use net/http.
func (m *Metrics) WriteText(w io.Writer) error {
	families, err := m.reg.Gather()
	if err != nil {
		return fmt.Errorf("metrics: gather: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("metrics: encode %s: %w", mf.GetName(), err)
		}
	}
	return nil
}
