package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// TestOwnershipRules checks the ownership, mode and timestamp rules that POSIX conformance
// suites (pjdfstest) check and ext4 keeps, on files, directories and special files, as
// root and as other users: set-id bits cleared by chown and by a write of a non-root user,
// set-group-id dropped by chmod of a non-member, ctime moved by every change of the inode,
// the sticky directory's unlink and rename rules, utimensat's owner rule, the group of
// entries made in a set-group-id directory.
func TestOwnershipRules(t *testing.T) {
	l, dir := setupShared(t)
	const nobody, other = 65534, 12345
	in := func(name string) string { return filepath.Join(dir, name) }
	// setMode makes a file of mode (past the umask), owned by uid:gid.
	setMode := func(t *testing.T, name string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		p := in(name)
		must(t, "chown", os.Lchown(p, uid, gid))
		must(t, "chmod", os.Chmod(p, mode))
		return p
	}
	file := func(t *testing.T, name string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		must(t, "create", os.WriteFile(in(name), []byte("x"), 0o600))
		return setMode(t, name, mode, uid, gid)
	}
	// modeOf returns the permission bits of p, and checks that its object stores them.
	modeOf := func(t *testing.T, p string) uint32 {
		t.Helper()
		st := statOf(t, p)
		key := p[len(dir)+1:]
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			key += "/"
		}
		m := st.Mode & 0o7777
		if stored := storedAttrs(t, l, key); stored.mode&0o7777 != m {
			t.Errorf("%s shows mode %o, its object stores %o", p, m, stored.mode&0o7777)
		}
		return m
	}

	t.Run("chown by root clears set-id bits of files", func(t *testing.T) {
		for _, c := range []struct {
			name string
			mode os.FileMode
			make func(string) error
			want uint32
		}{
			{"file", 0o755 | os.ModeSetuid | os.ModeSetgid, nil, 0o755},
			// Set-group-id without group execute is mandatory locking, not a set-id bit.
			{"file-g-x", 0o745 | os.ModeSetuid | os.ModeSetgid, nil, 0o2745},
			{"fifo", 0o755 | os.ModeSetuid | os.ModeSetgid, func(p string) error { return syscall.Mkfifo(p, 0o600) }, 0o755},
		} {
			p := in("chown-" + c.name)
			if c.make == nil {
				must(t, "create", os.WriteFile(p, []byte("x"), 0o600))
			} else {
				must(t, "mknod", c.make(p))
			}
			must(t, "chmod", os.Chmod(p, c.mode))
			must(t, "chown", os.Lchown(p, nobody, nobody))
			if m := modeOf(t, p); m != c.want {
				t.Errorf("%s: mode %o after chown, want %o", c.name, m, c.want)
			}
		}
		// A directory keeps them.
		must(t, "mkdir", os.Mkdir(in("chown-dir"), 0o700))
		setMode(t, "chown-dir", 0o755|os.ModeSetgid, 0, 0)
		must(t, "chown", os.Lchown(in("chown-dir"), nobody, nobody))
		if m := modeOf(t, in("chown-dir")); m != 0o2755 {
			t.Errorf("directory: mode %o after chown, want 2755", m)
		}
	})

	t.Run("write clears set-id bits unless by root", func(t *testing.T) {
		p := file(t, "suid-nobody", 0o777|os.ModeSetuid|os.ModeSetgid, nobody, nobody)
		asUser(t, nobody, nobody, "sh", "-c", "echo more >> "+p)
		if m := modeOf(t, p); m != 0o777 {
			t.Errorf("after a write by its owner (not root): mode %o, want 777", m)
		}
		p = file(t, "suid-root", 0o777|os.ModeSetuid|os.ModeSetgid, nobody, nobody)
		must(t, "append", appendFile(p, "more"))
		if m := modeOf(t, p); m != 0o6777 {
			t.Errorf("after a write by root: mode %o, want 6777", m)
		}
	})

	// The mount drops the bits itself (CAP_HANDLE_KILLPRIV_V2): the kernel flags the
	// open with O_TRUNC, the truncate and the write of a caller without CAP_FSETID.
	t.Run("truncate clears set-id bits unless by root", func(t *testing.T) {
		for _, c := range []struct {
			name string
			mode os.FileMode
			op   func(p string)
			want uint32
		}{
			{"trunc-open", 0o777, func(p string) { asUser(t, nobody, nobody, "sh", "-c", ": > "+p) }, 0o777},
			{"trunc-path", 0o777, func(p string) { asUser(t, nobody, nobody, "truncate", "-s", "0", p) }, 0o777},
			// Set-group-id without group execute is mandatory locking: it stays.
			{"trunc-g-x", 0o745, func(p string) { asUser(t, nobody, nobody, "sh", "-c", ": > "+p) }, 0o2745},
			{"trunc-root", 0o777, func(p string) { must(t, "truncate", os.Truncate(p, 0)) }, 0o6777},
		} {
			p := file(t, c.name, c.mode|os.ModeSetuid|os.ModeSetgid, nobody, nobody)
			c.op(p)
			if m := modeOf(t, p); m != c.want {
				t.Errorf("%s: mode %o after the truncate, want %o", c.name, m, c.want)
			}
		}
	})

	t.Run("chmod g+s by a non-member drops it", func(t *testing.T) {
		p := file(t, "sgid", 0o644, nobody, 0)
		asUser(t, nobody, nobody, "chmod", "2755", p)
		if m := modeOf(t, p); m != 0o755 {
			t.Errorf("chmod 2755 by the owner outside the file's group: mode %o, want 755", m)
		}
	})

	t.Run("set-group-id directory", func(t *testing.T) {
		must(t, "mkdir", os.Mkdir(in("project"), 0o700))
		setMode(t, "project", 0o777|os.ModeSetgid, 0, 1234)
		asUser(t, nobody, nobody, "touch", in("project/file"))
		asUser(t, nobody, nobody, "mkdir", in("project/sub"))
		asUser(t, nobody, nobody, "mkfifo", in("project/fifo"))
		asUser(t, nobody, nobody, "ln", "-s", "file", in("project/link"))
		for _, n := range []string{"file", "sub", "fifo", "link"} {
			p := in("project/" + n)
			st := statOf(t, p)
			if st.Uid != nobody || st.Gid != 1234 {
				t.Errorf("%s made by nobody in a set-group-id directory: owner %d:%d, want %d:1234", n, st.Uid, st.Gid, nobody)
			}
			if n != "link" {
				modeOf(t, p) // its object stores what it shows
			}
		}
		if m := modeOf(t, in("project/sub")); m&0o2000 == 0 {
			t.Errorf("a subdirectory of a set-group-id directory: mode %o, want the bit", m)
		}
	})

	t.Run("ctime moves on every inode change", func(t *testing.T) {
		p, fifo, dirp := file(t, "ctime", 0o666, 0, 0), in("ctime-fifo"), in("ctime-dir")
		must(t, "mkfifo", syscall.Mkfifo(fifo, 0o666))
		must(t, "mkdir", os.Mkdir(dirp, 0o755))
		must(t, "create in the directory", os.WriteFile(filepath.Join(dirp, "f"), nil, 0o644))
		// Each step changes the inode at *path (rename moves p).
		steps := []struct {
			what string
			path *string
			op   func() error
		}{
			{"chmod", &p, func() error { return os.Chmod(p, 0o644) }},
			{"chown", &p, func() error { return os.Lchown(p, nobody, nobody) }},
			{"utimensat", &p, func() error { return os.Chtimes(p, time.Unix(1e9, 0), time.Unix(1e9, 0)) }},
			{"write", &p, func() error { return appendFile(p, "y") }},
			{"truncate", &p, func() error { return os.Truncate(p, 0) }},
			{"rename", &p, func() error { old := p; p += "2"; return os.Rename(old, p) }},
			{"chmod after a rename", &p, func() error { return os.Chmod(p, 0o640) }},
			{"chmod of a fifo", &fifo, func() error { return os.Chmod(fifo, 0o600) }},
			{"chown of a fifo", &fifo, func() error { return os.Lchown(fifo, nobody, nobody) }},
			{"rename of a fifo", &fifo, func() error { old := fifo; fifo += "2"; return os.Rename(old, fifo) }},
			{"chmod of a directory", &dirp, func() error { return os.Chmod(dirp, 0o700) }},
			{"rename of a directory", &dirp, func() error { old := dirp; dirp += "2"; return os.Rename(old, dirp) }},
		}
		for _, s := range steps {
			st := statOf(t, *s.path)
			before := time.Unix(st.Ctim.Unix())
			waitPast(t, before)
			must(t, s.what, s.op())
			st = statOf(t, *s.path)
			after := time.Unix(st.Ctim.Unix())
			if !after.After(before) {
				t.Errorf("%s: ctime %v, not after %v", s.what, after, before)
			}
			key := (*s.path)[len(dir)+1:]
			if *s.path == dirp {
				key += "/"
			}
			// A file's ctime from a rename is stored with its next metadata update.
			if s.what == "rename" || s.what == "rename of a fifo" {
				continue
			}
			if stored := storedAttrs(t, l, key); !stored.ctime.Equal(after) {
				t.Errorf("%s: ctime %v, its object stores %v", s.what, after, stored.ctime)
			}
		}
	})

	t.Run("sticky directory", func(t *testing.T) {
		must(t, "mkdir", os.Mkdir(in("tmp"), 0o700))
		setMode(t, "tmp", 0o777|os.ModeSticky, 0, 0)
		for _, n := range []string{"a", "b", "c"} {
			asUser(t, nobody, nobody, "touch", in("tmp/"+n))
		}
		must(t, "mkfifo", syscall.Mkfifo(in("tmp/fifo"), 0o666))
		must(t, "chown", os.Lchown(in("tmp/fifo"), nobody, nobody))
		for _, c := range []struct{ what, cmd string }{
			{"unlink of another's file", "rm -f " + in("tmp/a")},
			{"unlink of another's fifo", "rm -f " + in("tmp/fifo")},
			{"rename of another's file", "mv " + in("tmp/a") + " " + in("tmp/mine")},
			{"rename over another's file", "touch " + in("tmp/x") + " && mv -f " + in("tmp/x") + " " + in("tmp/b")},
		} {
			if out, err := asUserErr(other, other, "sh", "-c", c.cmd); err == nil || !strings.Contains(out, "not permitted") {
				t.Errorf("%s in a sticky directory by a third user: %v %s (want EPERM)", c.what, err, out)
			}
		}
		asUser(t, nobody, nobody, "rm", in("tmp/a")) // its owner
		asUser(t, nobody, nobody, "mv", in("tmp/fifo"), in("tmp/fifo2"))
		must(t, "unlink by root", os.Remove(in("tmp/b"))) // root
	})

	t.Run("utimensat rules", func(t *testing.T) {
		p := file(t, "times", 0o666, 0, 0)
		// Write access lets anyone set both times to now ...
		asUser(t, nobody, nobody, "touch", p)
		// ... but only the owner set them to a given time.
		if out, err := asUserErr(nobody, nobody, "touch", "-d", "2001-01-01", p); err == nil || !strings.Contains(out, "not permitted") {
			t.Errorf("touch -d of root's file by nobody: %v %s (want EPERM)", err, out)
		}
		p = file(t, "times-ro", 0o644, 0, 0)
		if out, err := asUserErr(nobody, nobody, "touch", p); err == nil || !strings.Contains(out, "ermission denied") {
			t.Errorf("touch of a file nobody cannot write: %v %s (want EACCES)", err, out)
		}
	})
}

// storedAttrs returns the attributes that the object at key stores.
func storedAttrs(t *testing.T, l objstore.ObjectLayer, key string) attrs {
	t.Helper()
	info, err := l.StatObject(context.Background(), testBucket, key)
	must(t, "StatObject "+key, err)
	return attrsFromInfo(info, strings.HasSuffix(key, "/"), owner{})
}

// waitPast waits until the clock is past t (at most a second), so that a change made now
// gets a later time than t.
func waitPast(t *testing.T, ts time.Time) {
	t.Helper()
	for i := 0; i < 100 && !time.Now().After(ts); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}
