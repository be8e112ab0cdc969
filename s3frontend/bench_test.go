package s3frontend_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/s3frontend"
)

// rawClient sends one prepared request over and over on a keep-alive connection and reads
// each response, allocating nothing per request, so that the process's allocation count
// is the server's.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	buf  []byte
}

func newRawClient(tb testing.TB, addr string, req []byte) *rawClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &rawClient{conn: conn, br: bufio.NewReaderSize(conn, 64<<10), req: req, buf: make([]byte, 64<<10)}
}

// do sends the request and reads a response with a Content-Length; it returns the status.
func (c *rawClient) do() (int, error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, err
	}
	status, clen := 0, int64(-1)
	for first := true; ; first = false {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if first {
			status, _ = strconv.Atoi(string(line[9:12]))
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			clen, _ = strconv.ParseInt(string(bytes.TrimSpace(line[15:])), 10, 64)
		}
	}
	if clen < 0 {
		return status, io.ErrUnexpectedEOF
	}
	for clen > 0 {
		n, err := c.br.Read(c.buf[:min(int64(len(c.buf)), clen)])
		clen -= int64(n)
		if err != nil && clen > 0 {
			return status, err
		}
	}
	return status, nil
}

// signedGET returns the raw bytes of a header-signed GET of bucket/key, valid for the
// 15 minutes of allowed clock skew.
func signedGET(tb testing.TB, e *env, bucket, key string) []byte {
	req, err := http.NewRequest("GET", e.url+"/"+bucket+"/"+key, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	signRequest(tb, req, time.Now())
	b, err := httputil.DumpRequestOut(req, false)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkGet4KiB measures a signed 4 KiB GET end to end on each transport; allocs/op
// counts every allocation of the process (server, object layer; the raw client makes
// none), reported as server-allocs/op.
//
// The "observed" run adds what a production server has on: metrics and an audit log to a
// file, to show what observing every request costs.
func BenchmarkGet4KiB(b *testing.B) {
	runs := []struct {
		name, transport string
		observed        bool
	}{
		{"epoll", s3frontend.TransportEpoll, false},
		{"nethttp", s3frontend.TransportNetHTTP, false},
		{"epoll-observed", s3frontend.TransportEpoll, true},
	}
	for _, run := range runs {
		b.Run(run.name, func(b *testing.B) {
			var mods []func(*envOptions)
			if run.observed {
				mods = append(mods, observed(b))
			}
			e := start(b, run.transport, mods...)
			c := e.sdk()
			if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("4k"),
				Body: bytes.NewReader(make([]byte, 4096))}); err != nil {
				b.Fatal(err)
			}
			runRaw(b, newRawClient(b, e.addr, signedGET(b, e, "bench", "4k")))
		})
	}
	// The limit: the object layer alone reading the same object (stored through the S3
	// API, so with the same metadata) into io.Discard.
	b.Run("layer-direct", func(b *testing.B) {
		e := start(b, "epoll")
		ctx := context.Background()
		c := e.sdk()
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("4k"),
			Body: bytes.NewReader(make([]byte, 4096))}); err != nil {
			b.Fatal(err)
		}
		get := func() {
			h, err := e.layer.OpenObject(ctx, "bench", "4k")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.WriteRange(ctx, io.Discard, 0, 4096); err != nil {
				b.Fatal(err)
			}
			h.Close()
		}
		for range 100 {
			get()
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			get()
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "server-allocs/op")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// runRaw warms the pools with 100 requests of rc, then times b.N of them and reports
// the process's allocations per request and the request rate.
func runRaw(b *testing.B, rc *rawClient) {
	for range 100 {
		if st, err := rc.do(); err != nil || st != 200 {
			b.Fatal(st, err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if st, err := rc.do(); err != nil || st != 200 {
			b.Fatal(st, err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "server-allocs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// observed configures a server with metrics and an audit log written to a file.
func observed(tb testing.TB) func(*envOptions) {
	sink, err := audit.OpenFile(filepath.Join(tb.TempDir(), "audit.log"))
	if err != nil {
		tb.Fatal(err)
	}
	alog, err := audit.New(audit.Config{Sink: sink})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { alog.Close() })
	m := metrics.New()
	return func(o *envOptions) {
		o.handler = func(c *s3frontend.Config) { c.Metrics, c.Audit = m, alog }
	}
}

// BenchmarkGet64MiB measures a signed 64 MiB GET end to end on each transport, read by a
// raw client into a 64 KiB buffer.
func BenchmarkGet64MiB(b *testing.B) {
	const size = 64 << 20
	for _, tr := range transports {
		b.Run(tr, func(b *testing.B) {
			e := start(b, tr)
			c := e.sdk()
			if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("64m"),
				Body: bytes.NewReader(make([]byte, size))}); err != nil {
				b.Fatal(err)
			}
			rc := newRawClient(b, e.addr, signedGET(b, e, "bench", "64m"))
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if st, err := rc.do(); err != nil || st != 200 {
					b.Fatal(st, err)
				}
			}
		})
	}
}
