package fusefs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"golang.org/x/sys/unix"
)

// TestFsyncModeWriteCases runs the ways of writing a file that the kernel's caches could
// get wrong in fsync mode (whose close hands small files to the write-behind): tar's
// futimens before close, mmap and msync, O_APPEND, ftruncate with a hole, a reader beside
// the writer, fsync and fdatasync before close, S3 writes against cached and against
// uncommitted files. Each case checks what the mount shows and what the core stores (as
// S3 serves it). They are the cases the kernel's writeback cache was checked against
// (fusefs/BENCHMARKS.md, 5 December: tried, not kept).
func TestFsyncModeWriteCases(t *testing.T) {
	l, dir, _, _ := durabilitySetup(t, DurableFsync)
	shows := func(t *testing.T, key string, want []byte) {
		t.Helper()
		readIs(t, filepath.Join(dir, key), string(want))
	}

	t.Run("times set before close", func(t *testing.T) {
		// GNU tar: several write(2)s, futimens(fd), close.
		p := filepath.Join(dir, "tar-like")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		must(t, "create", err)
		want := pattern(3*10240+100, 3)
		for off := 0; off < len(want); off += 10240 {
			_, err := f.Write(want[off:min(off+10240, len(want))])
			must(t, "write", err)
		}
		mt := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
		ts := unix.NsecToTimespec(mt.UnixNano())
		must(t, "futimens", unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+itoa(int(f.Fd())), []unix.Timespec{ts, ts}, 0))
		must(t, "close", f.Close())
		objectIs(t, l, "tar-like", want)
		_, info := getObject(t, l, "tar-like")
		if got, ok := parseTime(info.Metadata[metaMtime]); !ok || !got.Equal(mt) {
			t.Fatalf("stored mtime %q, want %v", info.Metadata[metaMtime], mt)
		}
		if st := statOf(t, p); time.Unix(st.Mtim.Unix()).UTC() != mt {
			t.Fatalf("mount's mtime %v, want %v", time.Unix(st.Mtim.Unix()).UTC(), mt)
		}
		shows(t, "tar-like", want)
	})

	t.Run("the write's time is the stored time", func(t *testing.T) {
		p := filepath.Join(dir, "plain")
		want := pattern(5000, 4)
		must(t, "write", os.WriteFile(p, want, 0o644))
		objectIs(t, l, "plain", want)
		_, info := getObject(t, l, "plain")
		got, ok := parseTime(info.Metadata[metaMtime])
		if st := statOf(t, p); !ok || !time.Unix(st.Mtim.Unix()).Equal(got) {
			t.Fatalf("mount's mtime %v, stored %q", time.Unix(st.Mtim.Unix()), info.Metadata[metaMtime])
		}
	})

	t.Run("mmap write then msync", func(t *testing.T) {
		p := filepath.Join(dir, "mapped")
		want := pattern(3*4096+10, 5)
		must(t, "write", os.WriteFile(p, want, 0o644))
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		must(t, "open", err)
		defer f.Close()
		m, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		must(t, "mmap", err)
		copy(m[4090:], "through the map")
		copy(want[4090:], "through the map")
		must(t, "msync", unix.Msync(m, unix.MS_SYNC))
		objectIs(t, l, "mapped", want) // msync(MS_SYNC) is an fsync of the range: committed
		copy(m[0:], "again")
		copy(want[0:], "again")
		must(t, "munmap", unix.Munmap(m))
		must(t, "close", f.Close())
		objectIs(t, l, "mapped", want)
		shows(t, "mapped", want)
	})

	t.Run("S3 overwrite of a cached file", func(t *testing.T) {
		p := filepath.Join(dir, "cached")
		must(t, "write", os.WriteFile(p, pattern(30720, 6), 0o644))
		shows(t, "cached", pattern(30720, 6)) // now in the kernel's page and attribute caches
		for _, next := range [][]byte{[]byte("from S3, shorter"), pattern(70000, 7)} {
			putObject(t, l, "cached", next, nil)
			shows(t, "cached", next)
		}
	})

	t.Run("a descriptor opened before an S3 overwrite", func(t *testing.T) {
		// It reads the new version, with its size; a metadata change shows at once.
		p := filepath.Join(dir, "held")
		must(t, "write", os.WriteFile(p, pattern(5000, 11), 0o644))
		f, err := os.Open(p)
		must(t, "open", err)
		defer f.Close()
		buf := make([]byte, 8192)
		n, err := f.ReadAt(buf, 0)
		if n != 5000 {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		var before unix.Stat_t
		must(t, "fstat", unix.Fstat(int(f.Fd()), &before))
		_, err = l.UpdateObjectMetadata(context.Background(), testBucket, "held", objstore.MetadataPatch{Set: map[string]string{metaMode: "0600"}})
		must(t, "UpdateObjectMetadata", err)
		if st := statOf(t, p); st.Mode&0o7777 != 0o600 || st.Ino != before.Ino {
			t.Fatalf("after an S3 chmod: mode %o inode %d (was %d)", st.Mode&0o7777, st.Ino, before.Ino)
		}
		if n, err := f.ReadAt(buf, 0); n != 5000 {
			t.Fatalf("read after an S3 chmod: %d bytes, %v", n, err)
		}
		putObject(t, l, "held", []byte("new"), nil)
		if n, err := f.ReadAt(buf, 0); string(buf[:n]) != "new" || !errors.Is(err, io.EOF) {
			t.Fatalf("read through a descriptor opened before the overwrite: %d bytes %q, %v", n, buf[:n], err)
		}
		var after unix.Stat_t
		must(t, "fstat", unix.Fstat(int(f.Fd()), &after))
		if after.Size != 3 {
			t.Fatalf("fstat of a descriptor opened before the overwrite: size %d, want 3", after.Size)
		}
		shows(t, "held", []byte("new"))
	})

	t.Run("S3 overwrite while the file has uncommitted changes", func(t *testing.T) {
		// The last writer wins: the close commits the mount's content over S3's.
		p := filepath.Join(dir, "dirty")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		must(t, "create", err)
		_, err = f.Write([]byte("from the mount"))
		must(t, "write", err)
		putObject(t, l, "dirty", []byte("from S3, a longer content than the mount's"), nil)
		must(t, "close", f.Close())
		objectIs(t, l, "dirty", []byte("from the mount"))
		shows(t, "dirty", []byte("from the mount"))
	})

	t.Run("O_APPEND", func(t *testing.T) {
		p := filepath.Join(dir, "appended")
		must(t, "write", os.WriteFile(p, []byte("first line\n"), 0o644))
		for _, line := range []string{"second line\n", "third line\n"} {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			must(t, "open", err)
			_, err = f.WriteAt([]byte("ignored offset"), 0) // Go refuses WriteAt with O_APPEND
			if err == nil {
				t.Fatal("WriteAt on an O_APPEND file succeeded")
			}
			_, err = f.Write([]byte(line))
			must(t, "write", err)
			must(t, "close", f.Close())
		}
		want := []byte("first line\nsecond line\nthird line\n")
		objectIs(t, l, "appended", want)
		shows(t, "appended", want)
	})

	t.Run("ftruncate and truncate of a file being written", func(t *testing.T) {
		p := filepath.Join(dir, "truncated")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
		must(t, "create", err)
		want := pattern(20000, 8)
		_, err = f.Write(want)
		must(t, "write", err)
		must(t, "ftruncate", f.Truncate(5000))
		want = want[:5000]
		_, err = f.WriteAt([]byte("after the hole"), 7000)
		must(t, "pwrite", err)
		want = append(want, make([]byte, 2000)...)
		want = append(want, "after the hole"...)
		must(t, "close", f.Close())
		objectIs(t, l, "truncated", want)
		shows(t, "truncated", want)
		must(t, "truncate", os.Truncate(p, 6000))
		objectIs(t, l, "truncated", want[:6000])
		shows(t, "truncated", want[:6000])
	})

	t.Run("a concurrent reader sees what the writer wrote", func(t *testing.T) {
		p := filepath.Join(dir, "shared")
		w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		must(t, "create", err)
		defer w.Close()
		want := pattern(30000, 9)
		_, err = w.Write(want)
		must(t, "write", err)
		got, err := os.ReadFile(p)
		must(t, "read", err)
		if !bytes.Equal(got, want) {
			t.Fatalf("a reader while the writer holds the file: %d bytes, want %d", len(got), len(want))
		}
		must(t, "close", w.Close())
		objectIs(t, l, "shared", want)
	})

	t.Run("fsync and fdatasync commit", func(t *testing.T) {
		for i, sync := range []func(*os.File) error{(*os.File).Sync, func(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }} {
			key := "synced-" + itoa(i)
			f, err := os.OpenFile(filepath.Join(dir, key), os.O_CREATE|os.O_WRONLY, 0o644)
			must(t, "create", err)
			want := pattern(12345, byte(10+i))
			_, err = f.Write(want)
			must(t, "write", err)
			must(t, "sync", sync(f))
			objectIs(t, l, key, want) // before the close
			must(t, "close", f.Close())
		}
	})
}
