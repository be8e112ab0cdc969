package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/metrics/metricstest"
)

// s3Client returns an aws-sdk-go-v2 client of the test server's root user.
func s3Client(endpoint string, mods ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", ""),
	}, mods...)
}

// readAuditFile returns the records of an audit file, each line checked to be one JSON
// object, ordered by start time (records of different shards may be written in any order).
func readAuditFile(t *testing.T, path string) []audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// waitFor polls cond every 20ms for at most 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestServerAuditAndMetrics runs the server with an audit file and a metrics token: the
// records of a known sequence of requests arrive, /metrics shows them with the drives and
// the transport's counters, and SIGHUP reopens the audit file after it was rotated.
func TestServerAuditAndMetrics(t *testing.T) {
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	endpoint := startServer(t, "--audit-file", auditPath, "--metrics-auth", "let-me-scrape")
	client := s3Client(endpoint)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("audited")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audited"), Key: aws.String("one"), Body: strings.NewReader("first")}); err != nil {
		t.Fatal(err)
	}
	// The consumer writes batches on its own schedule: wait for both records.
	waitFor(t, "two audit records", func() bool { return len(readAuditFile(t, auditPath)) >= 2 })

	// Rotation: move the file away, SIGHUP, and the next records go to a new file.
	rotated := auditPath + ".1"
	if err := os.Rename(auditPath, rotated); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the audit file reopened", func() bool { _, err := os.Stat(auditPath); return err == nil })
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audited"), Key: aws.String("two"), Body: strings.NewReader("second")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the record after rotation", func() bool { return len(readAuditFile(t, auditPath)) >= 1 })
	old, cur := readAuditFile(t, rotated), readAuditFile(t, auditPath)
	if len(old) != 2 || old[0].Operation != "CreateBucket" || old[1].Operation != "PutObject" || old[1].Key != "one" {
		t.Errorf("records before rotation: %+v", old)
	}
	if len(cur) != 1 || cur[0].Operation != "PutObject" || cur[0].Key != "two" || cur[0].AccessKey != "testadmin" || cur[0].Status != 200 {
		t.Errorf("records after rotation: %+v", cur)
	}

	if st, _ := scrapeMetrics(t, endpoint, ""); st != 401 {
		t.Fatalf("scrape without the token: %d", st)
	}
	_, fams := scrapeMetrics(t, endpoint, "let-me-scrape")
	for _, x := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flashstor_s3_requests_total", []string{"operation", "PutObject", "code", "200"}, 2},
		{"flashstor_s3_requests_total", []string{"operation", "CreateBucket", "code", "200"}, 1},
		{"flashstor_drives_count", []string{"state", "online"}, 4},
		{"flashstor_drives_count", []string{"state", "offline"}, 0},
		{"flashstor_security_metrics_scrapes_refused_total", nil, 1},
		{"flashstor_audit_records_dropped_total", []string{"reason", "full"}, 0},
		// Queued before each response went out: three S3 requests and the refused scrape.
		{"flashstor_audit_records_accepted_total", nil, 4},
	} {
		if got, ok := fams.Value(x.name, x.labels...); !ok || got != x.want {
			t.Errorf("%s%v = %v (present %v), want %v", x.name, x.labels, got, ok, x.want)
		}
	}
	for _, name := range []string{"flashstor_http_connections_accepted_total", "flashstor_arena_blocks_in_use", "flashstor_drive_calls_total", "flashstor_s3_request_duration_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing from the scrape", name)
		}
	}
}

// scrapeMetrics reads the server's /metrics with a bearer token ("" for none).
func scrapeMetrics(t *testing.T, endpoint, token string) (int, metricstest.Families) {
	t.Helper()
	st, fams, err := metricstest.Scrape(endpoint+"/metrics", token)
	if err != nil {
		t.Fatal(err)
	}
	return st, fams
}

// scrapeOpen reads the server's /metrics, which has no token.
func scrapeOpen(t *testing.T, endpoint string) metricstest.Families {
	t.Helper()
	st, fams := scrapeMetrics(t, endpoint, "")
	if st != 200 {
		t.Fatalf("GET /metrics: %d", st)
	}
	return fams
}

// TestServerMetricsSeeMountAndBitrot: operations through the mount are counted by FUSE
// operation, and a shard corrupted on disk is counted when a GET meets it, then healed.
func TestServerMetricsSeeMountAndBitrot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	drives, mnt := t.TempDir(), t.TempDir()
	t.Cleanup(func() {
		if mounted(t, mnt) {
			t.Errorf("%s is still mounted after the server stopped", mnt)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	endpoint := startServerOn(t, drives, "--mount", mnt)
	if err := os.Mkdir(filepath.Join(mnt, "watched"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("bitrot is counted ", 20_000) // 360 KB: shards in part files
	if err := os.WriteFile(filepath.Join(mnt, "watched", "f"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "watched", "missing")); !os.IsNotExist(err) {
		t.Fatalf("stat of a missing file: %v", err)
	}
	fams := scrapeOpen(t, endpoint)
	for _, op := range []string{"Mkdir", "Create", "Write", "Flush"} {
		if n, _ := fams.Value("flashstor_fuse_operations_total", "operation", op, "result", "ok"); n < 1 {
			t.Errorf("FUSE %s ok: %v, want at least 1", op, n)
		}
	}
	if n, _ := fams.Value("flashstor_fuse_operations_total", "operation", "Lookup", "result", "error"); n < 1 {
		t.Errorf("FUSE Lookup errors: %v, want at least 1 (the missing file)", n)
	}

	// Corrupt the middle of one shard file, then read the object through S3.
	var parts []string // the files of d1 big enough to be the object's shard
	filepath.Walk(filepath.Join(drives, "d1", "watched"), func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && info.Size() > 64<<10 {
			parts = append(parts, path)
		}
		return nil
	})
	if len(parts) != 1 {
		t.Fatalf("the shard file of d1: %v", parts)
	}
	shard, err := os.OpenFile(parts[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shard.WriteAt([]byte("garbage!"), 4096); err != nil {
		t.Fatal(err)
	}
	shard.Close()
	out, err := s3Client(endpoint).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("watched"), Key: aws.String("f")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || string(got) != body {
		t.Fatalf("GET of the object with a corrupt shard: %d bytes, %v", len(got), err)
	}
	fams = scrapeOpen(t, endpoint)
	if n, _ := fams.Value("flashstor_storage_bitrot_detected_total"); n < 1 {
		t.Errorf("bitrot detected: %v, want at least 1", n)
	}
	waitFor(t, "the queued heal", func() bool {
		n, _ := scrapeOpen(t, endpoint).Value("flashstor_storage_heals_total", "result", "healed")
		return n >= 1
	})
}

// TestServerAuditWebhook: with --audit-webhook the records arrive as NDJSON POSTs carrying
// the bearer token of FLASHSTORE_AUDIT_WEBHOOK_TOKEN.
func TestServerAuditWebhook(t *testing.T) {
	var mu sync.Mutex
	var records []audit.Record
	var badAuth int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer hook-secret" || r.Method != http.MethodPost {
			badAuth++
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			var rec audit.Record
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("webhook line %q: %v", sc.Text(), err)
				continue
			}
			records = append(records, rec)
		}
	}))
	defer hook.Close()
	t.Setenv("FLASHSTORE_AUDIT_WEBHOOK_TOKEN", "hook-secret")
	endpoint := startServer(t, "--audit-webhook", hook.URL+"/audit")
	client := s3Client(endpoint)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("hooked")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nothere")}); err == nil {
		t.Fatal("HeadBucket of a missing bucket succeeded")
	}
	waitFor(t, "two records at the webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(records) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if badAuth != 0 {
		t.Errorf("%d webhook requests without the token", badAuth)
	}
	// Records of different shards may arrive in any order: order them by start time.
	sort.Slice(records, func(i, j int) bool { return records[i].Time.Before(records[j].Time) })
	if len(records) != 2 || records[0].Operation != "CreateBucket" || records[0].Status != 200 ||
		records[1].Operation != "HeadBucket" || records[1].Status != 404 || records[1].Bucket != "nothere" {
		t.Errorf("records at the webhook: %+v", records)
	}
}

// TestServerMetricsDriveLabels: /metrics names drives by set and index, never by path,
// unless --metrics-drive-paths asks for paths.
func TestServerMetricsDriveLabels(t *testing.T) {
	for _, withPaths := range []bool{false, true} {
		dir := t.TempDir()
		var extra []string
		if withPaths {
			extra = append(extra, "--metrics-drive-paths")
		}
		srv := startServerLogged(t, dir, extra...)
		fams := scrapeOpen(t, srv.endpoint)
		text := scrapeText(t, srv.endpoint+"/metrics", "")
		srv.stop()
		for i := range 4 {
			labels := []string{"set", "0", "index", fmt.Sprint(i)}
			if withPaths {
				labels = append(labels, "path", filepath.Join(dir, fmt.Sprintf("d%d", i+1)))
			}
			if v, ok := fams.Value("flashstor_drive_online", labels...); !ok || v != 1 {
				t.Errorf("paths %v: flashstor_drive_online%v = %v (present %v), want 1", withPaths, labels, v, ok)
			}
		}
		if got := strings.Contains(text, dir); got != withPaths {
			t.Errorf("paths %v: the scrape names the drives' directory: %v", withPaths, got)
		}
	}
}

// TestServerMetricsWriteBehind: in fsync mode the small files closed through the mount are
// counted as taken by the write-behind, and as committed once a directory's fsync drained it.
func TestServerMetricsWriteBehind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	drives, mnt := t.TempDir(), t.TempDir()
	endpoint := startServerOn(t, drives, "--mount", mnt, "--mount-durability", "fsync")
	dir := filepath.Join(mnt, "behind")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte("small"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil { // every pending put committed, then the drives synced
		t.Fatal(err)
	}
	fams := scrapeOpen(t, endpoint)
	for _, c := range []struct {
		result string
		want   float64
	}{{"taken", 3}, {"committed", 3}, {"failed", 0}} {
		if n, ok := fams.Value("flashstor_writebehind_puts_total", "result", c.result); !ok || n != c.want {
			t.Errorf("flashstor_writebehind_puts_total{result=%q} = %v, %v; want %v", c.result, n, ok, c.want)
		}
	}
	if n, ok := fams.Value("flashstor_writebehind_pending"); !ok || n != 0 {
		t.Errorf("flashstor_writebehind_pending = %v, %v after a directory's fsync; want 0", n, ok)
	}
}
