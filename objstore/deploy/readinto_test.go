package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// TestReadIntoDamagedShards reads an object of 4 drives (2+2) with ReadInto, which reads
// intact data blocks straight into the caller's buffer, while one drive's shard file has a
// corrupt byte in every stripe's block, for each drive in turn (so at least two of the runs
// damage a data shard, whose blocks the fast path reads in place), then with one shard file
// corrupt and another one gone: every byte read back is the object's, in windows as the
// mount's readahead reads and in ranges whose ends fall inside, on and beside block edges.
func TestReadIntoDamagedShards(t *testing.T) {
	dir := t.TempDir()
	d, err := deploy.Open(context.Background(), deploy.Config{Drives: []string{filepath.Join(dir, "d{1...4}")}, Parity: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx := context.Background()
	if err := d.MakeBucket(ctx, "rot", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const size = 5<<20 + 12345 // five full 1 MiB stripes and a short one
	content := randomBytes(size, 8)
	if _, err := d.PutObject(ctx, "rot", "obj", bytes.NewReader(content), size, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	shardFile := func(drive int) string {
		files, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("d%d", drive), "rot", "*", "*", "part.1"))
		if err != nil || len(files) != 1 {
			t.Fatalf("shard files of the object on d%d: %v (%v), want one", drive, files, err)
		}
		return files[0]
	}
	original := map[int][]byte{}
	for drive := 1; drive <= 4; drive++ {
		b, err := os.ReadFile(shardFile(drive))
		if err != nil {
			t.Fatal(err)
		}
		original[drive] = b
	}
	restore := func() {
		for drive, b := range original {
			if err := os.WriteFile(shardFile(drive), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const framed = 16 + 1<<19 // an XXH3 checksum and a 512 KiB block per stripe
	corrupt := func(drive int) {
		b := bytes.Clone(original[drive])
		for off := 16 + 100; off < len(b); off += framed {
			b[off] ^= 0xff
		}
		if err := os.WriteFile(shardFile(drive), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string) {
		t.Helper()
		h, err := d.OpenObject(ctx, "rot", "obj")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		br, ok := h.(objstore.BufferReader)
		if !ok {
			t.Fatal("the handle has no ReadInto")
		}
		got := make([]byte, size)
		for off := int64(0); off < size; off += 4 << 20 {
			if _, err := br.ReadInto(ctx, got[off:min(off+4<<20, size)], off); err != nil {
				t.Fatalf("%s: ReadInto at %d: %v", name, off, err)
			}
		}
		if !bytes.Equal(got, content) {
			t.Fatalf("%s: the windows read differ from the object", name)
		}
		const half = 1 << 19
		for _, r := range [][2]int64{{0, 1}, {half - 1, half + 1}, {half, 3 * half}, {1, size - 1}, {3*half + 7, 5<<20 + 1}, {size - 3, size}} {
			p := make([]byte, r[1]-r[0])
			if _, err := br.ReadInto(ctx, p, r[0]); err != nil || !bytes.Equal(p, content[r[0]:r[1]]) {
				t.Fatalf("%s: ReadInto [%d,%d): %v, bytes equal %v", name, r[0], r[1], err, bytes.Equal(p, content[r[0]:r[1]]))
			}
		}
		if _, err := br.ReadInto(ctx, make([]byte, 2), size-1); !errors.Is(err, objstore.ErrInvalidRange) {
			t.Fatalf("%s: ReadInto past the end: %v, want ErrInvalidRange", name, err)
		}
	}
	check("intact")
	for drive := 1; drive <= 4; drive++ {
		corrupt(drive)
		check(fmt.Sprintf("d%d corrupt", drive))
		restore()
	}
	corrupt(1)
	if err := os.Remove(shardFile(2)); err != nil {
		t.Fatal(err)
	}
	check("d1 corrupt, d2's shard file gone")
}
