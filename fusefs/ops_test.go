package fusefs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"golang.org/x/sys/unix"
)

// TestWrites covers every way of writing a file, each checked through the mount and then
// through the layer once the file is closed.
func TestWrites(t *testing.T) {
	orig := pattern(300<<10+5, 1) // three stripes and a bit
	cases := []struct {
		name    string
		initial []byte // nil: the file does not exist
		do      func(t *testing.T, p string)
		want    func() []byte
	}{
		{"create and write sequentially", nil, func(t *testing.T, p string) {
			must(t, "write", os.WriteFile(p, orig, 0o644))
		}, func() []byte { return orig }},
		{"create empty", nil, func(t *testing.T, p string) {
			f, err := os.Create(p)
			must(t, "create", err)
			must(t, "close", f.Close())
		}, func() []byte { return []byte{} }},
		{"overwrite in the middle", orig, func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, "open", err)
			_, err = f.WriteAt([]byte("MIDDLE"), 150<<10)
			must(t, "pwrite", err)
			must(t, "close", f.Close())
		}, func() []byte {
			b := bytes.Clone(orig)
			copy(b[150<<10:], "MIDDLE")
			return b
		}},
		{"random writes, backwards, past the end", nil, func(t *testing.T, p string) {
			f, err := os.Create(p)
			must(t, "create", err)
			for i := 9; i >= 0; i-- {
				_, err := f.WriteAt(orig[i*1000:(i+1)*1000], int64(i*1000))
				must(t, "pwrite", err)
			}
			_, err = f.WriteAt([]byte("END"), 20000)
			must(t, "pwrite past end", err)
			must(t, "close", f.Close())
		}, func() []byte {
			b := make([]byte, 20003)
			copy(b, orig[:10000])
			copy(b[20000:], "END")
			return b
		}},
		{"O_APPEND to an existing file", orig, func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			must(t, "open", err)
			_, err = f.Write([]byte("tail"))
			must(t, "append", err)
			must(t, "close", f.Close())
		}, func() []byte { return append(bytes.Clone(orig), "tail"...) }},
		{"O_TRUNC of an existing file", orig, func(t *testing.T, p string) {
			must(t, "write", os.WriteFile(p, []byte("short"), 0o644))
		}, func() []byte { return []byte("short") }},
		{"truncate down by path", orig, func(t *testing.T, p string) {
			must(t, "truncate", os.Truncate(p, 1000))
		}, func() []byte { return orig[:1000] }},
		{"truncate up by path", []byte("abc"), func(t *testing.T, p string) {
			must(t, "truncate", os.Truncate(p, 10))
		}, func() []byte { return []byte("abc\x00\x00\x00\x00\x00\x00\x00") }},
		{"ftruncate to zero then write", orig, func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, "open", err)
			must(t, "ftruncate", f.Truncate(0))
			_, err = f.WriteAt([]byte("new"), 0)
			must(t, "pwrite", err)
			must(t, "close", f.Close())
		}, func() []byte { return []byte("new") }},
		{"read back while writing", nil, func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
			must(t, "create", err)
			_, err = f.Write(orig[:5000])
			must(t, "write", err)
			buf := make([]byte, 5000)
			_, err = f.ReadAt(buf, 0)
			must(t, "read back", err)
			if !bytes.Equal(buf, orig[:5000]) {
				t.Fatal("read back differs")
			}
			_, err = f.Write(orig[5000:6000])
			must(t, "write on", err)
			must(t, "close", f.Close())
		}, func() []byte { return orig[:6000] }},
		{"fallocate extends", []byte("abc"), func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, "open", err)
			must(t, "fallocate", unix.Fallocate(int(f.Fd()), 0, 0, 8))
			must(t, "close", f.Close())
		}, func() []byte { return []byte("abc\x00\x00\x00\x00\x00") }},
		{"two descriptors", nil, func(t *testing.T, p string) {
			a, err := os.Create(p)
			must(t, "create", err)
			b, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, "open second", err)
			_, err = a.Write([]byte("aaaa"))
			must(t, "write a", err)
			_, err = b.WriteAt([]byte("bb"), 1)
			must(t, "write b", err)
			must(t, "close a", a.Close())
			must(t, "close b", b.Close())
		}, func() []byte { return []byte("abba") }},
	}
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := filepath.Join(dir, "w.bin")
				os.Remove(p)
				if c.initial != nil {
					must(t, "initial", os.WriteFile(p, c.initial, 0o644))
				}
				c.do(t, p)
				want := c.want()
				got, err := os.ReadFile(p)
				must(t, "read", err)
				if !bytes.Equal(got, want) {
					t.Fatalf("through the mount: %d bytes, want %d", len(got), len(want))
				}
				if obj, _ := getObject(t, l, "w.bin"); !bytes.Equal(obj, want) {
					t.Fatalf("through the layer: %d bytes, want %d", len(obj), len(want))
				}
			})
		}
	})
}

// TestSequentialWriteStreams checks that a file written sequentially goes to the core as
// it is written, without a staging file, and that only a random write stages.
func TestSequentialWriteStreams(t *testing.T) {
	l := newLayer(t, 4)
	must(t, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	mnt, srv := mountServer(t, l, Options{})
	p := filepath.Join(mnt, testBucket, "stream.bin")
	f, err := os.Create(p)
	must(t, "create", err)
	chunk := pattern(1<<20, 3)
	for i := 0; i < 32; i++ {
		_, err := f.Write(chunk)
		must(t, "write", err)
	}
	must(t, "close", f.Close())
	if n := srv.fsys.stagedFiles.Load(); n != 0 {
		t.Fatalf("a sequential write made %d staging files", n)
	}
	info, err := l.StatObject(context.Background(), testBucket, "stream.bin")
	must(t, "StatObject", err)
	if info.Size != 32<<20 {
		t.Fatalf("size %d", info.Size)
	}
	f, err = os.OpenFile(p, os.O_RDWR, 0)
	must(t, "open", err)
	_, err = f.WriteAt([]byte("x"), 5)
	must(t, "pwrite", err)
	must(t, "close", f.Close())
	if n := srv.fsys.stagedFiles.Load(); n != 1 {
		t.Fatalf("a random write made %d staging files, want 1", n)
	}
}

// TestAttributes covers chmod, chown, utimens, xattrs and symlinks: persisted in the
// object's metadata under s3fs's names, and seen by a second mount of the same layer.
func TestAttributes(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		p := filepath.Join(dir, "attrs.txt")
		must(t, "write", os.WriteFile(p, []byte("x"), 0o644))
		must(t, "chmod", os.Chmod(p, 0o751))
		must(t, "chown", os.Chown(p, 1001, 1002))
		mtime := time.Unix(1600000000, 123456789)
		atime := time.Unix(1500000000, 0)
		must(t, "utimens", os.Chtimes(p, atime, mtime))
		must(t, "setxattr", unix.Setxattr(p, "user.color", []byte("blue\x00bin"), 0))
		must(t, "symlink", os.Symlink("attrs.txt", filepath.Join(dir, "link")))
		must(t, "mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o700))
		must(t, "chown dir", os.Chown(filepath.Join(dir, "d"), 7, 8))
		must(t, "setxattr dir", unix.Setxattr(filepath.Join(dir, "d"), "user.dir", []byte("yes"), 0))

		md, err := l.StatObject(context.Background(), testBucket, "attrs.txt")
		must(t, "StatObject", err)
		if md.Metadata[metaMode] != "33257" || md.Metadata[metaUID] != "1001" || md.Metadata[metaGID] != "1002" ||
			md.Metadata[metaMtime] != "1600000000.123456789" || md.Metadata[metaAtime] != "1500000000" {
			t.Fatalf("stored metadata %v", md.Metadata)
		}

		// A second mount of the same layer sees it all.
		mnt2 := mountLayer(t, l, Options{})
		dir2 := filepath.Join(mnt2, testBucket)
		for _, d := range []string{dir, dir2} {
			st := statOf(t, filepath.Join(d, "attrs.txt"))
			if st.Mode != syscall.S_IFREG|0o751 || st.Uid != 1001 || st.Gid != 1002 ||
				st.Mtim.Sec != mtime.Unix() || st.Mtim.Nsec != 123456789 || st.Atim.Sec != atime.Unix() {
				t.Fatalf("%s: stat %+v", d, st)
			}
			buf := make([]byte, 64)
			n, err := unix.Getxattr(filepath.Join(d, "attrs.txt"), "user.color", buf)
			if err != nil || string(buf[:n]) != "blue\x00bin" {
				t.Fatalf("%s: getxattr %q %v", d, buf[:n], err)
			}
			n, err = unix.Listxattr(filepath.Join(d, "attrs.txt"), buf)
			if err != nil || string(buf[:n]) != "user.color\x00" {
				t.Fatalf("%s: listxattr %q %v", d, buf[:n], err)
			}
			if target, err := os.Readlink(filepath.Join(d, "link")); err != nil || target != "attrs.txt" {
				t.Fatalf("%s: readlink %q %v", d, target, err)
			}
			if st := statOf(t, filepath.Join(d, "link")); st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
				t.Fatalf("%s: symlink mode %o", d, st.Mode)
			}
			st = statOf(t, filepath.Join(d, "d"))
			if st.Mode != syscall.S_IFDIR|0o700 || st.Uid != 7 || st.Gid != 8 {
				t.Fatalf("%s: dir stat %+v", d, st)
			}
			n, err = unix.Getxattr(filepath.Join(d, "d"), "user.dir", buf)
			if err != nil || string(buf[:n]) != "yes" {
				t.Fatalf("%s: dir getxattr %q %v", d, buf[:n], err)
			}
		}
		must(t, "removexattr", unix.Removexattr(p, "user.color"))
		if _, err := unix.Getxattr(filepath.Join(dir2, "attrs.txt"), "user.color", nil); err != unix.ENODATA {
			t.Fatalf("removed xattr through the other mount: %v", err)
		}

		// Writing the file makes its mtime now again.
		before := time.Now().Add(-time.Second)
		must(t, "rewrite", os.WriteFile(p, []byte("y"), 0o644))
		if st := statOf(t, p); time.Unix(st.Mtim.Sec, 0).Before(before) {
			t.Fatalf("mtime after a write: %v", time.Unix(st.Mtim.Sec, st.Mtim.Nsec))
		}
	})
}

// TestForeignObjects mounts objects written by S3 clients and by s3fs and rclone.
func TestForeignObjects(t *testing.T) {
	l, dir := setup(t, 1)
	plain := putObject(t, l, "plain.txt", []byte("hello"), nil)
	putObject(t, l, "s3fs.sh", []byte("#!/bin/sh\n"), map[string]string{metaMode: "33261", metaUID: "1000", metaGID: "100", metaMtime: "1600000000"})
	putObject(t, l, "rclone.bin", []byte("r"), map[string]string{metaMtime: "1650000000.25"})
	putObject(t, l, "s3fs-dir/", nil, map[string]string{metaMode: "16832"}) // S_IFDIR|0700
	putObject(t, l, "s3fs-link", []byte("plain.txt"), map[string]string{metaMode: "41471"})
	putObject(t, l, "odd/", nil, map[string]string{metaMode: "garbage", metaUID: "-1", metaMtime: "soon"})
	putObject(t, l, "a//hidden", []byte("h"), nil)

	st := statOf(t, filepath.Join(dir, "plain.txt"))
	if st.Mode != defaultFileMode || st.Uid != uint32(os.Getuid()) || st.Mtim.Sec != plain.ModTime.Unix() || st.Size != 5 {
		t.Fatalf("plain object: %+v", st)
	}
	if st := statOf(t, filepath.Join(dir, "s3fs.sh")); st.Mode != syscall.S_IFREG|0o755 || st.Uid != 1000 || st.Gid != 100 || st.Mtim.Sec != 1600000000 {
		t.Fatalf("s3fs object: %+v", st)
	}
	if st := statOf(t, filepath.Join(dir, "rclone.bin")); st.Mtim.Sec != 1650000000 || st.Mtim.Nsec != 250000000 {
		t.Fatalf("rclone mtime: %+v", st.Mtim)
	}
	if st := statOf(t, filepath.Join(dir, "s3fs-dir")); st.Mode != syscall.S_IFDIR|0o700 {
		t.Fatalf("s3fs directory: %o", st.Mode)
	}
	if target, err := os.Readlink(filepath.Join(dir, "s3fs-link")); err != nil || target != "plain.txt" {
		t.Fatalf("s3fs symlink: %q %v", target, err)
	}
	if st := statOf(t, filepath.Join(dir, "odd")); st.Mode != defaultDirMode {
		t.Fatalf("malformed metadata: %o", st.Mode)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "a"))
	must(t, "readdir", err)
	if len(ents) != 0 {
		t.Fatalf("a key with an empty segment is listed: %v", ents)
	}
}

// TestDirectories covers implicit and explicit directories, the name clash rule, directory
// renames across listing pages, and statfs.
func TestDirectories(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		ctx := context.Background()
		// Implicit directories from keys; a clash of a key with a prefix: the directory wins.
		putObject(t, l, "imp/deep/file", []byte("f"), nil)
		putObject(t, l, "imp/deep", []byte("clash"), nil)
		fi, err := os.Stat(filepath.Join(dir, "imp", "deep"))
		if err != nil || !fi.IsDir() {
			t.Fatalf("clash: %v %v", fi, err)
		}
		ents, err := os.ReadDir(filepath.Join(dir, "imp"))
		must(t, "readdir", err)
		if len(ents) != 1 || !ents[0].IsDir() {
			t.Fatalf("clash listing: %v", ents)
		}
		readIs(t, filepath.Join(dir, "imp", "deep", "file"), "f")

		// An empty directory made by mkdir is a marker; rmdir removes it.
		must(t, "mkdir", os.Mkdir(filepath.Join(dir, "empty"), 0o755))
		if _, err := l.StatObject(ctx, testBucket, "empty/"); err != nil {
			t.Fatalf("marker: %v", err)
		}
		must(t, "rmdir", os.Remove(filepath.Join(dir, "empty")))
		if _, err := os.Stat(filepath.Join(dir, "empty")); !os.IsNotExist(err) {
			t.Fatalf("after rmdir: %v", err)
		}

		// Rename a directory of more files than a listing page, with a subdirectory.
		const n = listPage + 50
		parallel(n, func(i int) {
			if _, err := l.PutObject(ctx, testBucket, "src/"+name(i), bytes.NewReader([]byte(name(i))), -1, objstore.PutOptions{}); err != nil {
				t.Error(err)
			}
		})
		putObject(t, l, "src/sub/inner", []byte("inner"), nil)
		must(t, "mkdir marker", os.Mkdir(filepath.Join(dir, "src", "marked"), 0o700))
		readIs(t, filepath.Join(dir, "src", "sub", "inner"), "inner") // the kernel knows the tree
		must(t, "rename dir", os.Rename(filepath.Join(dir, "src"), filepath.Join(dir, "dst")))
		res, err := l.ListObjects(ctx, testBucket, objstore.ListOptions{Prefix: "src/"})
		must(t, "ListObjects", err)
		if len(res.Objects) != 0 {
			t.Fatalf("%d keys left under the source", len(res.Objects))
		}
		ents, err = os.ReadDir(filepath.Join(dir, "dst"))
		must(t, "readdir", err)
		if len(ents) != n+2 {
			t.Fatalf("renamed directory lists %d entries, want %d", len(ents), n+2)
		}
		readIs(t, filepath.Join(dir, "dst", "sub", "inner"), "inner")
		readIs(t, filepath.Join(dir, "dst", name(n-1)), name(n-1))
		if st := statOf(t, filepath.Join(dir, "dst", "marked")); st.Mode != syscall.S_IFDIR|0o700 {
			t.Fatalf("renamed marker: %o", st.Mode)
		}

		var sfs syscall.Statfs_t
		must(t, "statfs", syscall.Statfs(dir, &sfs))
		info := l.StorageInfo(ctx)
		if sfs.Blocks == 0 || uint64(sfs.Blocks)*uint64(sfs.Bsize) > info.UsableTotal || sfs.Bavail > sfs.Blocks {
			t.Fatalf("statfs %+v against usable %d", sfs, info.UsableTotal)
		}
	})
}

func name(i int) string { return "f" + string(rune('a'+i%26)) + itoa(i) }

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
