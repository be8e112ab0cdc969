package remote_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// pattern is an endless reader of a repeating byte pattern, so the source itself holds no
// shard in memory.
type pattern struct{ off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off * 7 % 251)
		p.off++
	}
	return len(b), nil
}

// A shard is streamed through client, wire and handler: writing 64 MiB allocates a small
// fraction of that on both sides together (client and handler share this process).
func TestCreateFileStreams(t *testing.T) {
	const size = 64 << 20
	c := client(t, serve(t), "d1", secret)
	ctx := context.Background()
	// Warm the connection pool and the drive's buffers, so the measure is the stream's.
	if err := c.CreateFile(ctx, storage.SysVolume, "tmp/warm", 1, bytes.NewReader([]byte{1})); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := c.CreateFile(ctx, storage.SysVolume, "tmp/big", size, io.LimitReader(&pattern{}, size)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("writing %d bytes allocated %d bytes (client and handler)", size, alloc)
	if alloc > size/8 {
		t.Fatalf("writing %d bytes allocated %d bytes: the shard was buffered", size, alloc)
	}
	f, err := c.OpenFile(ctx, storage.SysVolume, "tmp/big")
	if err != nil || f.Size() != size {
		t.Fatalf("OpenFile: %v (size %v)", err, f)
	}
	defer f.Close()
	got := make([]byte, 1<<20)
	want := make([]byte, 1<<20)
	for _, off := range []int64{0, 12345, size - 1<<20} {
		if _, err := f.ReadAt(got, off); err != nil {
			t.Fatalf("ReadAt %d: %v", off, err)
		}
		(&pattern{off: off}).Read(want)
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadAt %d returned other bytes", off)
		}
	}
	// ReadAt across the end: the bytes there, then io.EOF.
	n, err := f.ReadAt(got, size-10)
	if n != 10 || err != io.EOF {
		t.Fatalf("ReadAt across the end = %d, %v; want 10, EOF", n, err)
	}
}

// The remote drive on both transports beside the local drive it serves, in the same run:
// what the wire costs.
func benchDrives(b *testing.B) map[string]storage.Drive {
	d, err := local.Open(b.TempDir(), local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]storage.Drive{
		"local":          d,
		"remote-epoll":   client(b, serveOn(b, epoll), "d1", secret),
		"remote-nethttp": client(b, serveOn(b, nethttp), "d1", secret),
	}
}

var benchNames = []string{"local", "remote-epoll", "remote-nethttp"}

func BenchmarkCreateFile1MiB(b *testing.B) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			c := benchDrives(b)[name]
			data := make([]byte, 1<<20)
			(&pattern{}).Read(data)
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				if err := c.CreateFile(context.Background(), storage.SysVolume, "tmp/b/"+strconv.Itoa(i), int64(len(data)), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadAt1MiB(b *testing.B) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			c := benchDrives(b)[name]
			data := make([]byte, 1<<20)
			(&pattern{}).Read(data)
			if err := c.CreateFile(context.Background(), storage.SysVolume, "tmp/r", int64(len(data)), bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			f, err := c.OpenFile(context.Background(), storage.SysVolume, "tmp/r")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, len(data))
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := f.ReadAt(buf, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBodyMAC is what signing costs each side per MiB of body (HMAC-SHA256).
func BenchmarkBodyMAC1MiB(b *testing.B) {
	data := make([]byte, 1<<20)
	m := hmac.New(sha256.New, secret)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m.Reset()
		m.Write(data)
		m.Sum(nil)
	}
}
