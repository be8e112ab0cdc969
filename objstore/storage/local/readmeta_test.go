package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// openNUL takes only a path with its terminator and no NUL inside: the kernel would stop
// at an inner NUL and open another file than the one named.
func TestOpenNULRefusesMalformedPaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := []byte(filepath.Join(dir, "f") + "\x00")
	fd, err := openNUL(good, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		t.Fatalf("openNUL(%q): %v", good, err)
	}
	unix.Close(fd)
	for _, p := range []string{"", dir + "/f", dir + "\x00/f\x00"} {
		if fd, err := openNUL([]byte(p), unix.O_RDONLY|unix.O_CLOEXEC); !errors.Is(err, unix.EINVAL) {
			if err == nil {
				unix.Close(fd)
			}
			t.Errorf("openNUL(%q) = %v, want EINVAL", p, err)
		}
	}
	if _, err := openNUL([]byte(filepath.Join(dir, "missing")+"\x00"), unix.O_RDONLY); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// ReadMeta reads a metadata file the way a GET does on every drive: its path costs no
// allocation once the drive's path buffers are warm, only the returned bytes do (checked
// without the race detector, which makes sync.Pool drop items).
func TestReadMetaReadsWithOneAllocation(t *testing.T) {
	d, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.MakeVolume(ctx, "bucket"); err != nil {
		t.Fatal(err)
	}
	p, err := d.objectPath("bucket", "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("metadata"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := d.ReadMeta(ctx, "bucket", "a/b"); err != nil || string(b) != "metadata" {
		t.Fatalf("ReadMeta = %q, %v", b, err)
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { d.ReadMeta(ctx, "bucket", "a/b") }); n != 1 {
		t.Fatalf("ReadMeta allocates %v times, want 1 (the bytes it returns)", n)
	}
}
