package local

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/internal/alignbuf"
	"github.com/flashstor/flashstor/objstore/storage"
)

// residentPages returns how many of the file's pages are in the page cache (mincore over a
// mapping of it), and the file's page count.
func residentPages(t *testing.T, path string) (resident, pages int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		return 0, 0
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	pages = (len(m) + os.Getpagesize() - 1) / os.Getpagesize()
	vec := make([]byte, pages)
	// x/sys/unix has no Mincore wrapper: the system call takes the mapping and a vector of
	// one byte per page, whose low bit says resident.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, pages
}

// TestCreateFileDirect writes files of sizes around the alignment and the ring's buffer
// size, of known and unknown size, under each of CreateFile's syncs, and checks that the
// large ones bypassed the page cache (at most the unaligned tail's page is cached: a
// buffered write leaves every page cached) and read back byte for byte. It runs on the
// test's temporary directory and on a loop-mounted journaled ext4 (root only), where
// a put's shards are left to the commit's journal commit.
func TestCreateFileDirect(t *testing.T) {
	roots := map[string]func(t *testing.T) string{
		"tempdir":        func(t *testing.T) string { return t.TempDir() },
		"journaled-ext4": func(t *testing.T) string { return loopExt4(t) },
	}
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 3*directBufSize+directMinSize+5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	ctxs := map[string]context.Context{
		"sync":           context.Background(),
		"sync-at-commit": storage.WithSyncAtCommit(context.Background()),
		"deferred":       storage.WithDeferredSync(context.Background()),
	}
	for fsName, mk := range roots {
		t.Run(fsName, func(t *testing.T) {
			root := mk(t)
			probe := filepath.Join(root, "probe")
			f, direct, err := openDirect(probe)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if !direct {
				t.Skipf("%s refuses O_DIRECT", root)
			}
			d, err := Open(filepath.Join(root, "d"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			sizes := []int{0, 1, alignbuf.Align - 1, alignbuf.Align, alignbuf.Align + 1,
				directBufSize, directBufSize + 1, directMinSize - 1, directMinSize,
				directMinSize + alignbuf.Align + 7, len(data)}
			for ctxName, ctx := range ctxs {
				for _, n := range sizes {
					for _, known := range []bool{true, false} {
						size := int64(n)
						if !known {
							size = -1
						}
						p := fmt.Sprintf("tmp/direct/%s-%d-%v", ctxName, n, known)
						if err := d.CreateFile(ctx, storage.SysVolume, p, size, iotest.HalfReader(bytes.NewReader(data[:n]))); err != nil {
							t.Fatalf("%s: CreateFile of %d bytes (size %d): %v", ctxName, n, size, err)
						}
						full, _ := d.filePath(storage.SysVolume, p)
						resident, pages := residentPages(t, full)
						if wantDirect(size) && resident > 1 {
							t.Errorf("%s: %d bytes (size %d): %d of %d pages in the page cache after a direct write", ctxName, n, size, resident, pages)
						}
						got, err := d.ReadFile(context.Background(), storage.SysVolume, p)
						if err != nil || !bytes.Equal(got, data[:n]) {
							t.Fatalf("%s: %d bytes (size %d) read back as %d bytes (equal %v), %v", ctxName, n, size, len(got), bytes.Equal(got, data[:n]), err)
						}
					}
				}
			}
		})
	}
}

// TestPwriteDirectFallback checks that a direct write the file system refuses (here a
// buffer that is not aligned: EINVAL) is written through the page cache instead, and that
// O_DIRECT stays off on the descriptor afterwards.
func TestPwriteDirectFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, direct, err := openDirect(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !direct {
		t.Skip("the temporary directory refuses O_DIRECT")
	}
	b := alignbuf.Make(2 * alignbuf.Align)[1 : alignbuf.Align+1]
	for i := range b {
		b[i] = byte(i)
	}
	if err := pwriteFull(int(f.Fd()), b, 0); err != unix.EINVAL {
		t.Fatalf("a direct write from an unaligned buffer: %v, want EINVAL (the test's premise)", err)
	}
	if err := pwriteDirect(int(f.Fd()), b, 0); err != nil {
		t.Fatal(err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_DIRECT != 0 {
		t.Errorf("flags after the fallback %#x (%v): O_DIRECT still set", fl, err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes (equal %v), %v", len(got), bytes.Equal(got, b), err)
	}
}
