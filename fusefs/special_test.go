package fusefs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"golang.org/x/sys/unix"
)

// The tests in this file check the special files of the mount (fifos, unix sockets,
// character and block devices): made with real syscalls, used through the kernel, stored
// as empty objects with s3fs's mode and rdev metadata.

// devNull is the device number of /dev/null, which the tests make nodes of: opening one
// reaches a harmless device.
var devNull = unix.Mkdev(1, 3)

func TestSpecialFiles(t *testing.T) {
	forLayouts(t, func(t *testing.T, l objstore.ObjectLayer, dir string) {
		t.Run("fifo passes data", func(t *testing.T) {
			p := filepath.Join(dir, "fifo")
			must(t, "mkfifo", syscall.Mkfifo(p, 0o640))
			st := statOf(t, p)
			if st.Mode != syscall.S_IFIFO|0o640 || st.Size != 0 || st.Nlink != 1 {
				t.Fatalf("stat of the fifo: mode %o size %d nlink %d", st.Mode, st.Size, st.Nlink)
			}
			// The kernel's fifo rules, not the mount's: no reader, no non-blocking writer.
			_, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			wantErrno(t, "non-blocking open for writing without a reader", err, syscall.ENXIO)
			data := pattern(200<<10, 7) // more than a pipe holds: the ends must take turns
			if got := throughFifo(t, p, data); !bytes.Equal(got, data) {
				t.Fatalf("the fifo passed %d bytes, not the %d written", len(got), len(data))
			}
			checkSpecialObject(t, l, "fifo", st)
			// Opened for reading and writing (which never blocks), it is its own pipe.
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, "open the fifo O_RDWR", err)
			defer f.Close()
			_, err = f.Write([]byte("loop"))
			must(t, "write", err)
			got := make([]byte, 4)
			if _, err := io.ReadFull(f, got); err != nil || string(got) != "loop" {
				t.Fatalf("read back through an O_RDWR fifo: %q, %v", got, err)
			}
		})
		t.Run("devices", func(t *testing.T) {
			chr, blk := filepath.Join(dir, "null"), filepath.Join(dir, "loop")
			must(t, "mknod c", syscall.Mknod(chr, syscall.S_IFCHR|0o666, int(devNull)))
			must(t, "mknod b", syscall.Mknod(blk, syscall.S_IFBLK|0o600, int(unix.Mkdev(7, 1234))))
			st := statOf(t, chr)
			if st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != devNull {
				t.Fatalf("stat of the character device: mode %o rdev %x", st.Mode, st.Rdev)
			}
			checkSpecialObject(t, l, "null", st)
			st = statOf(t, blk)
			if st.Mode != syscall.S_IFBLK|0o600 || unix.Major(st.Rdev) != 7 || unix.Minor(st.Rdev) != 1234 {
				t.Fatalf("stat of the block device: mode %o rdev %d,%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
			}
			checkSpecialObject(t, l, "loop", st)
			// The mount is nodev (Options.Devices off): the kernel refuses the open.
			_, err := os.OpenFile(chr, os.O_WRONLY, 0)
			wantErrno(t, "open of a device on a nodev mount", err, syscall.EACCES)
		})
		t.Run("unix socket", func(t *testing.T) {
			p := filepath.Join(dir, "sock")
			echoThroughSocket(t, p)
			st := statOf(t, p)
			if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
				t.Fatalf("stat of the socket: mode %o", st.Mode)
			}
			checkSpecialObject(t, l, "sock", st)
			_, err := os.OpenFile(p, os.O_RDWR, 0)
			wantErrno(t, "open of a socket", err, syscall.ENXIO)
		})
		t.Run("listing", func(t *testing.T) {
			want := map[string]os.FileMode{"fifo": os.ModeNamedPipe, "null": os.ModeDevice | os.ModeCharDevice,
				"loop": os.ModeDevice, "sock": os.ModeSocket}
			ents, err := os.ReadDir(dir)
			must(t, "readdir", err)
			for _, e := range ents {
				if m, ok := want[e.Name()]; ok && e.Type() != m {
					t.Errorf("readdir: %s has type %v, want %v", e.Name(), e.Type(), m)
				}
				delete(want, e.Name())
			}
			if len(want) > 0 {
				t.Fatalf("readdir misses %v", want)
			}
		})
		t.Run("attribute changes, rename, unlink", func(t *testing.T) {
			for _, name := range []string{"fifo", "null", "sock"} {
				p := filepath.Join(dir, name)
				before := statOf(t, p)
				must(t, "chmod", os.Chmod(p, 0o604))
				must(t, "chown", os.Lchown(p, 1234, 5678))
				mtime := time.Unix(1_600_000_000, 5000)
				must(t, "utimens", os.Chtimes(p, mtime, mtime))
				wantErrno(t, "truncate of "+name, os.Truncate(p, 0), syscall.EINVAL)
				moved := p + "-moved"
				must(t, "rename", os.Rename(p, moved))
				st := statOf(t, moved)
				if st.Mode != before.Mode&syscall.S_IFMT|0o604 || st.Uid != 1234 || st.Gid != 5678 ||
					st.Rdev != before.Rdev || time.Unix(st.Mtim.Unix()) != mtime {
					t.Fatalf("%s after chmod, chown, utimens, rename: mode %o owner %d:%d rdev %x mtime %v",
						name, st.Mode, st.Uid, st.Gid, st.Rdev, time.Unix(st.Mtim.Unix()))
				}
				checkSpecialObject(t, l, name+"-moved", st)
				must(t, "unlink", os.Remove(moved))
				if _, err := os.Lstat(moved); !errors.Is(err, syscall.ENOENT) {
					t.Fatalf("%s after unlink: %v", name, err)
				}
				if _, err := l.StatObject(context.Background(), testBucket, name+"-moved"); !errors.Is(err, objstore.ErrObjectNotFound) {
					t.Fatalf("the object of %s after unlink: %v", name, err)
				}
			}
		})
	})
}

// TestSpecialFromS3 checks that objects which carry s3fs's special-file metadata (as s3fs
// writes them) show as those files, and that a device number the kernel cannot carry is
// not shown as another device.
func TestSpecialFromS3(t *testing.T) {
	l, dir := setup(t, 1)
	itoa := func(v uint64) string { return strconv.FormatUint(v, 10) }
	putObject(t, l, "s3fs-fifo", nil, map[string]string{metaMode: itoa(syscall.S_IFIFO | 0o600), metaUID: "7", metaGID: "8"})
	putObject(t, l, "s3fs-tty", nil, map[string]string{metaMode: itoa(syscall.S_IFCHR | 0o620), metaRdev: itoa(unix.Mkdev(4, 1))})
	putObject(t, l, "huge-major", nil, map[string]string{metaMode: itoa(syscall.S_IFBLK | 0o600), metaRdev: itoa(unix.Mkdev(5000, 1))})
	if st := statOf(t, filepath.Join(dir, "s3fs-fifo")); st.Mode != syscall.S_IFIFO|0o600 || st.Uid != 7 || st.Gid != 8 {
		t.Fatalf("s3fs's fifo: mode %o owner %d:%d", st.Mode, st.Uid, st.Gid)
	}
	if st := statOf(t, filepath.Join(dir, "s3fs-tty")); st.Mode != syscall.S_IFCHR|0o620 || st.Rdev != unix.Mkdev(4, 1) {
		t.Fatalf("s3fs's device: mode %o rdev %x", st.Mode, st.Rdev)
	}
	if st := statOf(t, filepath.Join(dir, "huge-major")); st.Mode != syscall.S_IFBLK|0o600 || st.Rdev != 0 {
		t.Fatalf("a device of major 5000: mode %o rdev %x, want rdev 0", st.Mode, st.Rdev)
	}
}

// TestSpecialDevicesOpen opens a device node through a mount made with Options.Devices:
// the kernel's driver answers (here /dev/null's), and the mount is never asked for content.
func TestSpecialDevicesOpen(t *testing.T) {
	l := newLayer(t, 1)
	must(t, "MakeBucket", l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	dir := filepath.Join(mountLayer(t, l, Options{Devices: true}), testBucket)
	p := filepath.Join(dir, "null")
	must(t, "mknod", syscall.Mknod(p, syscall.S_IFCHR|0o666, int(devNull)))
	must(t, "write to the device", os.WriteFile(p, []byte("into the void"), 0))
	got, err := os.ReadFile(p)
	if err != nil || len(got) != 0 {
		t.Fatalf("read of the device: %q, %v", got, err)
	}
	if st := statOf(t, p); st.Size != 0 || st.Rdev != devNull {
		t.Fatalf("the device after the write: size %d rdev %x", st.Size, st.Rdev)
	}
}

// TestSpecialMknodAsUser runs mknod and mkfifo as another user: a device is EPERM, as on
// ext4 (the kernel wants CAP_MKNOD); a fifo is made and owned by that user.
func TestSpecialMknodAsUser(t *testing.T) {
	_, dir := setupShared(t)
	shared := filepath.Join(dir, "shared")
	must(t, "mkdir", os.Mkdir(shared, 0o777))
	must(t, "chmod shared", os.Chmod(shared, 0o777))
	const nobody = 65534
	asNobody := func(tool string, args ...string) (string, error) {
		return asUserErr(nobody, nobody, requireTool(t, tool), args...)
	}
	out, err := asNobody("mknod", filepath.Join(shared, "dev"), "c", "1", "3")
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Fatalf("mknod of a device as nobody: %v %s (want EPERM)", err, out)
	}
	if _, err := os.Lstat(filepath.Join(shared, "dev")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("the refused device exists: %v", err)
	}
	if out, err := asNobody("mkfifo", filepath.Join(shared, "fifo")); err != nil {
		t.Fatalf("mkfifo as nobody: %v %s", err, out)
	}
	if st := statOf(t, filepath.Join(shared, "fifo")); st.Mode&syscall.S_IFMT != syscall.S_IFIFO || st.Uid != nobody || st.Gid != nobody {
		t.Fatalf("nobody's fifo: mode %o owner %d:%d", st.Mode, st.Uid, st.Gid)
	}
}

// TestSpecialRemount makes special files, stops the mount and the object layer, opens the
// drives again and mounts them at the same place: the files are there as they were.
func TestSpecialRemount(t *testing.T) {
	dir, remount := remountable(t)
	must(t, "mkdir", os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(t, "mkfifo", syscall.Mkfifo(filepath.Join(dir, "sub", "fifo"), 0o620))
	must(t, "chown", os.Lchown(filepath.Join(dir, "sub", "fifo"), 42, 43))
	must(t, "mknod", syscall.Mknod(filepath.Join(dir, "blk"), syscall.S_IFBLK|0o640, int(unix.Mkdev(8, 16))))
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	must(t, "listen", err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	must(t, "close listener", ln.Close())
	names := []string{"sub/fifo", "blk", "sock"}
	before := map[string]syscall.Stat_t{}
	for _, n := range names {
		before[n] = statOf(t, filepath.Join(dir, n))
	}
	remount()
	for _, n := range names {
		a, b := before[n], statOf(t, filepath.Join(dir, n))
		if a.Mode != b.Mode || a.Rdev != b.Rdev || a.Uid != b.Uid || a.Gid != b.Gid || a.Mtim != b.Mtim {
			t.Errorf("%s after the remount: mode %o rdev %x owner %d:%d mtime %v; before: %o %x %d:%d %v",
				n, b.Mode, b.Rdev, b.Uid, b.Gid, b.Mtim, a.Mode, a.Rdev, a.Uid, a.Gid, a.Mtim)
		}
	}
	if st := before["sub/fifo"]; st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		t.Fatalf("the fifo before the remount: mode %o", st.Mode)
	}
}

// throughFifo writes data into the fifo at p from one goroutine and reads it from another,
// and returns what was read. Should the data not arrive within a minute, the test fails,
// and the blocked ends are released by opening the fifo for reading and writing at once.
func throughFifo(t *testing.T, p string, data []byte) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	read, wrote := make(chan result, 1), make(chan error, 1)
	go func() {
		f, err := os.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			read <- result{err: err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		read <- result{b, err}
	}()
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			wrote <- err
			return
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		wrote <- err
	}()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	var got []byte
	for pending := 2; pending > 0; pending-- {
		select {
		case err := <-wrote:
			must(t, "write into the fifo", err)
		case r := <-read:
			must(t, "read from the fifo", r.err)
			got = r.b
		case <-timeout.C:
			if f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Fatalf("the fifo passed no data within a minute")
		}
	}
	return got
}

// echoThroughSocket binds a unix socket at p, and checks that a client connecting to p
// reaches it: the server echoes what the client sends. The socket file stays.
func echoThroughSocket(t *testing.T, p string) {
	t.Helper()
	ln, err := net.Listen("unix", p)
	must(t, "bind a unix socket on the mount", err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	defer ln.Close()
	deadline := time.Now().Add(time.Minute)
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		_, err = io.Copy(c, io.LimitReader(c, 5))
		served <- err
	}()
	c, err := net.Dial("unix", p)
	must(t, "connect through the socket's path", err)
	defer c.Close()
	c.SetDeadline(deadline)
	_, err = c.Write([]byte("hello"))
	must(t, "write to the socket", err)
	got := make([]byte, 5)
	_, err = io.ReadFull(c, got)
	must(t, "read the echo", err)
	if string(got) != "hello" {
		t.Fatalf("echo through the socket: %q", got)
	}
	must(t, "the server's side", <-served)
}

// checkSpecialObject checks the object of a special file as S3 sees it: empty, with the
// file's mode (type bits included), owner and device number as s3fs stores them.
func checkSpecialObject(t *testing.T, l objstore.ObjectLayer, key string, st syscall.Stat_t) {
	t.Helper()
	info, err := l.StatObject(context.Background(), testBucket, key)
	must(t, "StatObject "+key, err)
	md := info.Metadata
	if info.Size != 0 || md[metaMode] != strconv.FormatUint(uint64(st.Mode), 10) ||
		md[metaUID] != strconv.FormatUint(uint64(st.Uid), 10) || md[metaGID] != strconv.FormatUint(uint64(st.Gid), 10) {
		t.Fatalf("object %s: size %d metadata %v; the file: mode %d owner %d:%d", key, info.Size, md, st.Mode, st.Uid, st.Gid)
	}
	if isDevice(st.Mode) && md[metaRdev] != strconv.FormatUint(st.Rdev, 10) {
		t.Fatalf("object %s: rdev %q, want %d", key, md[metaRdev], st.Rdev)
	}
}
