package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flashstor/flashstor/objstore"
)

// TestReads reads objects larger than the readahead window sequentially, with jumps, and
// from several descriptors at once, and compares every byte.
func TestReads(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		data := pattern(5*raWindow+12345, 4)
		putObject(t, l, "big", data, nil)
		p := filepath.Join(dir, "big")
		dropCaches(t)

		// Sequential, in several read sizes.
		for _, size := range []int{128 << 10, 1 << 20, 3<<20 + 1} {
			f, err := os.Open(p)
			must(t, "open", err)
			got, err := io.ReadAll(io.LimitReader(&sizedReader{f, size}, int64(len(data)+1)))
			f.Close()
			must(t, "read", err)
			if !bytes.Equal(got, data) {
				t.Fatalf("sequential reads of %d bytes differ", size)
			}
			dropCaches(t)
		}

		// Runs of sequential reads with jumps between them, forwards and backwards.
		f, err := os.Open(p)
		must(t, "open", err)
		defer f.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 200<<10)
		for run := 0; run < 12; run++ {
			off := rng.Int64N(int64(len(data)))
			for i := 0; i < 8 && off < int64(len(data)); i++ {
				n, err := f.ReadAt(buf, off)
				if err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
					t.Fatalf("read at %d differs", off)
				}
				off += int64(n)
			}
		}

		// Several descriptors at once.
		dropCaches(t)
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		for r := 0; r < 4; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(got, data) {
					errs <- "a concurrent reader read other bytes"
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}

		// An overwrite through S3 in the middle of a sequential read: the rest is new.
		newer := pattern(len(data), 5)
		g, err := os.Open(p)
		must(t, "open", err)
		defer g.Close()
		head := make([]byte, 6<<20)
		_, err = io.ReadFull(g, head)
		must(t, "read", err)
		putObject(t, l, "big", newer, nil)
		rest, err := io.ReadAll(g)
		must(t, "read rest", err)
		if !bytes.Equal(rest, newer[len(head):]) {
			t.Fatal("after an overwrite, a sequential read goes on in the old version")
		}
	})
}

// sizedReader reads in chunks of at most size bytes.
type sizedReader struct {
	r    io.Reader
	size int
}

func (s *sizedReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.size)]) }

// TestReadsDamagedShards reads a file sequentially through the mount (its readahead, which
// reads intact data blocks straight into its windows) while one drive's shard file has a
// corrupt byte in every stripe's block, for each of the 4 drives (2+2) in turn, so that at
// least two runs damage a data shard; then with one shard file corrupt and another gone.
// Every byte read is the file's.
func TestReadsDamagedShards(t *testing.T) {
	drives := t.TempDir()
	l := layerAt(t, filepath.Join(drives, "d{1...4}"))
	must(t, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	dir := filepath.Join(mountLayer(t, l, Options{}), testBucket)
	data := pattern(2*raWindow+12345, 6)
	putObject(t, l, "big", data, nil)
	shardFile := func(drive int) string {
		files, err := filepath.Glob(filepath.Join(drives, fmt.Sprintf("d%d", drive), testBucket, "*", "*", "part.1"))
		if err != nil || len(files) != 1 {
			t.Fatalf("shard files of the object on d%d: %v (%v), want one", drive, files, err)
		}
		return files[0]
	}
	original := map[int][]byte{}
	for drive := 1; drive <= 4; drive++ {
		b, err := os.ReadFile(shardFile(drive))
		must(t, "read a shard file", err)
		original[drive] = b
	}
	const framed = 16 + 1<<19 // an XXH3 checksum and a 512 KiB block per stripe
	corrupt := func(drive int) {
		b := bytes.Clone(original[drive])
		for off := 16 + 4321; off < len(b); off += framed {
			b[off] ^= 0x5a
		}
		must(t, "corrupt a shard file", os.WriteFile(shardFile(drive), b, 0o644))
	}
	check := func(name string) {
		t.Helper()
		dropCaches(t)
		f, err := os.Open(filepath.Join(dir, "big"))
		must(t, "open", err)
		defer f.Close()
		got, err := io.ReadAll(io.LimitReader(&sizedReader{f, 1 << 20}, int64(len(data)+1)))
		must(t, "read", err)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: the bytes read differ from the file's", name)
		}
	}
	for drive := 1; drive <= 4; drive++ {
		corrupt(drive)
		check(fmt.Sprintf("d%d corrupt", drive))
		must(t, "restore a shard file", os.WriteFile(shardFile(drive), original[drive], 0o644))
	}
	corrupt(3)
	must(t, "remove a shard file", os.Remove(shardFile(4)))
	check("d3 corrupt, d4's shard file gone")
}
