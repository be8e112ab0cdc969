package deploy_test

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// BenchmarkReadWindow reads a 64 MiB object (4 drives, 2+2, the drives' files in the page
// cache) in 4 MiB windows, as the mount's readahead does: through WriteRange into the
// window (the decoder's stripe buffers, then a copy), and through ReadInto (the intact
// data blocks read straight into the window). Run with
//
//	go test -run '^$' -bench ReadWindow -benchmem -count 5 ./objstore/deploy/
func BenchmarkReadWindow(b *testing.B) {
	const size, window = 64 << 20, 4 << 20
	l := benchLayer(b, 4, 2, 0)
	ctx := context.Background()
	if _, err := l.PutObject(ctx, "bench", "key", bytes.NewReader(randomBytes(size, 3)), size, objstore.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	h, err := l.OpenObject(ctx, "bench", "key")
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	buf := make([]byte, window)
	b.Run("WriteRange", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		defer reportCPU(b, size)()
		for i := 0; i < b.N; i++ {
			for off := int64(0); off < size; off += window {
				if _, err := h.WriteRange(ctx, &fixedWriter{buf: buf}, off, window); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ReadInto", func(b *testing.B) {
		br, ok := h.(objstore.BufferReader)
		if !ok {
			b.Skip("the handle has no ReadInto")
		}
		b.SetBytes(size)
		b.ReportAllocs()
		defer reportCPU(b, size)()
		for i := 0; i < b.N; i++ {
			for off := int64(0); off < size; off += window {
				if _, err := br.ReadInto(ctx, buf, off); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// reportCPU starts counting the process's CPU time; the function it returns reports it per
// GiB read (b.N times size bytes): on a shared machine, CPU time moves less than wall time.
func reportCPU(b *testing.B, size int64) func() {
	start := cpuTime(b)
	return func() {
		b.ReportMetric(float64((cpuTime(b)-start).Milliseconds())/(float64(b.N)*float64(size)/(1<<30)), "cpu-ms/GiB")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fixedWriter writes into buf, from its start.
type fixedWriter struct {
	buf []byte
	n   int
}

func (w *fixedWriter) Write(p []byte) (int, error) {
	n := copy(w.buf[w.n:], p)
	w.n += n
	return n, nil
}
