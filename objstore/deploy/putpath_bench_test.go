package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/internal/diskbench"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
)

// BenchmarkPutPath measures a large put beside its raw limit in the same run (issue 11):
// every iteration is one round of three phases, each with `conc` clients writing one
// object each at once, so the phases alternate and share the machine's noise:
//
//   - raw-buf: per object, one writer per drive writes that drive's shard bytes (the size a
//     2+2 set writes for the object) to a new file in the drive's directory, buffered,
//     then fdatasync: the limit with the put's durability, without encoding or metadata;
//   - raw-direct: the same with O_DIRECT from an aligned buffer, then fdatasync;
//   - put: PutObject of the object through the object layer (4 drives, 2+2).
//
// It reports each phase's object throughput (MB/s of object bytes) and put/limit, the limit
// being the faster raw phase of the run. Run with
//
//	go test -run '^$' -bench PutPath -benchtime 10x ./objstore/deploy/
func BenchmarkPutPath(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, conc := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("%s/c%d", human(size), conc), func(b *testing.B) {
				benchPutPath(b, size, conc)
			})
		}
	}
}

func benchPutPath(b *testing.B, size, conc int) {
	const drives, parity = 4, 2
	root := b.TempDir()
	l := benchLayerAt(b, root, drives, parity)
	codec, err := erasure.New(drives-parity, parity, erasure.DefaultBlockSize, erasure.DefaultBitrot)
	if err != nil {
		b.Fatal(err)
	}
	content := randomBytes(size, 1)
	shards := diskbench.NewShards(content, int(codec.ShardFileSize(int64(size))))
	rawDirs := make([]string, drives)
	for i := range rawDirs {
		rawDirs[i] = filepath.Join(root, fmt.Sprintf("d%d", i+1), storage.SysVolume, "rawbench")
		if err := os.MkdirAll(rawDirs[i], 0o755); err != nil {
			b.Fatal(err)
		}
	}
	var times [3]time.Duration
	phase := func(p int, f func(client int) error) {
		start := time.Now()
		errs := make([]error, conc)
		var wg sync.WaitGroup
		for c := range conc {
			wg.Go(func() { errs[c] = f(c) })
		}
		wg.Wait()
		times[p] += time.Since(start)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	raw := func(client int, direct bool) error {
		return shards.Write(rawDirs, fmt.Sprint(client), direct)
	}
	b.ResetTimer()
	for range b.N {
		phase(0, func(c int) error { return raw(c, false) })
		phase(1, func(c int) error { return raw(c, true) })
		phase(2, func(c int) error {
			_, err := l.PutObject(context.Background(), "bench", fmt.Sprint("k", c), bytes.NewReader(content), int64(size), objstore.PutOptions{})
			return err
		})
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 {
		return float64(size) * float64(conc) * float64(b.N) / d.Seconds() / 1e6
	}
	b.ReportMetric(mbps(times[0]), "raw-buf-MB/s")
	b.ReportMetric(mbps(times[1]), "raw-direct-MB/s")
	b.ReportMetric(mbps(times[2]), "put-MB/s")
	b.ReportMetric(mbps(times[2])/max(mbps(times[0]), mbps(times[1])), "put/limit")
}

// benchLayerAt is benchLayer with its drives in root/d1..dN.
func benchLayerAt(b *testing.B, root string, drives, parity int) objstore.ObjectLayer {
	b.Helper()
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives: []string{filepath.Join(root, fmt.Sprintf("d{1...%d}", drives))},
		Parity: parity,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.Close)
	if err := d.MakeBucket(context.Background(), "bench", objstore.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	return d
}
