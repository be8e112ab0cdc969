package erasureset

import (
	"crypto/md5"
	"fmt"
	"hash"
	"sync"
	"syscall"
	"testing"
	"time"

	md5simd "github.com/minio/md5-simd"

	"github.com/flashstor/flashstor/internal/asynchash"
)

// BenchmarkETagMD5 measures what the ETag's MD5 costs a put, and what a multi-buffer MD5
// would save (issue 11: the hash is most of a large put's CPU): `streams` bodies of 64 MiB
// hashed at once, each fed in the 256 KiB chunks asynchash hands its goroutine, with
// crypto/md5 (one stream per core, as PutObject does) and with github.com/minio/md5-simd
// (one server goroutine hashing up to 8 or 16 streams in the lanes of AVX2 or AVX-512
// registers). It reports the wall rate (MB/s of all streams) and the CPU time per 64 MiB
// stream. Run with
//
//	go test -run '^$' -bench ETagMD5 -benchtime 5x ./objstore/erasureset/
func BenchmarkETagMD5(b *testing.B) {
	server := md5simd.NewServer()
	defer server.Close()
	for _, streams := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("crypto-md5/%d", streams), func(b *testing.B) {
			benchMD5Streams(b, streams, md5.New)
		})
		b.Run(fmt.Sprintf("md5-simd/%d", streams), func(b *testing.B) {
			benchMD5Streams(b, streams, func() hash.Hash { return server.NewHash() })
		})
	}
}

func benchMD5Streams(b *testing.B, streams int, newHash func() hash.Hash) {
	const size = 64 << 20
	chunk := make([]byte, asynchash.Chunk)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	b.SetBytes(int64(streams) * size)
	start := processCPU()
	for b.Loop() {
		var wg sync.WaitGroup
		for range streams {
			wg.Go(func() {
				h := newHash()
				for n := 0; n < size; n += len(chunk) {
					h.Write(chunk)
				}
				h.Sum(nil)
				if c, ok := h.(interface{ Close() }); ok {
					c.Close()
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(processCPU()-start)/float64(time.Millisecond)/float64(b.N*streams), "cpu-ms/stream")
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
