package fusefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"golang.org/x/sys/unix"
)

// BenchmarkReadCeiling reads one file (256 MiB, FLASHSTOR_BENCH_BYTES) through the mount and
// the same bytes from the in-memory go-fuse file system (memoryMount, the FUSE ceiling),
// alternating, FLASHSTOR_BENCH_ROUNDS times (default 6), after a drop_caches before each
// read (with FLASHSTOR_BENCH_DROP=0, only the read file's own pages are dropped: the drives'
// files then stay in the page cache, and the read measures the CPU path alone); it reports the median of the per-round ratios mount/ceiling and the CPU time of the
// process (client and server) per GiB read for each. The single-iteration figures of
// BenchmarkSequential move by a factor of 2 between runs on a shared machine; a ratio of
// alternating reads in one process does not.
func BenchmarkReadCeiling(b *testing.B) {
	size := int64(256 << 20)
	if s := os.Getenv("FLASHSTOR_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		must(b, "FLASHSTOR_BENCH_BYTES", err)
		size = n
	}
	rounds := 6
	if s := os.Getenv("FLASHSTOR_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		must(b, "FLASHSTOR_BENCH_ROUNDS", err)
		rounds = min(max(n, 1), 100)
	}
	drop := os.Getenv("FLASHSTOR_BENCH_DROP") != "0"
	l := layerAt(b, filepath.Join(b.TempDir(), "d{1...4}"))
	ctx := context.Background()
	must(b, "MakeBucket", l.MakeBucket(ctx, testBucket, objstore.MakeBucketOptions{}))
	if _, err := l.PutObject(ctx, testBucket, "seq", newChunkSource(size), size, objstore.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(mountLayer(b, l, Options{}), testBucket, "seq")
	ceiling := memoryMount(b, size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ratios, mountRates, ceilRates, mountCPU, ceilCPU []float64
		measure := func(p string) (rate, cpuPerGiB float64) {
			if drop {
				dropCaches(b)
			} else {
				dropFileCache(b, p)
			}
			cpu0 := cpuTime(b)
			start := time.Now()
			if n := readFile(b, p); n != size {
				b.Fatalf("%s: read %d bytes of %d", p, n, size)
			}
			took := time.Since(start)
			return mbps(size, took), float64((cpuTime(b) - cpu0).Milliseconds()) / (float64(size) / (1 << 30))
		}
		for r := 0; r < rounds; r++ {
			mr, mc := measure(path)
			cr, cc := measure(ceiling)
			ratios = append(ratios, 100*mr/cr)
			mountRates, ceilRates = append(mountRates, mr), append(ceilRates, cr)
			mountCPU, ceilCPU = append(mountCPU, mc), append(ceilCPU, cc)
			b.Logf("round %d: mount %.0f MB/s (%.0f ms CPU/GiB), ceiling %.0f MB/s (%.0f ms CPU/GiB): %.0f %%", r, mr, mc, cr, cc, 100*mr/cr)
		}
		b.ReportMetric(median(mountRates), "mount-MB/s")
		b.ReportMetric(median(ceilRates), "ceiling-MB/s")
		b.ReportMetric(median(ratios), "mount/ceiling-%")
		b.ReportMetric(median(mountCPU), "mount-cpu-ms/GiB")
		b.ReportMetric(median(ceilCPU), "ceiling-cpu-ms/GiB")
		fmt.Fprintf(os.Stderr, "mount/ceiling per round (%%): %.0f\n", ratios)
	}
}

// dropFileCache drops the page cache of one file (posix_fadvise DONTNEED), so that the next
// read of it goes through FUSE again.
func dropFileCache(b *testing.B, path string) {
	f, err := os.Open(path)
	must(b, "open", err)
	defer f.Close()
	must(b, "fadvise", unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// cpuTime is the user and system time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	must(b, "getrusage", syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
