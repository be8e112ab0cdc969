package deploy_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// BenchmarkGet4KiB counts the object layer's allocations and time per 4 KiB read (open, read,
// close) on 4 drives: the core's share of a small S3 GET.
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
