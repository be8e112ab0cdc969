package s3frontend_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/internal/metrics/metricstest"
	"github.com/flashstor/flashstor/s3frontend"
)

// idRecorder is an HTTP transport that remembers the x-amz-request-id of every response.
type idRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	ids  []string
}

func (r *idRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.ids = append(r.ids, resp.Header.Get("x-amz-request-id"))
		r.mu.Unlock()
	}
	return resp, err
}

// TestObservation runs a known sequence of requests against a server with metrics and an
// audit file, then checks that every response has exactly one audit record with the right
// fields and that the counters moved as they should.
func TestObservation(t *testing.T) {
	const token = "scrape-token-for-tests"
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			m := metrics.New()
			auditPath := filepath.Join(t.TempDir(), "audit.log")
			sink, err := audit.OpenFile(auditPath)
			if err != nil {
				t.Fatal(err)
			}
			alog, err := audit.New(audit.Config{Sink: sink})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { alog.Close() })
			e := start(t, tr, func(o *envOptions) {
				o.handler = func(c *s3frontend.Config) { c.Metrics, c.MetricsToken, c.Audit = m, token, alog }
			})
			rec := &idRecorder{next: &http.Transport{}}
			client := func(key, secret string) *s3.Client {
				return e.sdk(func(o *s3.Options) {
					o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
					o.HTTPClient = &http.Client{Transport: rec}
				})
			}
			c := client(testAccessKey, testSecretKey)
			ctx := context.Background()
			data := bytes.Repeat([]byte("observed "), 1000)

			mustOK(t, "CreateBucket", func() error {
				_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("obs")})
				return err
			}())
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("obs"), Key: aws.String("dir/k"), Body: bytes.NewReader(data)})
			mustOK(t, "PutObject", err)
			got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("obs"), Key: aws.String("dir/k")})
			if !bytes.Equal(got, data) {
				t.Fatalf("GetObject: %d bytes, want %d", len(got), len(data))
			}
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("obs"), Key: aws.String("missing")})
			wantCode(t, "GetObject missing", err, "NoSuchKey")
			_, err = client(testAccessKey, "not-the-secret").HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("obs")})
			wantStatus(t, err, 403)
			_, err = client("NOSUCHACCESSKEY", "whatever").ListBuckets(ctx, &s3.ListBucketsInput{})
			wantCode(t, "unknown key", err, "InvalidAccessKeyId")
			_, err = e.sdk(func(o *s3.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "a-session-token")
				o.HTTPClient = &http.Client{Transport: rec}
			}).ListBuckets(ctx, &s3.ListBucketsInput{})
			wantCode(t, "session token", err, "InvalidToken")

			// Anonymous: denied.
			anon := e.do(newRequest(t, http.MethodGet, e.url+"/obs/dir/k", nil), false)
			if anon.status != 403 || anon.err.Code != "AccessDenied" {
				t.Errorf("anonymous GET: %d %s, want 403 AccessDenied", anon.status, anon.err.Code)
			}
			// A signed request for /metrics is S3's, for bucket "metrics".
			signedMetrics := e.do(newRequest(t, http.MethodGet, e.url+"/metrics", nil), true)
			if signedMetrics.status != 404 || signedMetrics.err.Code != "NoSuchBucket" {
				t.Errorf("signed GET /metrics: %d %s, want 404 NoSuchBucket (the bucket named metrics)", signedMetrics.status, signedMetrics.err.Code)
			}
			ids := append(append([]string(nil), rec.ids...), anon.header.Get("x-amz-request-id"), signedMetrics.header.Get("x-amz-request-id"))

			// Scrapes: refused without the token, then read with it.
			if st, _ := scrapeMetrics(t, e, ""); st != 401 {
				t.Errorf("scrape without the token: %d, want 401", st)
			}
			if st, _ := scrapeMetrics(t, e, "wrong"); st != 401 {
				t.Errorf("scrape with a wrong token: %d, want 401", st)
			}
			_, fams := scrapeMetrics(t, e, token)
			for _, x := range []struct {
				name   string
				labels []string
				want   float64
			}{
				{"flashstor_s3_requests_total", []string{"operation", "CreateBucket", "code", "200"}, 1},
				{"flashstor_s3_requests_total", []string{"operation", "PutObject", "code", "200"}, 1},
				{"flashstor_s3_requests_total", []string{"operation", "GetObject", "code", "200"}, 1},
				{"flashstor_s3_requests_total", []string{"operation", "GetObject", "code", "404"}, 1},
				{"flashstor_s3_requests_total", []string{"operation", "GetObject", "code", "403"}, 1},
				{"flashstor_s3_requests_total", []string{"operation", "HeadBucket", "code", "403"}, 1},
				{"flashstor_s3_requests_total", []string{"operation", "ListObjects", "code", "404"}, 1},
				{"flashstor_security_signature_failures_total", []string{"reason", "mismatch"}, 1},
				{"flashstor_security_signature_failures_total", []string{"reason", "unknown_key"}, 1},
				{"flashstor_security_access_denied_total", []string{"operation", "GetObject"}, 1},
				{"flashstor_security_token_failures_total", []string{"reason", "invalid"}, 1},
				{"flashstor_security_metrics_scrapes_refused_total", nil, 2},
				{"flashstor_s3_request_phase_duration_seconds", []string{"phase", "auth"}, float64(len(ids))},
			} {
				got, ok := fams.Value(x.name, x.labels...)
				if !ok || got != x.want {
					t.Errorf("%s%v = %v (present %v), want %v", x.name, x.labels, got, ok, x.want)
				}
			}
			if got, _ := fams.Value("flashstor_s3_received_bytes_total", "operation", "PutObject"); got < float64(len(data)) {
				t.Errorf("received bytes of PutObject %v, want at least %d", got, len(data))
			}

			// The audit log: one record per response, matched by request id.
			if err := alog.Close(); err != nil {
				t.Fatal(err)
			}
			records := readAudit(t, auditPath)
			for _, id := range ids {
				if id == "" {
					t.Fatal("a response without x-amz-request-id")
				}
				if n := len(records[id]); n != 1 {
					t.Errorf("request %s: %d audit records, want 1", id, n)
				}
			}
			scrapes := 0
			for id, rs := range records {
				if rs[0].Operation == "Metrics" {
					scrapes++
					continue
				}
				if !slices.Contains(ids, id) {
					t.Errorf("audit record %s for no response: %+v", id, rs[0])
				}
			}
			if scrapes != 3 {
				t.Errorf("%d audit records of scrapes, want 3", scrapes)
			}
			var getSent int64
			for _, r := range flatten(records) {
				if r.Operation == "GetObject" {
					getSent += r.BytesOut
				}
				if parts := r.Auth + r.LockWait + r.Storage + r.Response; parts > r.Duration {
					t.Errorf("%s %s: parts %v exceed the duration %v", r.RequestID, r.Operation, parts, r.Duration)
				}
				if !r.RemoteAddr.Addr().IsLoopback() {
					t.Errorf("%s: remote address %v", r.RequestID, r.RemoteAddr)
				}
				switch {
				case r.Operation == "PutObject":
					want := audit.Record{AccessKey: testAccessKey, Bucket: "obs", Key: "dir/k", Status: 200}
					if r.AccessKey != want.AccessKey || r.Bucket != want.Bucket || r.Key != want.Key || r.Status != 200 || r.ErrorCode != "" || r.BytesIn < int64(len(data)) {
						t.Errorf("PutObject record %+v", r)
					}
					// The commit held the key's write lock; for a part of the request only.
					if r.LockHeld <= 0 || r.LockHeld > r.Duration {
						t.Errorf("PutObject record: lock held %v of %v", r.LockHeld, r.Duration)
					}
				case r.Operation == "GetObject" && r.Status == 200:
					if r.BytesOut != int64(len(data)) || r.Key != "dir/k" {
						t.Errorf("GetObject record %+v", r)
					}
					if r.LockHeld != 0 {
						t.Errorf("GetObject record: a read held write locks for %v", r.LockHeld)
					}
				case r.Operation == "GetObject" && r.Status == 404:
					if r.ErrorCode != "NoSuchKey" || r.Key != "missing" || r.AccessKey != testAccessKey {
						t.Errorf("GetObject 404 record %+v", r)
					}
				case r.Operation == "GetObject" && r.Status == 403:
					if r.ErrorCode != "AccessDenied" || r.AccessKey != "" {
						t.Errorf("anonymous record %+v", r)
					}
				case r.Operation == "ListBuckets" && r.ErrorCode == "InvalidToken":
					if r.Status != 400 {
						t.Errorf("session token record %+v", r)
					}
				}
			}
			// Both observers saw the same bytes: the data and two error documents.
			if got, _ := fams.Value("flashstor_s3_sent_bytes_total", "operation", "GetObject"); got != float64(getSent) || getSent <= int64(len(data)) {
				t.Errorf("sent bytes of GetObject: metrics %v, audit %d, data %d", got, getSent, len(data))
			}
		})
	}
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("error %v, want HTTP %d", err, status)
	}
}

// scrapeMetrics reads e's /metrics with a bearer token ("" for none).
func scrapeMetrics(t *testing.T, e *env, token string) (int, metricstest.Families) {
	t.Helper()
	st, fams, err := metricstest.Scrape(e.url+"/metrics", token)
	if err != nil {
		t.Fatal(err)
	}
	return st, fams
}

// readAudit reads an audit file into records by request id.
func readAudit(t *testing.T, path string) map[string][]audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]audit.Record{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out[r.RequestID] = append(out[r.RequestID], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func flatten(m map[string][]audit.Record) []audit.Record {
	var out []audit.Record
	for _, rs := range m {
		out = append(out, rs...)
	}
	return out
}

// TestAuditUnderLoad: with many clients at once, every response has exactly one intact
// record in the audit file.
func TestAuditUnderLoad(t *testing.T) {
	const clients, perClient = 16, 40
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	sink, err := audit.OpenFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	// Enough shards and slots that nothing is dropped: this test is about delivery.
	alog, err := audit.New(audit.Config{Sink: sink, Shards: 64, RingSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	e := start(t, s3frontend.TransportEpoll, func(o *envOptions) {
		o.handler = func(c *s3frontend.Config) { c.Audit = alog }
	})
	rec := &idRecorder{next: &http.Transport{MaxIdleConnsPerHost: clients}}
	c := e.sdk(func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: rec} })
	ctx := context.Background()
	mkbucket(t, c, "load")
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			for j := range perClient {
				key := fmt.Sprintf("c%02d/k%03d", i, j)
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("load"), Key: aws.String(key), Body: strings.NewReader(key)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := alog.Close(); err != nil {
		t.Fatal(err)
	}
	if st := alog.Stats(); st.Dropped() != 0 || st.Failed != 0 {
		t.Fatalf("audit stats %+v: records were lost", st)
	}
	records := readAudit(t, auditPath)
	if len(rec.ids) != 1+clients*perClient {
		t.Fatalf("%d responses, want %d", len(rec.ids), 1+clients*perClient)
	}
	for _, id := range rec.ids {
		rs := records[id]
		if len(rs) != 1 {
			t.Errorf("request %s: %d records", id, len(rs))
			continue
		}
		if r := rs[0]; r.Operation == "PutObject" && (r.Status != 200 || r.Bucket != "load" || !strings.HasPrefix(r.Key, "c") || r.BytesIn < int64(len(r.Key))) {
			t.Errorf("record %+v", r)
		}
	}
	if len(records) != len(rec.ids) {
		t.Errorf("%d records for %d responses", len(records), len(rec.ids))
	}
}
