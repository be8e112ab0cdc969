package fusefs

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// opTable returns one line per kind of request made between two snapshots of an
// opCounter: count, count per file, mean and total time; and the number of requests.
func opTable(c0, c1 map[string]int, s0, s1 map[string]time.Duration, files int) (string, int) {
	var b strings.Builder
	total := 0
	for _, op := range slices.Sorted(maps.Keys(c1)) {
		n := c1[op] - c0[op]
		if n == 0 {
			continue
		}
		spent := s1[op] - s0[op]
		total += n
		fmt.Fprintf(&b, "  %-10s %7d  %5.2f/file  %8.1f us/op  %v\n", op, n, float64(n)/float64(files),
			float64(spent.Microseconds())/float64(n), spent.Round(time.Millisecond))
	}
	return b.String(), total
}

// BenchmarkTarRequests extracts the tree of BenchmarkExtract into a mount in each
// durability mode (drives of its own each) and logs where the time goes: every kind of
// FUSE request the extraction makes, how many per file, and the time the mount spent
// answering them (the rest of the wall time is tar and the kernel's FUSE round trips).
func BenchmarkTarRequests(b *testing.B) {
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar is not installed")
	}
	tarball, files := goSourceTarball(b)
	for _, mode := range []Durability{DurableClose, DurableFsync} {
		b.Run(mode.String(), func(b *testing.B) {
			l := layerAt(b, filepath.Join(b.TempDir(), "d{1...4}"))
			must(b, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
			ops := newOpCounter()
			opts := Options{Durability: mode, Observe: ops.observe}
			if mode == DurableFsync {
				opts.SyncDrives = l.(*deploy.Deployment).SyncDrives
			}
			dir := filepath.Join(mountLayer(b, l, opts), testBucket)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				into := filepath.Join(dir, fmt.Sprintf("x-%d", i))
				must(b, "mkdir", os.Mkdir(into, 0o755))
				c0, _ := ops.snapshot()
				s0 := ops.spentSnapshot()
				start := time.Now()
				cmd := exec.Command("tar", "-C", into, "-xf", tarball)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("tar -x into %s: %v %s", into, err, out)
				}
				took := time.Since(start)
				c1, _ := ops.snapshot()
				table, total := opTable(c0, c1, s0, ops.spentSnapshot(), files)
				b.Logf("%s: %d files in %v, %d FUSE requests\n%s", mode, files, took.Round(time.Millisecond), total, table)
				b.ReportMetric(float64(files)/took.Seconds(), "files/s")
				b.ReportMetric(float64(total)/float64(files), "requests/file")
			}
		})
	}
}
