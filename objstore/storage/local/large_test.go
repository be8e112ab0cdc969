package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// oddReader returns its bytes in reads of random lengths, as a network body does, and err
// (io.EOF when nil) after them.
type oddReader struct {
	b   []byte
	rng *rand.Rand
	err error
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+r.rng.IntN(300_000))], r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestCreateFileLarge writes files of several full 1 MiB copy buffers (each one's disk
// write started at once with sync_file_range) and a partial last one, of known and unknown
// size, and reads them back byte for byte; a body that fails or runs long after several
// buffers must leave no file. It runs on the test's temporary directory and, when there is
// one, on /dev/shm (tmpfs, which may not do sync_file_range's writeback).
func TestCreateFileLarge(t *testing.T) {
	roots := []string{t.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "flashstor-direct-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			roots = append(roots, dir)
		}
	}
	const mib = 1 << 20
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 9*mib+4099)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	ctx := context.Background()
	for _, root := range roots {
		d, err := local.Open(root, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{4*mib - 1, 4 * mib, 4*mib + 1, 5 * mib, 9*mib + 4099} {
			for _, known := range []bool{true, false} {
				size := int64(n)
				if !known {
					size = -1
				}
				p := fmt.Sprintf("tmp/large/%d-%v", n, known)
				if err := d.CreateFile(ctx, storage.SysVolume, p, size, &oddReader{b: data[:n], rng: rng}); err != nil {
					t.Fatalf("%s: CreateFile of %d bytes (size %d): %v", root, n, size, err)
				}
				got, err := d.ReadFile(ctx, storage.SysVolume, p)
				if err != nil || !bytes.Equal(got, data[:n]) {
					t.Fatalf("%s: %d bytes (size %d) read back as %d bytes (equal %v), %v", root, n, size, len(got), bytes.Equal(got, data[:n]), err)
				}
			}
		}
		bad := errors.New("body cut")
		cases := []struct {
			name string
			size int64
			r    io.Reader
			want error
		}{
			{"reader fails after 6 MiB", 8 * mib, &oddReader{b: data[:6*mib], rng: rng, err: bad}, bad},
			{"reader fails after 6 MiB, unknown size", -1, &oddReader{b: data[:6*mib], rng: rng, err: bad}, bad},
			{"5 MiB body for 4 MiB", 4 * mib, &oddReader{b: data[:5*mib], rng: rng}, storage.ErrLongWrite},
			{"5 MiB body for 6 MiB", 6 * mib, &oddReader{b: data[:5*mib], rng: rng}, storage.ErrShortWrite},
		}
		for i, c := range cases {
			p := fmt.Sprintf("tmp/large/bad%d", i)
			err := d.CreateFile(ctx, storage.SysVolume, p, c.size, c.r)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %s: CreateFile = %v, want %v", root, c.name, err, c.want)
			}
			if _, err := d.ReadFile(ctx, storage.SysVolume, p); !errors.Is(err, storage.ErrFileNotFound) {
				t.Errorf("%s: %s: the failed CreateFile left its file (%v)", root, c.name, err)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := d.CreateFile(cctx, storage.SysVolume, "tmp/large/cancelled", 8*mib, bytes.NewReader(data[:8*mib])); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: CreateFile with a cancelled context = %v", root, err)
		}
	}
}
