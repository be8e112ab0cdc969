package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// find returns the cell of target, op, size and concurrency.
func (r Report) find(target, op string, size int64, conc int) (Cell, bool) {
	for _, c := range r.Cells {
		if c.Target == target && c.Op == op && c.Size == size && c.Concurrency == conc {
			return c, true
		}
	}
	return Cell{}, false
}

// WriteMarkdown writes the report as Markdown tables.
func (r Report) WriteMarkdown(w io.Writer) {
	cfg := r.Config
	fmt.Fprintf(w, "Run of %s, %s, GOMAXPROCS %d, %d drives per deployment, %v per cell.\n\n",
		r.Started.UTC().Format(time.RFC3339), r.Took.Round(time.Second), r.GoMaxProcs, cfg.Drives, cfg.Duration)

	fmt.Fprintln(w, "### Throughput and latency")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | op | size | conc | MiB/s | ops/s | p50 | p99 | server peak RSS | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	targets := append(append([]string{}, cfg.Transports...), directTarget, tcpTarget)
	for _, op := range []string{"PUT", "GET", "GET-raw"} {
		for _, size := range sizesOf(op, cfg) {
			for _, conc := range cfg.Concurrency {
				for _, t := range targets {
					c, ok := r.find(t, op, size, conc)
					if !ok {
						continue
					}
					rss := "-"
					if c.PeakRSS > 0 {
						rss = fmt.Sprintf("%d MiB", c.PeakRSS>>20)
					}
					fmt.Fprintf(w, "| %s | %s | %s | %d | %.1f | %.0f | %s | %s | %s | %d |\n",
						t, op, sizeName(size), conc, c.MiBps(), c.OpsPerSec(), dur(c.P50), dur(c.P99), rss, c.Errors)
				}
			}
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Ratios (same run)")
	fmt.Fprintln(w)
	head := "| op | size | conc |"
	sep := "|---|---|---|"
	for _, t := range cfg.Transports {
		head += " " + t + " / direct |"
		sep += "---|"
	}
	for _, t := range cfg.Transports {
		head += " " + t + " / tcp |"
		sep += "---|"
	}
	if len(cfg.Transports) == 2 {
		head += " " + cfg.Transports[0] + " / " + cfg.Transports[1] + " |"
		sep += "---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, op := range []string{"PUT", "GET", "GET-raw"} {
		for _, size := range sizesOf(op, cfg) {
			for _, conc := range cfg.Concurrency {
				line := fmt.Sprintf("| %s | %s | %d |", op, sizeName(size), conc)
				d, _ := r.find(directTarget, op, size, conc)
				var tp []float64
				for _, t := range cfg.Transports {
					c, _ := r.find(t, op, size, conc)
					line += " " + ratio(c.OpsPerSec(), d.OpsPerSec()) + " |"
					tp = append(tp, c.OpsPerSec())
				}
				tcp, _ := r.find(tcpTarget, op, size, conc)
				for _, v := range tp {
					line += " " + ratio(v, tcp.OpsPerSec()) + " |"
				}
				if len(tp) == 2 {
					line += " " + ratio(tp[0], tp[1]) + " |"
				}
				fmt.Fprintln(w, line)
			}
		}
	}

	if len(r.Idle) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### Idle keep-alive connections")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| transport | connections | heap+stack per conn | of which pooled 64 KiB blocks | heap+stack without the pool | RSS per conn |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, i := range r.Idle {
			fmt.Fprintf(w, "| %s | %d | %.0f B | %.0f B | %.0f B | %.0f B |\n", i.Transport, i.Conns,
				i.HeapStackPerConn, i.PoolPerConn, i.HeapStackPerConn-i.PoolPerConn, i.RSSPerConn)
		}
	}
	if len(r.Allocs) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### Heap allocations per signed 4 KiB GET (server process)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| target | allocations per GET |")
		fmt.Fprintln(w, "|---|---|")
		for _, a := range r.Allocs {
			fmt.Fprintf(w, "| %s | %.1f |\n", a.Target, a.PerGET)
		}
	}
}

// Markdown returns WriteMarkdown's output.
func (r Report) Markdown() string {
	var b strings.Builder
	r.WriteMarkdown(&b)
	return b.String()
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d µs", d/time.Microsecond)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// sizesOf returns the sizes op was measured at.
func sizesOf(op string, cfg Config) []int64 {
	if op == "GET-raw" {
		return []int64{4096}
	}
	return cfg.Sizes
}
