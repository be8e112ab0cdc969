package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"golang.org/x/sys/unix"
)

// The object layer's put and get beside the limit of the same drives: a raw write of the
// same bytes to one file with fdatasync, and a raw read of it. Run with
//
//	go test -run '^$' -bench . -benchmem ./objstore/deploy/
//
// All drives of a layout share the machine's one disk here, so an n-drive layout writes
// (k+m)/k times the bytes of the raw baseline to it.

func benchLayer(b *testing.B, drives, parity int, inline int64) objstore.ObjectLayer {
	b.Helper()
	return benchLayerAt(b, b.TempDir(), drives, parity, inline)
}

// benchLayerAt is benchLayer with its drives in root/d1..dN.
func benchLayerAt(b *testing.B, root string, drives, parity int, inline int64) objstore.ObjectLayer {
	b.Helper()
	return benchLayerConfig(b, deploy.Config{
		Drives:      []string{filepath.Join(root, fmt.Sprintf("d{1...%d}", drives))},
		Parity:      parity,
		InlineLimit: inline,
	})
}

// benchLayerConfig opens the deployment cfg describes, closed at the benchmark's end, with
// a bucket "bench".
func benchLayerConfig(b *testing.B, cfg deploy.Config) objstore.ObjectLayer {
	b.Helper()
	d, err := deploy.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.Close)
	if err := d.MakeBucket(context.Background(), "bench", objstore.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	return d
}

var benchSizes = []int{4 << 10, 1 << 20, 64 << 20}

func BenchmarkRawDisk(b *testing.B) {
	for _, size := range benchSizes {
		content := randomBytes(size, 1)
		dir := b.TempDir()
		b.Run(fmt.Sprintf("write/%s", human(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				f, err := os.Create(filepath.Join(dir, "f"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(content); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
		b.Run(fmt.Sprintf("read/%s", human(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			buf := make([]byte, size)
			for i := 0; i < b.N; i++ {
				f, err := os.Open(filepath.Join(dir, "f"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(f, buf); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

func BenchmarkObjectLayer(b *testing.B) {
	for _, lt := range []struct{ drives, parity int }{{1, 0}, {4, 2}} {
		for _, size := range benchSizes {
			l := benchLayer(b, lt.drives, lt.parity, 0)
			content := randomBytes(size, 1)
			name := fmt.Sprintf("%d+%d", lt.drives-lt.parity, lt.parity)
			b.Run(fmt.Sprintf("put/%s/%s", name, human(size)), func(b *testing.B) {
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					if _, err := l.PutObject(context.Background(), "bench", "key", bytes.NewReader(content), int64(size), objstore.PutOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("get/%s/%s", name, human(size)), func(b *testing.B) {
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					h, err := l.OpenObject(context.Background(), "bench", "key")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := h.WriteRange(context.Background(), io.Discard, 0, int64(size)); err != nil {
						b.Fatal(err)
					}
					h.Close()
				}
			})
		}
	}
}

// BenchmarkInlineLimit measures a put and a get of small objects stored inline in their
// metadata files or in a data directory of their own: the figures behind
// erasureset.DefaultInlineLimit.
func BenchmarkInlineLimit(b *testing.B) {
	for _, size := range []int{16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10} {
		content := randomBytes(size, 1)
		for _, inline := range []bool{true, false} {
			limit := int64(-1)
			if inline {
				limit = 1 << 20
			}
			l := benchLayer(b, 4, 2, limit)
			b.Run(fmt.Sprintf("%s/inline=%v", human(size), inline), func(b *testing.B) {
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					key := fmt.Sprint("k", i%64)
					if _, err := l.PutObject(context.Background(), "bench", key, bytes.NewReader(content), int64(size), objstore.PutOptions{}); err != nil {
						b.Fatal(err)
					}
					h, err := l.OpenObject(context.Background(), "bench", key)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := h.WriteRange(context.Background(), io.Discard, 0, int64(size)); err != nil {
						b.Fatal(err)
					}
					h.Close()
				}
			})
		}
	}
}

func human(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	default:
		return fmt.Sprintf("%dKiB", n>>10)
	}
}
