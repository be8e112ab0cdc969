package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/reedsolomon"
)

// Benchmarks report the codec's throughput beside its limit measured in the same run:
// x-bare is the codec's MB/s divided by bare reedsolomon's on the same bytes (Encode, or
// ReconstructData for one missing data shard), x-memcpy divides by one copy of the object.
// Run: go test -run '^$' -bench . -benchmem ./erasure/

var benchGeometries = []struct{ k, m int }{{4, 2}, {8, 4}, {12, 4}}

var benchSizes = []int64{1 << 20, 64 << 20}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// discardWriters returns n writers that drop what they get, like fast drives.
func discardWriters(n int) []io.Writer {
	ws := make([]io.Writer, n)
	for i := range ws {
		ws[i] = io.Discard
	}
	return ws
}

// bareStripes splits data into per-stripe shard sets for bare reedsolomon, parity allocated.
func bareStripes(c *Codec, data []byte) [][][]byte {
	var stripes [][][]byte
	for s := range c.Stripes(int64(len(data))) {
		stripe := data[s*c.blockSize : min((s+1)*c.blockSize, int64(len(data)))]
		b := c.BlockSize(int64(len(data)), s)
		shards := reedsolomon.AllocAligned(c.k+c.m, b)
		for i := range c.k {
			copy(shards[i], stripe[min(i*b, len(stripe)):min((i+1)*b, len(stripe))])
		}
		stripes = append(stripes, shards)
	}
	return stripes
}

// bareCodec is reedsolomon with its default options (SIMD, its own goroutines): the limit the
// codec is compared with.
func bareCodec(b *testing.B, k, m int) reedsolomon.Encoder {
	rs, err := reedsolomon.New(k, m)
	if err != nil {
		b.Fatal(err)
	}
	return rs
}

// pairTimes runs ours and limit alternately, n times each, and returns the median duration of
// each: on a shared, noisy machine both sides then see the same load.
func pairTimes(n int, ours, limit func()) (time.Duration, time.Duration) {
	o := make([]time.Duration, n)
	l := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		ours()
		t1 := time.Now()
		limit()
		o[i], l[i] = t1.Sub(t0), time.Since(t1)
	}
	slices.Sort(o)
	slices.Sort(l)
	return o[n/2], l[n/2]
}

// reportRatio times ours against limit (pairTimes) and adds the limit's MB/s and the ratio
// of ours to it (x-unit, 1.0 = as fast as the limit) to the benchmark.
func reportRatio(b *testing.B, size int64, unit string, ours, limit func()) {
	o, l := pairTimes(min(max(b.N, 5), 30), ours, limit)
	b.ReportMetric(float64(size)/l.Seconds()/1e6, unit+"-MB/s")
	b.ReportMetric(l.Seconds()/o.Seconds(), "x-"+unit)
}

func BenchmarkEncode(b *testing.B) {
	ctx := context.Background()
	for _, g := range benchGeometries {
		for _, size := range benchSizes {
			c := mustNew(b, g.k, g.m, DefaultBlockSize, DefaultBitrot)
			data := randomBytes(b, int(size), 1)
			writers := discardWriters(c.TotalShards())
			b.Run(fmt.Sprintf("%d+%d/%s", g.k, g.m, sizeName(size)), func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				r := bytes.NewReader(data)
				encode := func() {
					r.Reset(data)
					if _, _, err := c.Encode(ctx, r, size, writers, g.k); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					encode()
				}
				stripes := bareStripes(c, data)
				rs := bareCodec(b, g.k, g.m)
				reportRatio(b, size, "bare", encode, func() {
					for _, s := range stripes {
						if err := rs.Encode(s); err != nil {
							b.Fatal(err)
						}
					}
				})
				dst := make([]byte, size)
				reportRatio(b, size, "memcpy", encode, func() { copy(dst, data) })
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	for _, g := range benchGeometries {
		for _, size := range benchSizes {
			c := mustNew(b, g.k, g.m, DefaultBlockSize, DefaultBitrot)
			data := randomBytes(b, int(size), 2)
			files := encodeObject(b, c, data, size)
			dst := make([]byte, size)
			b.Run(fmt.Sprintf("%d+%d/%s/healthy", g.k, g.m, sizeName(size)), func(b *testing.B) {
				readers := readersFor(files)
				b.SetBytes(size)
				b.ReportAllocs()
				decode := func() {
					if _, _, err := c.Decode(ctx, io.Discard, readers, 0, size, size); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					decode()
				}
				reportRatio(b, size, "memcpy", decode, func() { copy(dst, data) })
			})
			b.Run(fmt.Sprintf("%d+%d/%s/missing-data-shard", g.k, g.m, sizeName(size)), func(b *testing.B) {
				readers := readersFor(files)
				readers[0] = nil
				b.SetBytes(size)
				b.ReportAllocs()
				decode := func() {
					if _, _, err := c.Decode(ctx, io.Discard, readers, 0, size, size); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					decode()
				}
				stripes := bareStripes(c, data)
				rs := bareCodec(b, g.k, g.m)
				for _, s := range stripes {
					if err := rs.Encode(s); err != nil {
						b.Fatal(err)
					}
				}
				reportRatio(b, size, "bare", decode, func() {
					for _, s := range stripes {
						s[0] = s[0][:0]
						if err := rs.ReconstructData(s); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// BenchmarkDecodeRange4KiB reads 4 KiB from the middle of a 64 MiB object: one block of one
// shard is read and verified (shard-bytes/op reports how much was read from the shards).
func BenchmarkDecodeRange4KiB(b *testing.B) {
	ctx := context.Background()
	const size = 64 << 20
	for _, g := range benchGeometries {
		c := mustNew(b, g.k, g.m, DefaultBlockSize, DefaultBitrot)
		files := encodeObject(b, c, randomBytes(b, size, 3), size)
		for _, missing := range []bool{false, true} {
			counters := make([]*countingReaderAt, len(files))
			readers := make([]io.ReaderAt, len(files))
			for i, f := range files {
				counters[i] = &countingReaderAt{r: bytes.NewReader(f)}
				readers[i] = counters[i]
			}
			name := fmt.Sprintf("%d+%d", g.k, g.m)
			if missing {
				readers[0] = nil
				name += "/missing-data-shard"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(4096)
				b.ReportAllocs()
				off := int64(size/2 + 1000)
				for b.Loop() {
					if _, _, err := c.Decode(ctx, io.Discard, readers, off, 4096, size); err != nil {
						b.Fatal(err)
					}
				}
				var n int64
				for _, ctr := range counters {
					n += ctr.bytes.Swap(0)
				}
				b.ReportMetric(float64(n)/float64(b.N), "shard-bytes/op")
			})
		}
	}
}

// BenchmarkBlockSize encodes and decodes a 64 MiB object with 8+4 shards at several stripe
// sizes: the evidence behind DefaultBlockSize.
func BenchmarkBlockSize(b *testing.B) {
	ctx := context.Background()
	const size = 64 << 20
	data := randomBytes(b, size, 4)
	for _, bs := range []int64{256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20} {
		c := mustNew(b, 8, 4, bs, DefaultBitrot)
		writers := discardWriters(c.TotalShards())
		b.Run(fmt.Sprintf("encode/%s", sizeName(bs)), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			r := bytes.NewReader(data)
			for b.Loop() {
				r.Reset(data)
				if _, _, err := c.Encode(ctx, r, size, writers, 8); err != nil {
					b.Fatal(err)
				}
			}
		})
		files := encodeObject(b, c, data, size)
		readers := readersFor(files)
		b.Run(fmt.Sprintf("decode/%s", sizeName(bs)), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Decode(ctx, io.Discard, readers, 0, size, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// pacer makes its caller take about as long as a device of bytesPerSec would. Timers on a
// loaded VM are coarse (about 1 ms), so it sleeps once per chunk bytes, not once per call,
// and time spent idle is not credited: like a drive or a peer, it is busy only when used.
type pacer struct {
	bytesPerSec float64
	chunk       int
	mu          sync.Mutex
	pending     int // bytes served but not yet slept for
}

func (p *pacer) wait(n int) {
	p.mu.Lock()
	p.pending += n
	var d time.Duration
	if p.pending >= p.chunk {
		d = time.Duration(float64(p.pending) / p.bytesPerSec * float64(time.Second))
		p.pending = 0
	}
	p.mu.Unlock()
	time.Sleep(d)
}

// slowWriter is a paced io.Writer.
type slowWriter struct{ *pacer }

func (w slowWriter) Write(p []byte) (int, error) {
	w.wait(len(p))
	return len(p), nil
}

// slowReader is a paced io.Reader.
type slowReader struct {
	r io.Reader
	*pacer
}

func (s slowReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.wait(n)
	return n, err
}

// slowReaderAt is a paced io.ReaderAt.
type slowReaderAt struct {
	r io.ReaderAt
	*pacer
}

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.wait(len(p))
	return s.r.ReadAt(p, off)
}

// BenchmarkOverlap measures what keeping two stripes in flight buys when I/O takes time: a
// client sending or receiving at 200 MB/s and drives writing or reading at 25 MB/s each, so
// that a 1 MiB stripe of 8+4 costs about 5 ms on each side. Depth 1 reads, codes and writes
// one stripe at a time (about 10 ms a stripe); depth 2, the default, moves stripe s+1 on one
// side while stripe s moves on the other (about 5 ms a stripe).
func BenchmarkOverlap(b *testing.B) {
	ctx := context.Background()
	const size = 8 << 20
	data := randomBytes(b, size, 5)
	for _, depth := range []int{1, 2} {
		c := mustNew(b, 8, 4, DefaultBlockSize, DefaultBitrot)
		c.depth = depth
		drive := func() *pacer { return &pacer{bytesPerSec: 25e6, chunk: c.bfull} }
		client := func() *pacer { return &pacer{bytesPerSec: 200e6, chunk: int(c.blockSize)} }
		writers := make([]io.Writer, c.TotalShards())
		for i := range writers {
			writers[i] = slowWriter{drive()}
		}
		b.Run(fmt.Sprintf("encode/depth%d", depth), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			src := slowReader{bytes.NewReader(data), client()}
			for b.Loop() {
				src.r.(*bytes.Reader).Reset(data)
				if _, _, err := c.Encode(ctx, src, size, writers, 8); err != nil {
					b.Fatal(err)
				}
			}
		})
		files := encodeObject(b, c, data, size)
		readers := make([]io.ReaderAt, len(files))
		for i, f := range files {
			readers[i] = slowReaderAt{bytes.NewReader(f), drive()}
		}
		dst := slowWriter{client()}
		b.Run(fmt.Sprintf("decode/depth%d", depth), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Decode(ctx, dst, readers, 0, size, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBitrotHash measures each bitrot candidate alone on block-sized inputs: the
// evidence behind DefaultBitrot. A copy of the same bytes is the limit beside it.
func BenchmarkBitrotHash(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 256 << 10, 1 << 20} {
		data := randomBytes(b, size, 1)
		b.Run(fmt.Sprintf("memcpy/%dKiB", size>>10), func(b *testing.B) {
			dst := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, data)
			}
		})
		for _, alg := range []BitrotAlgorithm{BitrotHighwayHash256, BitrotXXH3, BitrotCRC32C} {
			h, err := newBitrotHasher(alg)
			if err != nil {
				b.Fatal(err)
			}
			sum := make([]byte, alg.Size())
			b.Run(fmt.Sprintf("%v/%dKiB", alg, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					h.sum(sum, data)
				}
			})
		}
	}
}
