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
	"unsafe"

	"github.com/flashstor/flashstor/erasure"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
	"golang.org/x/sys/unix"
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
	shardSize := int(codec.ShardFileSize(int64(size)))
	content := randomBytes(size, 1)
	shard := content[:min(shardSize, size)]
	if shardSize > size {
		shard = append(bytes.Clone(content), make([]byte, shardSize-size)...)
	}
	direct := alignedBuf(shardSize)
	copy(direct, shard)
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
	raw := func(client int, odirect bool) error {
		return eachDrive(drives, func(d int) error {
			return rawWrite(filepath.Join(rawDirs[d], fmt.Sprint(client)), shard, direct, odirect)
		})
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

// eachDrive runs f for every drive at once and returns the first error.
func eachDrive(n int, f func(d int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for d := range n {
		wg.Go(func() { errs[d] = f(d) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rawWrite replaces the file at path by a new one holding data, durably: buffered writes of
// 1 MiB or O_DIRECT writes of 1 MiB from the aligned copy (rounded up to the block size,
// then truncated back), then fdatasync, as a drive stores a shard file.
func rawWrite(path string, data, aligned []byte, odirect bool) error {
	os.Remove(path)
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if odirect {
		flags |= unix.O_DIRECT
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	src := data
	if odirect {
		src = aligned
	}
	for off := 0; off < len(src); off += 1 << 20 {
		if _, err := f.Write(src[off:min(off+1<<20, len(src))]); err != nil {
			return err
		}
	}
	if odirect && len(aligned) != len(data) {
		if err := f.Truncate(int64(len(data))); err != nil {
			return err
		}
	}
	return unix.Fdatasync(int(f.Fd()))
}

// alignedBuf returns a zeroed buffer of n bytes rounded up to 4 KiB, 4 KiB-aligned.
func alignedBuf(n int) []byte {
	const align = 4096
	n = (n + align - 1) &^ (align - 1)
	b := make([]byte, n+align)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (align - 1))
	if off != 0 {
		off = align - off
	}
	return b[off : off+n]
}
