package fusefs

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestToolsSpecialFiles copies a tree of special files into the mount with cp -a, tar and
// rsync, and out of it with tar: every fifo, socket and device arrives with its type,
// mode, owner, device number and mtime.
func TestToolsSpecialFiles(t *testing.T) {
	_, dir := setup(t, 4)
	src := specialTree(t, true)
	t.Run("cp -a", func(t *testing.T) {
		dst := filepath.Join(dir, "cp")
		run(t, nil, "cp", "-a", src, dst)
		sameSpecialTree(t, src, dst)
	})
	t.Run("rsync", func(t *testing.T) {
		dst := filepath.Join(dir, "rsync")
		run(t, nil, "rsync", "-a", "--specials", "--devices", src+"/", dst+"/")
		sameSpecialTree(t, src, dst)
	})
	t.Run("tar", func(t *testing.T) {
		// tar does not archive sockets ("socket ignored"): a tree without one.
		tarThrough(t, specialTree(t, false), filepath.Join(dir, "tar"), sameSpecialTree)
	})
}

// specialTree returns a local directory holding a fifo, a character and a block device, a
// regular file and, with sockets, a unix socket, some of them in a subdirectory, with
// owners and times other than the defaults.
func specialTree(t *testing.T, sockets bool) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "special")
	must(t, "mkdir", os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, "mkfifo", syscall.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	must(t, "mkfifo", syscall.Mkfifo(filepath.Join(src, "sub", "fifo2"), 0o600))
	must(t, "mknod c", syscall.Mknod(filepath.Join(src, "null"), syscall.S_IFCHR|0o666, int(devNull)))
	must(t, "mknod b", syscall.Mknod(filepath.Join(src, "sub", "loop"), syscall.S_IFBLK|0o660, int(unix.Mkdev(7, 300))))
	must(t, "file", os.WriteFile(filepath.Join(src, "file"), []byte("content"), 0o644))
	if sockets {
		ln, err := net.Listen("unix", filepath.Join(src, "sock"))
		must(t, "listen", err)
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		must(t, "close listener", ln.Close())
	}
	must(t, "chown", os.Lchown(filepath.Join(src, "fifo"), 1234, 5678))
	must(t, "chown", os.Lchown(filepath.Join(src, "sub", "loop"), 0, 6))
	when := time.Unix(1_500_000_000, 0)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return unix.Lutimes(p, []unix.Timeval{unix.NsecToTimeval(when.UnixNano()), unix.NsecToTimeval(when.UnixNano())})
	})
	must(t, "set times", err)
	return src
}

// sameSpecialTree fails unless a and b hold the same names, and each has the same type,
// mode, owner, device number and (but for directories) mtime in both.
func sameSpecialTree(t *testing.T, a, b string) {
	t.Helper()
	names := map[string]bool{}
	err := filepath.Walk(b, func(p string, _ os.FileInfo, err error) error {
		rel, _ := filepath.Rel(b, p)
		names[rel] = true
		return err
	})
	must(t, "walk "+b, err)
	err = filepath.Walk(a, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		if !names[rel] {
			t.Fatalf("%s is missing in %s", rel, b)
		}
		delete(names, rel)
		sa, sb := statOf(t, p), statOf(t, filepath.Join(b, rel))
		if sa.Mode != sb.Mode || sa.Uid != sb.Uid || sa.Gid != sb.Gid || sa.Rdev != sb.Rdev {
			t.Fatalf("%s: mode %o owner %d:%d rdev %x, want %o %d:%d %x",
				rel, sb.Mode, sb.Uid, sb.Gid, sb.Rdev, sa.Mode, sa.Uid, sa.Gid, sa.Rdev)
		}
		if !fi.IsDir() && sa.Mtim.Sec != sb.Mtim.Sec {
			t.Fatalf("%s: mtime %d, want %d", rel, sb.Mtim.Sec, sa.Mtim.Sec)
		}
		return nil
	})
	must(t, "walk "+a, err)
	if len(names) > 0 {
		t.Fatalf("%s holds more than %s: %v", b, a, names)
	}
}
