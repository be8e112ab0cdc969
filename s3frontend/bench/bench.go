// Package bench is the end-to-end benchmark of the S3 face: it starts the S3 server (on the
// epoll transport and on net/http, in the same run) in a child process over a fresh
// object layer, drives it with aws-sdk-go-v2, and measures PUT and GET throughput, ops/s,
// latency percentiles and server RSS for several object sizes and concurrencies, the
// memory one idle keep-alive connection costs the server, and the server's allocations
// per 4 KiB GET. Each throughput comes with its limit from the same run: the object layer
// called directly, in process, on the same sizes and concurrencies, and the same bytes moved
// over loopback TCP with nothing else, the wire's own limit on the machine.
//
// The server runs in a child process (the same executable, see MaybeRunChild) so that its
// memory is measured apart from the load generator's.
package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/flashstor/flashstor/s3frontend"
)

// Config selects what Run measures. Zero fields take the defaults shown.
type Config struct {
	// Dir holds the drives (a fresh "<transport>/d{1...N}" set per server, and one for the
	// direct runs); a temporary directory, removed afterwards, when empty.
	Dir string
	// Drives per deployment; default 4.
	Drives int
	// Transports to measure; default epoll and nethttp.
	Transports []string
	// Sizes of the objects; default 4 KiB, 1 MiB, 64 MiB.
	Sizes []int64
	// Concurrency levels; default 1, 8, 32.
	Concurrency []int
	// Duration of each measured cell; default 3 s. A cell also completes at least one
	// operation per worker.
	Duration time.Duration
	// IdleConns is the number of idle keep-alive connections for the memory measure;
	// default 10,000; negative skips it.
	IdleConns int
	// AllocGETs is the number of 4 KiB GETs the allocation count averages over; default
	// 2,000.
	AllocGETs int
	// Log receives progress lines; nil for none.
	Log io.Writer
}

func (c *Config) setDefaults() {
	if c.Drives <= 0 {
		c.Drives = 4
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{s3frontend.TransportEpoll, s3frontend.TransportNetHTTP}
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int64{4 << 10, 1 << 20, 64 << 20}
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = []int{1, 8, 32}
	}
	if c.Duration <= 0 {
		c.Duration = 3 * time.Second
	}
	if c.IdleConns == 0 {
		c.IdleConns = 10000
	}
	if c.AllocGETs <= 0 {
		c.AllocGETs = 2000
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Cell is one measured combination of target, operation, size and concurrency.
type Cell struct {
	Target string // a transport, or "direct" for the object layer called in process
	// Op is "PUT" or "GET" (aws-sdk-go-v2), or "GET-raw": a signed GET of one 4 KiB
	// object sent by a minimal keep-alive client, which shows the server's capacity
	// without the SDK's own cost per request.
	Op          string
	Size        int64
	Concurrency int
	Ops         int
	Errors      int
	Elapsed     time.Duration
	P50, P99    time.Duration
	// PeakRSS is the server process's largest resident set seen during the cell (0 for
	// direct runs, which share the benchmark's process).
	PeakRSS int64
}

// MiBps returns the throughput in MiB/s (0 for a cell that did not run).
func (c Cell) MiBps() float64 { return c.OpsPerSec() * float64(c.Size) / (1 << 20) }

// OpsPerSec returns the operations per second (0 for a cell that did not run).
func (c Cell) OpsPerSec() float64 {
	if c.Elapsed <= 0 {
		return 0
	}
	return float64(c.Ops) / c.Elapsed.Seconds()
}

// Idle is the memory cost of idle keep-alive connections on one transport.
type Idle struct {
	Transport string
	Conns     int
	// HeapStackPerConn is the growth of the server's heap and stacks in use, per
	// connection, after two GCs; PoolPerConn is the part of it that is the transport's
	// shared pool of idle 64 KiB blocks (bounded, not per connection).
	HeapStackPerConn float64
	PoolPerConn      float64
	// RSSPerConn is the growth of the server's resident set, per connection.
	RSSPerConn float64
}

// Allocs is the allocation count of one 4 KiB GET.
type Allocs struct {
	Target string  // a transport, or "direct"
	PerGET float64 // heap allocations per GET in the server process
}

// Report is the outcome of Run.
type Report struct {
	Config Config
	Cells  []Cell
	Idle   []Idle
	Allocs []Allocs
	// Started and Took frame the run; GoMaxProcs is the server processes' parallelism.
	Started    time.Time
	Took       time.Duration
	GoMaxProcs int
}

// Run measures what cfg selects. It stops early, with what it has, when ctx ends.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	cfg.setDefaults()
	rep = Report{Config: cfg, Started: time.Now(), GoMaxProcs: goMaxProcs()}
	defer func() { rep.Took = time.Since(rep.Started) }()
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "flashstor-bench-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	maxSize := int64(0)
	for _, s := range cfg.Sizes {
		maxSize = max(maxSize, s)
	}
	payload := make([]byte, maxSize)
	rand.Read(payload)

	for _, tr := range cfg.Transports {
		fmt.Fprintf(cfg.Log, "bench: %s server\n", tr)
		cells, allocs, err := runServer(ctx, cfg, tr, payload)
		rep.Cells = append(rep.Cells, cells...)
		if allocs != nil {
			rep.Allocs = append(rep.Allocs, *allocs)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", tr, err)
		}
	}
	fmt.Fprintf(cfg.Log, "bench: object layer called directly\n")
	cells, allocs, err := runDirect(ctx, cfg, payload)
	rep.Cells = append(rep.Cells, cells...)
	if allocs != nil {
		rep.Allocs = append(rep.Allocs, *allocs)
	}
	if err != nil {
		return rep, fmt.Errorf("direct: %w", err)
	}
	fmt.Fprintf(cfg.Log, "bench: loopback TCP limit\n")
	tcp, err := runTCPLimit(ctx, cfg, payload)
	rep.Cells = append(rep.Cells, tcp...)
	if err != nil {
		return rep, fmt.Errorf("tcp limit: %w", err)
	}
	if cfg.IdleConns > 0 {
		for _, tr := range cfg.Transports {
			fmt.Fprintf(cfg.Log, "bench: %d idle connections on %s\n", cfg.IdleConns, tr)
			idle, err := measureIdle(ctx, cfg, tr)
			if err != nil {
				return rep, fmt.Errorf("idle %s: %w", tr, err)
			}
			rep.Idle = append(rep.Idle, idle)
		}
	}
	return rep, nil
}

// drivesFor returns the drive pattern of a fresh deployment named name.
func drivesFor(cfg Config, name string) []string {
	return []string{filepath.Join(cfg.Dir, name, fmt.Sprintf("d{1...%d}", cfg.Drives))}
}

// Credentials of the benchmark servers.
const (
	benchAccessKey = "FLASHSTORBENCH"
	benchSecretKey = "flashstor-bench-secret"
	benchRegion    = "us-east-1"
	benchBucket    = "bench"
)
