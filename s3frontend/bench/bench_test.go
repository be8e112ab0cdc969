package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeRunChild() // this test binary is also the benchmark's server process
	os.Exit(m.Run())
}

// TestRunSmall runs the whole benchmark on a tiny configuration: every stage works, and
// the report holds every cell without errors. It asserts nothing about speed.
func TestRunSmall(t *testing.T) {
	cfg := Config{
		Dir:         t.TempDir(),
		Sizes:       []int64{4 << 10, 200 << 10},
		Concurrency: []int{1, 3},
		Duration:    200 * time.Millisecond,
		IdleConns:   50,
		AllocGETs:   50,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// PUT and GET per size, and GET-raw, on 2 transports and direct; PUT and GET per size
	// over bare TCP.
	want := (len(cfg.Sizes)*2+1)*len(cfg.Concurrency)*3 + len(cfg.Sizes)*2*len(cfg.Concurrency)
	if len(rep.Cells) != want {
		t.Fatalf("%d cells, want %d", len(rep.Cells), want)
	}
	for _, c := range rep.Cells {
		if c.Errors != 0 || c.Ops < c.Concurrency || c.P50 <= 0 || c.P99 < c.P50 {
			t.Errorf("cell %+v", c)
		}
		if c.Target != directTarget && c.Target != tcpTarget && c.PeakRSS <= 0 {
			t.Errorf("cell %s %s %d: no server RSS", c.Target, c.Op, c.Size)
		}
	}
	if len(rep.Idle) != 2 || len(rep.Allocs) != 3 {
		t.Fatalf("idle %+v allocs %+v", rep.Idle, rep.Allocs)
	}
	for _, a := range rep.Allocs {
		if a.PerGET <= 0 {
			t.Errorf("allocations %+v", a)
		}
	}
	md := rep.Markdown()
	if testing.Verbose() {
		t.Log("\n" + md)
	}
	for _, s := range []string{"| epoll | PUT | 4 KiB | 1 |", "| nethttp | GET | 200 KiB | 3 |", "| direct |", "### Idle keep-alive connections"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
}

// TestE2EBench is the full end-to-end benchmark, run only when FLASHSTOR_BENCH is set:
//
//	FLASHSTOR_BENCH=1 go test -run TestE2EBench -timeout 60m -v ./s3frontend/bench/
//
// FLASHSTOR_BENCH_DURATION (a Go duration) sets the time per cell, FLASHSTOR_BENCH_IDLE
// the number of idle connections, FLASHSTOR_BENCH_OUT a file for the Markdown report;
// FLASHSTOR_BENCH_SIZES (bytes), FLASHSTOR_BENCH_CONC and FLASHSTOR_BENCH_TRANSPORTS,
// comma-separated, narrow the matrix (the PUT path of issue 11:
// FLASHSTOR_BENCH_SIZES=1048576,67108864 FLASHSTOR_BENCH_CONC=1,4,8).
func TestE2EBench(t *testing.T) {
	if os.Getenv("FLASHSTOR_BENCH") == "" {
		t.Skip("set FLASHSTOR_BENCH=1 to run the end-to-end benchmark")
	}
	cfg := Config{Dir: t.TempDir(), Log: os.Stderr}
	if d, err := time.ParseDuration(os.Getenv("FLASHSTOR_BENCH_DURATION")); err == nil {
		cfg.Duration = d
	}
	if n, err := strconv.Atoi(os.Getenv("FLASHSTOR_BENCH_IDLE")); err == nil {
		cfg.IdleConns = n
	}
	for _, f := range strings.Split(os.Getenv("FLASHSTOR_BENCH_SIZES"), ",") {
		if n, err := strconv.ParseInt(f, 10, 64); err == nil && n > 0 {
			cfg.Sizes = append(cfg.Sizes, n)
		}
	}
	for _, f := range strings.Split(os.Getenv("FLASHSTOR_BENCH_CONC"), ",") {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			cfg.Concurrency = append(cfg.Concurrency, n)
		}
	}
	if v := os.Getenv("FLASHSTOR_BENCH_TRANSPORTS"); v != "" {
		cfg.Transports = strings.Split(v, ",")
	}
	rep, err := Run(context.Background(), cfg)
	md := rep.Markdown()
	t.Log("\n" + md)
	if out := os.Getenv("FLASHSTOR_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			t.Error(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}
