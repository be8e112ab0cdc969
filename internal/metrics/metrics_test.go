package metrics

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestRecordAndScrape records a known sequence and checks every family it touched.
func TestRecordAndScrape(t *testing.T) {
	m := New()
	put, get := m.Op("PutObject"), m.Op("GetObject")
	if m.Op("PutObject") != put {
		t.Fatal("Op returned a new handle for the same name")
	}
	for i := 0; i < 3; i++ {
		put.Observe(Sample{Status: 200, BytesIn: 100, Duration: 3 * time.Millisecond, Auth: time.Millisecond, Storage: 2 * time.Millisecond, Response: 10 * time.Microsecond})
	}
	put.AccessDenied()
	put.Observe(Sample{Status: 403, Duration: time.Millisecond, Auth: time.Millisecond})
	get.Observe(Sample{Status: 404, Duration: 2 * time.Second, LockWait: time.Second})
	get.Observe(Sample{Status: 404, Duration: time.Millisecond})
	get.Observe(Sample{Status: 299, BytesOut: 5000, Duration: time.Millisecond}) // not a common code
	m.SignatureFailure(SigMismatch)
	m.SignatureFailure(SigMismatch)
	m.SignatureFailure(SigUnknownKey)
	m.TokenRejected(true)
	m.BitrotDetected(3)
	m.Healed(true)
	m.Healed(false)
	m.Healed(true)
	m.DanglingRemoved()
	m.UploadsExpired(0)
	m.UploadsExpired(7)
	read := m.FUSEOp("Read")
	read.Observe(time.Millisecond, false)
	read.Observe(time.Millisecond, false)
	read.Observe(time.Millisecond, true)

	status, fams := scrape(t, m.Handler(""), "")
	if status != http.StatusOK {
		t.Fatalf("scrape: %d", status)
	}
	checkAll(t, fams, []expectation{
		{"flashstor_s3_requests_total", labels("operation", "PutObject", "code", "200"), 3},
		{"flashstor_s3_requests_total", labels("operation", "PutObject", "code", "403"), 1},
		{"flashstor_s3_requests_total", labels("operation", "GetObject", "code", "404"), 2},
		{"flashstor_s3_requests_total", labels("operation", "GetObject", "code", "299"), 1},
		{"flashstor_s3_request_duration_seconds", labels("operation", "PutObject"), 4},
		{"flashstor_s3_request_duration_seconds", labels("operation", "GetObject"), 3},
		{"flashstor_s3_request_phase_duration_seconds", labels("phase", "auth"), 4},
		{"flashstor_s3_request_phase_duration_seconds", labels("phase", "storage"), 3},
		{"flashstor_s3_request_phase_duration_seconds", labels("phase", "lock_wait"), 1},
		{"flashstor_s3_request_phase_duration_seconds", labels("phase", "response"), 3},
		{"flashstor_s3_received_bytes_total", labels("operation", "PutObject"), 300},
		{"flashstor_s3_sent_bytes_total", labels("operation", "GetObject"), 5000},
		{"flashstor_security_signature_failures_total", labels("reason", "mismatch"), 2},
		{"flashstor_security_signature_failures_total", labels("reason", "unknown_key"), 1},
		{"flashstor_security_signature_failures_total", labels("reason", "expired"), 0},
		{"flashstor_security_access_denied_total", labels("operation", "PutObject"), 1},
		{"flashstor_security_token_failures_total", labels("reason", "expired"), 1},
		{"flashstor_security_token_failures_total", labels("reason", "invalid"), 0},
		{"flashstor_storage_bitrot_detected_total", nil, 3},
		{"flashstor_storage_heals_total", labels("result", "healed"), 2},
		{"flashstor_storage_heals_total", labels("result", "failed"), 1},
		{"flashstor_storage_heals_total", labels("result", "dangling_removed"), 1},
		{"flashstor_storage_multipart_uploads_expired_total", nil, 7},
		{"flashstor_fuse_operations_total", labels("operation", "Read", "result", "ok"), 2},
		{"flashstor_fuse_operations_total", labels("operation", "Read", "result", "error"), 1},
		{"flashstor_fuse_operation_duration_seconds", labels("operation", "Read"), 3},
	})
	// The 2s GET lands in the 2.5s bucket and not in the 1s one.
	h := fams["flashstor_s3_request_duration_seconds"]
	for _, mt := range h.GetMetric() {
		if mt.GetLabel()[0].GetValue() != "GetObject" {
			continue
		}
		for _, b := range mt.GetHistogram().GetBucket() {
			want := uint64(2)
			if b.GetUpperBound() >= 2.5 {
				want = 3
			}
			if b.GetUpperBound() >= 0.001 && b.GetCumulativeCount() != want {
				t.Errorf("GetObject bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	if !hasPrefix(fams, "go_") || !hasPrefix(fams, "process_") {
		t.Error("runtime and process collectors missing")
	}
}

func TestHandlerBearerToken(t *testing.T) {
	tests := []struct {
		name, token, header string
		want                int
	}{
		{"open", "", "", 200},
		{"open ignores a header", "", "Bearer whatever", 200},
		{"no header", "s3cr3t", "", 401},
		{"wrong token", "s3cr3t", "Bearer s3cr3", 401},
		{"longer token", "s3cr3t", "Bearer s3cr3tt", 401},
		{"wrong scheme", "s3cr3t", "Basic s3cr3t", 401},
		{"no scheme", "s3cr3t", "s3cr3t", 401},
		{"right token", "s3cr3t", "Bearer s3cr3t", 200},
		{"scheme is case-insensitive", "s3cr3t", "bearer s3cr3t", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			status, _ := scrape(t, m.Handler(tt.token), tt.header)
			if status != tt.want {
				t.Fatalf("status %d, want %d", status, tt.want)
			}
			_, fams := scrape(t, m.Handler(""), "")
			refused := 0.0
			if tt.want == 401 {
				refused = 1
			}
			checkAll(t, fams, []expectation{{"flashstor_security_metrics_scrapes_refused_total", nil, refused}})
		})
	}
}

func TestAuthorized(t *testing.T) {
	m := New()
	if !m.Authorized("", "") || !m.Authorized("Bearer x", "x") || m.Authorized("Bearer y", "x") || m.Authorized("", "x") {
		t.Fatal("Authorized disagrees with the bearer rules")
	}
}

// TestWriteText checks the writer for servers without net/http against the parser.
func TestWriteText(t *testing.T) {
	m := New()
	m.Op("HeadObject").Observe(Sample{Status: 200, Duration: time.Millisecond})
	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, fams, []expectation{{"flashstor_s3_requests_total", labels("operation", "HeadObject", "code", "200"), 1}})
	if TextContentType == "" {
		t.Fatal("no content type")
	}
}

// TestServersHaveOwnRegistries checks that two servers in one process do not share
// metrics (and that New does not register anything globally, which would panic).
func TestServersHaveOwnRegistries(t *testing.T) {
	a, b := New(), New()
	a.Op("PutObject").Observe(Sample{Status: 200})
	_, fams := scrape(t, b.Handler(""), "")
	if _, ok := fams.Value("flashstor_s3_requests_total", labels("operation", "PutObject")...); ok {
		t.Fatal("a request recorded on one server shows on another")
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	m := New()
	op := m.Op("GetObject")
	s := Sample{Status: 200, BytesOut: 10, Duration: time.Millisecond, Auth: time.Microsecond, Storage: time.Microsecond, Response: time.Microsecond}
	op.Observe(s) // creates the status child
	if n := testing.AllocsPerRun(1000, func() { op.Observe(s) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
	f := m.FUSEOp("Lookup")
	if n := testing.AllocsPerRun(1000, func() { f.Observe(time.Microsecond, false) }); n != 0 {
		t.Fatalf("FUSEOp.Observe allocates %v times", n)
	}
}

// BenchmarkObserve is what a request pays for its metrics, beside one atomic counter
// increment (the floor) in the same run.
func BenchmarkObserve(b *testing.B) {
	m := New()
	op := m.Op("GetObject")
	s := Sample{Status: 200, BytesOut: 10, Duration: time.Millisecond, Auth: time.Microsecond, Storage: time.Microsecond, Response: time.Microsecond}
	b.Run("Op.Observe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			op.Observe(s)
		}
	})
	b.Run("Counter.Inc", func(b *testing.B) {
		c := m.requests.WithLabelValues("GetObject", "200")
		b.ReportAllocs()
		for b.Loop() {
			c.Inc()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				op.Observe(s)
			}
		})
	})
}
