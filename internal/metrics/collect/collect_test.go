package collect

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/health"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// gather scrapes m through its handler on a loopback server and parses the text.
func gather(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler(""))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// get returns the value of the series of name with the given label pairs, failing the
// test when it is missing.
func get(t *testing.T, fams map[string]*dto.MetricFamily, name string, kv ...string) float64 {
	t.Helper()
	mf := fams[name]
	if mf == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if have[kv[i]] != kv[i+1] {
				continue next
			}
		}
		if m.Counter != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no series %s%v", name, kv)
	return 0
}

// TestHTTPServer runs the real epoll server on loopback, sends one good request and one
// malformed one, and checks the counters.
func TestHTTPServer(t *testing.T) {
	srv, err := httpserver.New(httpserver.Config{Loops: 1, Handler: httpserver.HandlerFunc(func(w httpserver.ResponseWriter, r *httpserver.Request) {
		w.Write([]byte("ok"))
	})})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	m := metrics.New()
	if err := m.Register(HTTPServer(srv)); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(Arena(srv.Pool())); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()

	c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET /x HTTP/1.1\r\nHost: a\r\nX-Thing : v\r\n\r\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || len(line) < 12 || line[9:12] != "400" {
		t.Fatalf("malformed request answered %q, %v", line, err)
	}

	fams := gather(t, m)
	if got := get(t, fams, "flashstor_http_requests_total"); got != 1 {
		t.Errorf("requests %v, want 1", got)
	}
	if got := get(t, fams, "flashstor_http_connections_accepted_total"); got != 2 {
		t.Errorf("accepted %v, want 2", got)
	}
	if got := get(t, fams, "flashstor_security_malformed_requests_total", "reason", "space-before-colon"); got != 1 {
		t.Errorf("malformed{space-before-colon} %v, want 1", got)
	}
	if get(t, fams, "flashstor_http_received_bytes_total") == 0 || get(t, fams, "flashstor_arena_blocks_allocated_total") == 0 {
		t.Error("bytes or arena blocks not counted")
	}
}

func TestArena(t *testing.T) {
	p := arena.NewPool(4)
	m := metrics.New()
	if err := m.Register(Arena(p)); err != nil {
		t.Fatal(err)
	}
	b1, b2 := p.Get(), p.Get()
	fams := gather(t, m)
	if in, alloc := get(t, fams, "flashstor_arena_blocks_in_use"), get(t, fams, "flashstor_arena_blocks_allocated_total"); in != 2 || alloc != 2 {
		t.Fatalf("in use %v, allocated %v; want 2, 2", in, alloc)
	}
	p.Put(b1)
	p.Put(b2)
	fams = gather(t, m)
	if in, pooled := get(t, fams, "flashstor_arena_blocks_in_use"), get(t, fams, "flashstor_arena_blocks_pooled"); in != 0 || pooled != 2 {
		t.Fatalf("in use %v, pooled %v; want 0, 2", in, pooled)
	}
}

// TestDrives takes a real local drive offline through fault injection under health
// tracking and checks the drive series, labelled by position (set, index), and by path too
// only when asked.
func TestDrives(t *testing.T) {
	open := func() (*health.Drive, *faulty.Drive) {
		d, err := local.Open(t.TempDir(), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f := faulty.Wrap(d)
		h := health.Wrap(f, health.Options{MaxFaults: 1, ProbeInterval: time.Hour})
		t.Cleanup(h.Close)
		return h, f
	}
	good, _ := open()
	bad, badFaults := open()
	var mu sync.Mutex
	drives := []PlacedDrive{{good, 0, 0}, {bad, 1, 3}}
	list := func() []PlacedDrive { mu.Lock(); defer mu.Unlock(); return drives }
	byPos, byPath := metrics.New(), metrics.New()
	if err := byPos.Register(Drives(list, false)); err != nil {
		t.Fatal(err)
	}
	if err := byPath.Register(Drives(list, true)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := good.DiskInfo(ctx); err != nil {
			t.Fatal(err)
		}
	}
	badFaults.Fail("DiskInfo", storage.ErrFaulty)
	if _, err := bad.DiskInfo(ctx); !errors.Is(err, storage.ErrFaulty) {
		t.Fatalf("faulty DiskInfo: %v", err)
	}
	fams := gather(t, byPos)
	checks := []struct {
		name       string
		set, index string
		want       float64
	}{
		{"flashstor_drive_online", "0", "0", 1},
		{"flashstor_drive_online", "1", "3", 0},
		{"flashstor_drive_calls_total", "0", "0", 3},
		{"flashstor_drive_faults_total", "1", "3", 1},
		{"flashstor_drive_offline_transitions_total", "1", "3", 1},
	}
	for _, c := range checks {
		if got := get(t, fams, c.name, "set", c.set, "index", c.index); got != c.want {
			t.Errorf("%s{set=%s,index=%s} = %v, want %v", c.name, c.set, c.index, got, c.want)
		}
	}
	for _, mf := range fams {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); v == good.String() || v == bad.String() {
					t.Errorf("%s: a label names the drive's path %s without the option", mf.GetName(), v)
				}
			}
		}
	}
	if up, down := get(t, fams, "flashstor_drives_count", "state", "online"), get(t, fams, "flashstor_drives_count", "state", "offline"); up != 1 || down != 1 {
		t.Errorf("drives online %v offline %v, want 1 and 1", up, down)
	}
	if get(t, fams, "flashstor_drive_busy_seconds_total", "set", "0", "index", "0") <= 0 {
		t.Error("busy time not counted")
	}
	withPaths := gather(t, byPath)
	if got := get(t, withPaths, "flashstor_drive_faults_total", "set", "1", "index", "3", "path", bad.String()); got != 1 {
		t.Errorf("faults of the bad drive by path: %v, want 1", got)
	}
}

// blockingSink holds every batch until release is closed.
type blockingSink struct{ release chan struct{} }

func (s blockingSink) WriteBatch([]byte) error { <-s.release; return nil }
func (s blockingSink) Close() error            { return nil }

func TestAudit(t *testing.T) {
	sink := blockingSink{release: make(chan struct{})}
	l, err := audit.New(audit.Config{Sink: sink, RingSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	if err := m.Register(Audit(l)); err != nil {
		t.Fatal(err)
	}
	p := l.Producer()
	for i := 0; i < 50; i++ {
		p.Emit(&audit.Record{RequestID: "r"})
	}
	st := l.Stats()
	fams := gather(t, m)
	if got := get(t, fams, "flashstor_audit_records_dropped_total", "reason", "full"); got != float64(st.DroppedFull) || got == 0 {
		t.Errorf("dropped{full} %v, want %d (> 0)", got, st.DroppedFull)
	}
	if got := get(t, fams, "flashstor_audit_records_accepted_total"); got != float64(st.Accepted) {
		t.Errorf("accepted %v, want %d", got, st.Accepted)
	}
	close(sink.release)
	l.Close()
	fams = gather(t, m)
	if got := get(t, fams, "flashstor_audit_records_written_total"); got != float64(st.Accepted) {
		t.Errorf("written after Close %v, want %d", got, st.Accepted)
	}
}

// leftOutDrive is a drive left out of the start, as the deployment's slot reports it.
type leftOutDrive struct {
	*health.Drive
	reason string
}

func (d leftOutDrive) Online() bool    { return false }
func (d leftOutDrive) LeftOut() string { return d.reason }

// TestDrivesLeftOut: a left-out drive is named with its reason and counted apart (and as
// offline); a drive that serves has no left-out series.
func TestDrivesLeftOut(t *testing.T) {
	open := func() *health.Drive {
		d, err := local.Open(t.TempDir(), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h := health.Wrap(d, health.Options{})
		t.Cleanup(h.Close)
		return h
	}
	good, out := open(), leftOutDrive{open(), "corrupt_record"}
	m := metrics.New()
	placed := []PlacedDrive{{Drive: good, Set: 0, Index: 0}, {Drive: out, Set: 0, Index: 1}}
	if err := m.Register(Drives(func() []PlacedDrive { return placed }, false)); err != nil {
		t.Fatal(err)
	}
	fams := gather(t, m)
	if got := get(t, fams, "flashstor_drive_left_out", "set", "0", "index", "1", "reason", "corrupt_record"); got != 1 {
		t.Errorf("left_out for the left-out drive = %v", got)
	}
	if n := len(fams["flashstor_drive_left_out"].GetMetric()); n != 1 {
		t.Errorf("%d left_out series, want 1", n)
	}
	if left, down := get(t, fams, "flashstor_drives_count", "state", "left_out"), get(t, fams, "flashstor_drives_count", "state", "offline"); left != 1 || down != 1 {
		t.Errorf("drives left out %v offline %v, want 1 and 1", left, down)
	}
}

func TestSets(t *testing.T) {
	m := metrics.New()
	sets := []Set{
		{Index: 0, Drives: 4, Usable: 4, ReadQuorum: 2, WriteQuorum: 3},
		{Index: 1, Drives: 4, Usable: 2, ReadQuorum: 2, WriteQuorum: 3},
		{Index: 2, Drives: 4, Usable: 1, ReadQuorum: 2, WriteQuorum: 3},
	}
	if err := m.Register(Sets(func() []Set { return sets })); err != nil {
		t.Fatal(err)
	}
	fams := gather(t, m)
	for _, c := range []struct {
		name                string
		want0, want1, want2 float64
	}{
		{"flashstor_erasure_set_drives_usable", 4, 2, 1},
		{"flashstor_erasure_set_degraded", 0, 1, 1},
		{"flashstor_erasure_set_read_quorum_ok", 1, 1, 0},
		{"flashstor_erasure_set_write_quorum_ok", 1, 0, 0},
	} {
		for set, want := range []float64{c.want0, c.want1, c.want2} {
			if got := get(t, fams, c.name, "set", strconv.Itoa(set)); got != want {
				t.Errorf("%s{set=%d} = %v, want %v", c.name, set, got, want)
			}
		}
	}
}
