package s3frontend_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestVirtualHostStyle(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, port, _ := net.SplitHostPort(e.addr)
		dialer := &net.Dialer{}
		c := e.sdk(func(o *s3.Options) {
			o.UsePathStyle = false
			o.BaseEndpoint = aws.String("http://s3.flashstor.test:" + port)
			o.HTTPClient = &http.Client{Transport: &http.Transport{
				// Every name resolves to the test server.
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return dialer.DialContext(ctx, network, e.addr)
				},
			}}
		})
		mkbucket(t, c, "vhost")
		putString(t, c, "vhost", "dir/key with space", "virtual")
		b, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/key with space")})
		if string(b) != "virtual" {
			t.Fatalf("virtual-host GET: %q", b)
		}
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
		mustOK(t, "ListObjectsV2", err)
		if len(out.Contents) != 1 {
			t.Fatalf("virtual-host list: %d", len(out.Contents))
		}
		lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		mustOK(t, "ListBuckets", err)
		if len(lb.Buckets) != 1 {
			t.Fatalf("ListBuckets: %d", len(lb.Buckets))
		}
		// The same object path-style.
		if b, _ := getBytes(t, e.sdk(), &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/key with space")}); string(b) != "virtual" {
			t.Fatalf("path-style GET: %q", b)
		}
	}, func(o *envOptions) { o.domain = "s3.flashstor.test" })
}

// TestConcurrentClients runs many clients at once, each writing, reading back, listing and
// deleting its own objects, with both SDK and minio-go.
func TestConcurrentClients(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "conc")
		workers, rounds := 32, 6
		if raceEnabled {
			workers, rounds = 16, 3
		}
		var failures atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for r := 0; r < rounds && failures.Load() == 0; r++ {
					key := fmt.Sprintf("w%02d/r%d", w, r)
					data := make([]byte, rng.IntN(400<<10))
					for i := range data {
						data[i] = byte(rng.Uint32())
					}
					if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("conc"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
						t.Errorf("%s: put: %v", key, err)
						failures.Add(1)
						return
					}
					out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("conc"), Key: aws.String(key)})
					if err != nil {
						t.Errorf("%s: get: %v", key, err)
						failures.Add(1)
						return
					}
					got, err := io.ReadAll(out.Body)
					out.Body.Close()
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("%s: read back %d bytes (%v), want %d", key, len(got), err, len(data))
						failures.Add(1)
						return
					}
					if r%2 == 1 {
						if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("conc"), Key: aws.String(key)}); err != nil {
							t.Errorf("%s: delete: %v", key, err)
							failures.Add(1)
						}
					}
				}
			}()
		}
		wg.Wait()
		keys, _, _ := listAllV2(t, c, s3.ListObjectsV2Input{Bucket: aws.String("conc")})
		if want := workers * ((rounds + 1) / 2); failures.Load() == 0 && len(keys) != want {
			t.Errorf("%d objects left, want %d", len(keys), want)
		}
	})
}

// patternPeriod is the period of the test pattern: not a power of two, so that the
// pattern does not line up with any block or stripe size.
const patternPeriod = 1<<20 + 7

// pattern is one period of the bytes patternReader produces.
var pattern = func() []byte {
	b := make([]byte, patternPeriod)
	for i := range b {
		x := uint64(i)
		b[i] = byte(x ^ x>>8 ^ x>>19 ^ x*2654435761>>7)
	}
	return b
}()

// patternReader generates n deterministic bytes without holding them.
type patternReader struct {
	off, n int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	total := 0
	for total < len(b) {
		i := (p.off + int64(total)) % patternPeriod
		total += copy(b[total:], pattern[i:])
	}
	p.off += int64(total)
	return total, nil
}

// patternChecker compares what is written to it with the pattern.
type patternChecker struct {
	off int64
	bad bool
}

func (c *patternChecker) Write(b []byte) (int, error) {
	for done := 0; done < len(b); {
		i := (c.off + int64(done)) % patternPeriod
		n := min(len(b)-done, len(pattern)-int(i))
		if !bytes.Equal(b[done:done+n], pattern[i:int(i)+n]) {
			c.bad = true
		}
		done += n
	}
	c.off += int64(len(b))
	return len(b), nil
}

// heapWatcher samples the process heap until stopped and keeps the peak.
type heapWatcher struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func watchHeap() *heapWatcher {
	w := &heapWatcher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			w.peak = max(w.peak, ms.HeapInuse)
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *heapWatcher) Stop() uint64 {
	close(w.stop)
	<-w.done
	return w.peak
}

// TestLargeObjectStreaming PUTs and GETs a multi-GiB object through the server and checks
// that the process heap stays bounded: the object is never held in memory, neither by the
// server nor by this client, which generates and checks it on the fly.
func TestLargeObjectStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	size := int64(2 << 30)
	if raceEnabled {
		size = 192 << 20
	}
	const heapBound = 256 << 20 // far below the object
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := start(t, tr)
			mkbucket(t, e.sdk(), "large")
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse

			watch := watchHeap()
			req, err := http.NewRequest("PUT", e.url+"/large/blob", &patternReader{n: size})
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = size
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			req.Header.Set("Expect", "100-continue")
			signRequest(t, req, time.Now())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("PUT: %d", resp.StatusCode)
			}

			req = newRequest(t, "GET", e.url+"/large/blob", nil)
			signRequest(t, req, time.Now())
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.ContentLength != size {
				t.Fatalf("GET: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
			}
			check := &patternChecker{}
			n, err := io.Copy(check, resp.Body)
			resp.Body.Close()
			if err != nil || n != size {
				t.Fatalf("GET body: %d bytes, %v", n, err)
			}
			peak := watch.Stop()
			if check.bad {
				t.Fatal("GET returned other bytes than were PUT")
			}
			grown := int64(peak) - int64(base)
			t.Logf("%s: %s object, heap in use grew by at most %d MiB", tr, strconv.FormatInt(size>>20, 10)+" MiB", grown>>20)
			if grown > heapBound {
				t.Fatalf("heap grew by %d MiB while streaming a %d MiB object (bound %d MiB)", grown>>20, size>>20, heapBound>>20)
			}
		})
	}
}
