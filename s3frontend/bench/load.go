package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// opFunc performs one operation for worker w on an object of size bytes.
type opFunc func(ctx context.Context, w int, size int64) error

// runCell runs op with conc workers for cfg.Duration (each worker completes at least one
// operation) and returns the cell's figures. sample, if set, is called every 50 ms and
// its peak is kept as PeakRSS.
func runCell(ctx context.Context, cfg Config, target, opName string, size int64, conc int, op opFunc, sample func() int64) Cell {
	cell := Cell{Target: target, Op: opName, Size: size, Concurrency: conc}
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	if sample != nil {
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				if v := sample(); v > peak.Load() {
					peak.Store(v)
				}
				select {
				case <-stopSampling:
					return
				case <-t.C:
				}
			}
		}()
	}
	lat := make([][]time.Duration, conc)
	var errs atomic.Int64
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n == 0 || time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				t0 := time.Now()
				if err := op(ctx, w, size); err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintf(cfg.Log, "bench: %s %s %d c%d: %v\n", target, opName, size, conc, err)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	cell.Elapsed = time.Since(start)
	close(stopSampling)
	sampler.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	cell.Ops, cell.Errors, cell.PeakRSS = len(all), int(errs.Load()), peak.Load()
	if len(all) > 0 {
		cell.P50 = all[len(all)/2]
		cell.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	fmt.Fprintf(cfg.Log, "bench: %-8s %s %9d c%-2d %8.1f MiB/s %8.1f ops/s p50 %v p99 %v\n",
		target, opName, size, conc, cell.MiBps(), cell.OpsPerSec(), cell.P50, cell.P99)
	return cell
}

// key is the object worker w writes and reads at a size.
func key(size int64, w int) string { return fmt.Sprintf("obj-%d-%d", size, w) }

// sdkClient returns the load generator's aws-sdk-go-v2 client for a server: the SDK's
// default integrity checksums (a CRC32 it computes and the server verifies), with
// UNSIGNED-PAYLOAD as the SDKs send over TLS, so that neither side hashes the payload with
// SHA-256, which only plain-HTTP signing requires.
func sdkClient(addr string, conc int) *s3.Client {
	return s3.New(s3.Options{
		Region:                     benchRegion,
		BaseEndpoint:               aws.String("http://" + addr),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		HTTPClient:                 &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxIdleConns: conc}},
	}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
}

// runServer measures one transport: a server process on a fresh deployment, every cell,
// and the allocations of a 4 KiB GET.
func runServer(ctx context.Context, cfg Config, transport string, payload []byte) ([]Cell, *Allocs, error) {
	ch, err := startChild(ctx, childConfig{Transport: transport, Drives: drivesFor(cfg, transport),
		AccessKey: benchAccessKey, SecretKey: benchSecretKey, Region: benchRegion})
	if err != nil {
		return nil, nil, err
	}
	defer ch.stop()
	pid := ch.cmd.Process.Pid
	sample := func() int64 { rss, _ := readRSS(pid); return rss }
	setup := sdkClient(ch.addr, 1)
	if _, err := setup.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(benchBucket)}); err != nil {
		return nil, nil, err
	}
	var cells []Cell
	for _, size := range cfg.Sizes {
		for _, conc := range cfg.Concurrency {
			c := sdkClient(ch.addr, conc)
			put := func(ctx context.Context, w int, size int64) error {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key(size, w)),
					Body: bytes.NewReader(payload[:size]), ContentLength: aws.Int64(size)})
				return err
			}
			get := func(ctx context.Context, w int, size int64) error {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key(size, w))})
				if err != nil {
					return err
				}
				n, err := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if err == nil && n != size {
					err = fmt.Errorf("GET returned %d bytes of %d", n, size)
				}
				return err
			}
			cells = append(cells, runCell(ctx, cfg, transport, "PUT", size, conc, put, sample))
			cells = append(cells, runCell(ctx, cfg, transport, "GET", size, conc, get, sample))
			if ctx.Err() != nil {
				return cells, nil, ctx.Err()
			}
		}
	}
	raw, err := rawCells(ctx, cfg, ch, sample)
	cells = append(cells, raw...)
	if err != nil {
		return cells, nil, err
	}
	allocs, err := measureAllocs(ctx, cfg, ch)
	return cells, allocs, err
}

// rawCells measures signed 4 KiB GETs from minimal keep-alive clients, one connection per
// worker, at every concurrency.
func rawCells(ctx context.Context, cfg Config, ch *child, sample func() int64) ([]Cell, error) {
	c := sdkClient(ch.addr, 1)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String("raw-4k"),
		Body: bytes.NewReader(make([]byte, 4096))}); err != nil {
		return nil, err
	}
	req, err := signedRequest("GET", ch.addr, "/"+benchBucket+"/raw-4k")
	if err != nil {
		return nil, err
	}
	var cells []Cell
	for _, conc := range cfg.Concurrency {
		conns := make([]*rawConn, conc)
		for i := range conns {
			if conns[i], err = dialRaw(ch.addr, req); err != nil {
				return cells, err
			}
		}
		get := func(ctx context.Context, w int, size int64) error { return conns[w].roundTrip() }
		cells = append(cells, runCell(ctx, cfg, ch.transport(), "GET-raw", 4096, conc, get, sample))
		for _, rc := range conns {
			rc.conn.Close()
		}
	}
	return cells, nil
}

// measureAllocs counts the server's heap allocations per signed 4 KiB GET, sent by a raw
// client that reuses one prepared request.
func measureAllocs(ctx context.Context, cfg Config, ch *child) (*Allocs, error) {
	c := sdkClient(ch.addr, 1)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String("alloc-4k"),
		Body: bytes.NewReader(make([]byte, 4096))}); err != nil {
		return nil, err
	}
	req, err := signedRequest("GET", ch.addr, "/"+benchBucket+"/alloc-4k")
	if err != nil {
		return nil, err
	}
	rc, err := dialRaw(ch.addr, req)
	if err != nil {
		return nil, err
	}
	defer rc.conn.Close()
	for range 200 { // warm the pools
		if err := rc.roundTrip(); err != nil {
			return nil, err
		}
	}
	before, err := ch.stats(false)
	if err != nil {
		return nil, err
	}
	for range cfg.AllocGETs {
		if err := rc.roundTrip(); err != nil {
			return nil, err
		}
	}
	after, err := ch.stats(false)
	if err != nil {
		return nil, err
	}
	// The "mallocs" command itself allocates a little (JSON, /proc read): measured by an
	// empty round of it and subtracted.
	again, err := ch.stats(false)
	if err != nil {
		return nil, err
	}
	overhead := again.Mallocs - after.Mallocs
	return &Allocs{Target: ch.transport(), PerGET: float64(after.Mallocs-before.Mallocs-overhead) / float64(cfg.AllocGETs)}, nil
}

func goMaxProcs() int { return runtime.GOMAXPROCS(0) }
