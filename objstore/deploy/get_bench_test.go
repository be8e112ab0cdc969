package deploy_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// BenchmarkGet4KiB counts the object layer's allocations and time per 4 KiB read (open, read,
// close) on 4 drives: the core's share of a small S3 GET. Run with
//
//	go test -run '^$' -bench 'Get4KiB' -benchmem -count 3 ./objstore/deploy/
//
// On the 2-vCPU VM of s3frontend/BENCHMARKS.md (2026-12-04, one session): 94 allocs/op,
// 103-133 us/op before the allocation work of that day; 38 allocs/op, 66-70 us/op after
// (metadata copies decoded against the first, health calls on reusable workers, ReadMeta's
// path without copies, namespace lock entries reused); 18 allocs/op, 63-66 us/op after a
// second pass (fan-outs on reusable set workers, a version record and an open handle of one
// allocation each, the decoder's gatherer inside its own state). The S3 face's layer-direct row reads
// an object stored through S3, whose stored headers add 6 more.
func BenchmarkGet4KiB(b *testing.B) {
	l := benchLayer(b, 4, 2, 0)
	content := randomBytes(4096, 1)
	if _, err := l.PutObject(context.Background(), "bench", "key", bytes.NewReader(content), 4096, objstore.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := l.OpenObject(context.Background(), "bench", "key")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.WriteRange(context.Background(), io.Discard, 0, 4096); err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}
