package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/internal/metrics/metricstest"
)

// scrape GETs h over a loopback server with the given Authorization header ("" for none)
// and returns the status and, on 200, the parsed families.
func scrape(t *testing.T, h http.Handler, auth string) (int, metricstest.Families) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	fams, err := metricstest.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, fams
}

// expectation is one series and the value it must have.
type expectation struct {
	name   string
	labels []string
	want   float64
}

func checkAll(t *testing.T, fams metricstest.Families, exps []expectation) {
	t.Helper()
	for _, e := range exps {
		got, ok := fams.Value(e.name, e.labels...)
		if !ok {
			t.Errorf("%s%v: missing", e.name, e.labels)
			continue
		}
		if got != e.want {
			t.Errorf("%s%v = %v, want %v", e.name, e.labels, got, e.want)
		}
	}
}

func labels(kv ...string) []string { return kv }

func hasPrefix(fams metricstest.Families, prefix string) bool {
	for name := range fams {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}
