package fusefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"golang.org/x/sys/unix"
)

// TestErrno checks the errno of every operation on bad input, on a real mount.
func TestErrno(t *testing.T) {
	l, dir := setup(t, 1)
	mnt := filepath.Dir(dir)
	must(t, "MakeBucket", l.MakeBucket(context.Background(), "other-bucket", objstore.MakeBucketOptions{}))
	must(t, "mkdir", os.MkdirAll(filepath.Join(dir, "full", "sub"), 0o755))
	must(t, "write", os.WriteFile(filepath.Join(dir, "full", "f"), []byte("x"), 0o644))
	must(t, "write", os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644))
	must(t, "mkdir", os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	// A key longer than 1024 bytes: five levels of 250-byte names.
	long := dir
	for i := 0; i < 4; i++ {
		long = filepath.Join(long, strings.Repeat(string(rune('a'+i)), 250))
	}
	must(t, "mkdir long", os.MkdirAll(long, 0o755))
	tooLong := filepath.Join(long, strings.Repeat("e", 250))

	in := func(rel string) string { return filepath.Join(dir, rel) }
	cases := []struct {
		name string
		op   func() error
		want syscall.Errno
	}{
		{"open missing", func() error { _, err := os.Open(in("missing")); return err }, syscall.ENOENT},
		{"stat in missing dir", func() error { _, err := os.Stat(in("nodir/x")); return err }, syscall.ENOENT},
		{"unlink missing", func() error { return syscall.Unlink(in("missing")) }, syscall.ENOENT},
		{"rmdir missing", func() error { return syscall.Rmdir(in("missing")) }, syscall.ENOENT},
		{"mkdir existing dir", func() error { return syscall.Mkdir(in("full"), 0o755) }, syscall.EEXIST},
		{"mkdir over file", func() error { return syscall.Mkdir(in("file"), 0o755) }, syscall.EEXIST},
		{"create O_EXCL existing", func() error {
			_, err := os.OpenFile(in("file"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			return err
		}, syscall.EEXIST},
		{"symlink over file", func() error { return syscall.Symlink("t", in("file")) }, syscall.EEXIST},
		{"rmdir non-empty", func() error { return syscall.Rmdir(in("full")) }, syscall.ENOTEMPTY},
		{"rmdir file", func() error { return syscall.Rmdir(in("file")) }, syscall.ENOTDIR},
		{"unlink dir", func() error { return syscall.Unlink(in("empty")) }, syscall.EISDIR},
		{"rename dir over non-empty dir", func() error { return syscall.Rename(in("empty"), in("full")) }, syscall.ENOTEMPTY},
		{"rename noreplace", func() error {
			return unix.Renameat2(unix.AT_FDCWD, in("full/f"), unix.AT_FDCWD, in("file"), unix.RENAME_NOREPLACE)
		}, syscall.EEXIST},
		{"rename exchange", func() error {
			return unix.Renameat2(unix.AT_FDCWD, in("full/f"), unix.AT_FDCWD, in("file"), unix.RENAME_EXCHANGE)
		}, syscall.EINVAL},
		{"rename across buckets", func() error { return syscall.Rename(in("file"), filepath.Join(mnt, "other-bucket", "file")) }, syscall.EXDEV},
		{"rename a bucket", func() error {
			return syscall.Rename(filepath.Join(mnt, "other-bucket"), filepath.Join(mnt, "renamed-bucket"))
		}, syscall.EROFS},
		{"hard link across buckets", func() error { return syscall.Link(in("file"), filepath.Join(mnt, "other-bucket", "link")) }, syscall.EXDEV},
		{"hard link to a directory", func() error { return syscall.Link(in("empty"), in("link")) }, syscall.EPERM},
		{"hard link onto a file", func() error { return syscall.Link(in("file"), in("full/f")) }, syscall.EEXIST},
		{"hard link to a missing file", func() error { return syscall.Link(in("missing"), in("link")) }, syscall.ENOENT},
		{"mknod over a file", func() error { return syscall.Mknod(in("file"), syscall.S_IFIFO|0o644, 0) }, syscall.EEXIST},
		{"mkfifo in a missing dir", func() error { return syscall.Mkfifo(in("nodir/fifo"), 0o644) }, syscall.ENOENT},
		{"mkfifo below a file", func() error { return syscall.Mkfifo(in("file/fifo"), 0o644) }, syscall.ENOTDIR},
		{"mkfifo name over 255 bytes", func() error { return syscall.Mkfifo(in(strings.Repeat("n", 256)), 0o644) }, syscall.ENAMETOOLONG},
		{"mkfifo key over 1024 bytes", func() error { return syscall.Mkfifo(tooLong, 0o644) }, syscall.ENAMETOOLONG},
		{"mknod of a directory", func() error { return syscall.Mknod(in("nod"), syscall.S_IFDIR|0o755, 0) }, syscall.EPERM},
		{"mkfifo at the root", func() error { return syscall.Mkfifo(filepath.Join(mnt, "fifo"), 0o644) }, syscall.EROFS},
		{"readlink of a file", func() error { _, err := os.Readlink(in("file")); return err }, syscall.EINVAL},
		{"truncate dir", func() error { return syscall.Truncate(in("full"), 0) }, syscall.EISDIR},
		{"key over 1024 bytes", func() error { return os.WriteFile(tooLong, nil, 0o644) }, syscall.ENAMETOOLONG},
		{"dir key over 1024 bytes", func() error { return syscall.Mkdir(filepath.Join(long, strings.Repeat("e", 20)), 0o755) }, syscall.ENAMETOOLONG},
		{"name over 255 bytes", func() error { return os.WriteFile(in(strings.Repeat("n", 256)), nil, 0o644) }, syscall.ENAMETOOLONG},
		{"getxattr missing", func() error { _, err := unix.Getxattr(in("file"), "user.none", nil); return err }, syscall.ENODATA},
		{"setxattr outside user.", func() error { return unix.Setxattr(in("file"), "trusted.x", []byte("v"), 0) }, syscall.ENOTSUP},
		{"setxattr create existing", func() error {
			if err := unix.Setxattr(in("file"), "user.once", []byte("v"), 0); err != nil {
				return err
			}
			return unix.Setxattr(in("file"), "user.once", []byte("v"), unix.XATTR_CREATE)
		}, syscall.EEXIST},
		{"removexattr missing", func() error { return unix.Removexattr(in("file"), "user.none") }, syscall.ENODATA},
		{"root: create file", func() error { return os.WriteFile(filepath.Join(mnt, "file"), nil, 0o644) }, syscall.EROFS},
		{"root: symlink", func() error { return syscall.Symlink("x", filepath.Join(mnt, "link")) }, syscall.EROFS},
		{"root: bad bucket name", func() error { return syscall.Mkdir(filepath.Join(mnt, "Bad_Name"), 0o755) }, syscall.EINVAL},
		{"root: existing bucket", func() error { return syscall.Mkdir(filepath.Join(mnt, "other-bucket"), 0o755) }, syscall.EEXIST},
		{"root: rmdir non-empty bucket", func() error { return syscall.Rmdir(dir) }, syscall.ENOTEMPTY},
		{"root: rmdir missing bucket", func() error { return syscall.Rmdir(filepath.Join(mnt, "no-such-bucket")) }, syscall.ENOENT},
		{"root: chmod", func() error { return os.Chmod(mnt, 0o700) }, syscall.EROFS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrno(t, c.name, c.op(), c.want)
		})
	}
	// An empty bucket goes with rmdir, and comes back with mkdir.
	must(t, "rmdir empty bucket", syscall.Rmdir(filepath.Join(mnt, "other-bucket")))
	if _, err := l.GetBucketInfo(context.Background(), "other-bucket"); !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("bucket after rmdir: %v", err)
	}
	must(t, "mkdir bucket", syscall.Mkdir(filepath.Join(mnt, "made-by-mkdir"), 0o755))
	if _, err := l.GetBucketInfo(context.Background(), "made-by-mkdir"); err != nil {
		t.Fatalf("bucket after mkdir: %v", err)
	}
}

// TestErrnoStorage checks the errno of a full drive (ENOSPC) and of a lost write quorum
// (EIO), on real drives: a small tmpfs, and drives taken away.
func TestErrnoStorage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Run("ENOSPC", func(t *testing.T) {
		// Core gap: a put that fills its drives fails with ErrWriteQuorum, not
		// ErrStorageFull, so the mount can only say EIO.
		fsdir := t.TempDir()
		if err := syscall.Mount("tmpfs", fsdir, "tmpfs", 0, "size=4m"); err != nil {
			t.Skipf("cannot mount a tmpfs: %v", err)
		}
		t.Cleanup(func() { syscall.Unmount(fsdir, syscall.MNT_DETACH) })
		l := layerAt(t, filepath.Join(fsdir, "d1"))
		must(t, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
		dir := filepath.Join(mountLayer(t, l, Options{}), testBucket)
		err := os.WriteFile(filepath.Join(dir, "big"), pattern(8<<20, 1), 0o644)
		wantErrno(t, "writing past the drive's capacity", err, syscall.ENOSPC)
	})
	t.Run("EIO", func(t *testing.T) {
		// Every drive fails its commits once down is set: the write quorum is lost.
		var down atomic.Bool
		d, err := deploy.Open(context.Background(), deploy.Config{
			Drives: []string{filepath.Join(t.TempDir(), "d{1...4}")},
			Parity: -1,
			DriveOptions: local.Options{Failpoint: func(step string) error {
				if down.Load() {
					return errors.New("drive offline")
				}
				return nil
			}},
		})
		must(t, "deploy.Open", err)
		must(t, "MakeBucket", d.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
		dir := filepath.Join(mountLayer(t, d, Options{Debug: os.Getenv("DBG") != ""}), testBucket)
		must(t, "write", os.WriteFile(filepath.Join(dir, "before"), []byte("x"), 0o644))
		down.Store(true)
		err = os.WriteFile(filepath.Join(dir, "after"), pattern(1<<20, 2), 0o644)
		wantErrno(t, "writing without write quorum", err, syscall.EIO)
		err = os.WriteFile(filepath.Join(dir, "before"), []byte("overwrite"), 0o644)
		wantErrno(t, "overwriting without write quorum", err, syscall.EIO)
		down.Store(false)
		readIs(t, filepath.Join(dir, "before"), "x")
	})
}
