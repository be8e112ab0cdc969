package fusefs

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// TestRulesAgainstLocal is the differential test of the rules a local file system keeps
// (issue 12): random scenarios, each set up alike in a fresh directory of the mount and of
// a local directory, then one operation, as root or as another user. What must agree: the
// errno, the mode and owner after, and whether the ctime and mtime of the file and of the
// directories involved moved. FLASHSTOR_SEED replays a run.
func TestRulesAgainstLocal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs operations as other users")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLASHSTOR_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (FLASHSTOR_SEED replays it)", seed)
	_, mnt := setupShared(t)
	local, err := os.MkdirTemp("", "rules-local-")
	must(t, "local dir", err)
	t.Cleanup(func() { os.RemoveAll(local) })
	must(t, "chmod local", os.Chmod(local, 0o755))
	rng := rand.New(rand.NewPCG(seed, 3))
	n := 120
	if testing.Short() {
		n = 60
	}
	for i := range len(ruleRegressions) + n {
		var sc ruleScenario
		var arg uint64
		if i < len(ruleRegressions) {
			sc, arg = ruleScenarioNamed(t, ruleRegressions[i].name), ruleRegressions[i].arg
		} else {
			sc, arg = ruleScenarios[rng.IntN(len(ruleScenarios))], rng.Uint64()
		}
		var got [2]string
		for k, root := range []string{mnt, local} {
			dir := filepath.Join(root, fmt.Sprintf("s%03d", i))
			must(t, "mkdir", os.Mkdir(dir, 0o755))
			got[k] = runScenario(t, sc, dir, arg)
		}
		if got[0] != got[1] {
			t.Errorf("scenario %d %q (arg %d):\n mount %s\n local %s", i, sc.name, arg, got[0], got[1])
		}
	}
}

// ruleRegressions are scenarios random runs found the mount getting wrong, run first on
// every run.
var ruleRegressions = []struct {
	name string
	arg  uint64
}{
	// truncate(2) of a set-id file to the size it has: ext4 moves both times.
	{"chmod, chown, truncate or write", 8652553978379777802},
	{"truncate to the size it has", 0},
	{"truncate to the size it has", 1},
}

func ruleScenarioNamed(t *testing.T, name string) ruleScenario {
	t.Helper()
	for _, sc := range ruleScenarios {
		if sc.name == name {
			return sc
		}
	}
	t.Fatalf("no rule scenario %q", name)
	return ruleScenario{}
}

const (
	ruleUser  = 65534 // nobody
	ruleOther = 12345 // neither owner nor in the group
)

// ruleScenario sets up a directory, then runs one operation.
type ruleScenario struct {
	name string
	// setup prepares dir as root.
	setup func(t *testing.T, dir string, arg uint64)
	// op runs the operation and returns its errno (0 for success).
	op func(dir string, arg uint64) syscall.Errno
	// watch names the paths (relative to dir; "." for dir) whose times and attributes are
	// compared.
	watch []string
}

// runScenario runs sc in dir and describes the outcome.
func runScenario(t *testing.T, sc ruleScenario, dir string, arg uint64) string {
	t.Helper()
	if sc.setup != nil {
		sc.setup(t, dir, arg)
	}
	before := map[string]syscall.Stat_t{}
	latest := time.Time{}
	for _, w := range sc.watch {
		var st syscall.Stat_t
		if syscall.Lstat(filepath.Join(dir, w), &st) == nil {
			before[w] = st
			for _, ts := range []syscall.Timespec{st.Ctim, st.Mtim} {
				if tt := time.Unix(ts.Unix()); tt.After(latest) {
					latest = tt
				}
			}
		}
	}
	waitCoarsePast(t, latest)
	errno := sc.op(dir, arg)
	var b strings.Builder
	fmt.Fprintf(&b, "errno %d (%v)", int(errno), errno)
	for _, w := range sc.watch {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, w), &st); err != nil {
			fmt.Fprintf(&b, "; %s: %v", w, err)
			continue
		}
		fmt.Fprintf(&b, "; %s: mode %o %d:%d", w, st.Mode, st.Uid, st.Gid)
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			fmt.Fprintf(&b, " nlink %d size %d", st.Nlink, st.Size)
		}
		if old, ok := before[w]; ok {
			fmt.Fprintf(&b, " ctime moved %v mtime moved %v", tsAfter(st.Ctim, old.Ctim), tsAfter(st.Mtim, old.Mtim))
		}
	}
	return b.String()
}

func tsAfter(a, b syscall.Timespec) bool { return time.Unix(a.Unix()).After(time.Unix(b.Unix())) }

// waitCoarsePast waits until the kernel's coarse clock (the one local file systems stamp
// times with) is past ts, so that a change made then gets a later time (at most a second).
func waitCoarsePast(t *testing.T, ts time.Time) {
	t.Helper()
	for range 500 {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &now); err != nil {
			t.Fatal(err)
		}
		if time.Unix(now.Unix()).After(ts) && time.Now().After(ts) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func errnoOfErr(err error) syscall.Errno { return errnoOf(err) }

// asUserErrno runs sh -c script as uid:gid and returns the errno its error message names.
func asUserErrno(uid, gid uint32, script string) syscall.Errno {
	out, err := asUserErr(uid, gid, "sh", "-c", script)
	if err == nil {
		return 0
	}
	for _, e := range []syscall.Errno{syscall.EPERM, syscall.EACCES, syscall.ENOENT, syscall.EEXIST, syscall.ENOTDIR,
		syscall.EISDIR, syscall.ENOTEMPTY} {
		if strings.Contains(out, e.Error()) {
			return e
		}
	}
	return syscall.Errno(1 << 20)
}

func mkfile(t *testing.T, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	must(t, "create", os.WriteFile(p, []byte("content"), 0o600))
	must(t, "chown", os.Lchown(p, uid, gid))
	// syscall.Chmod: os.Chmod's FileMode keeps set-id bits elsewhere than 0o6000.
	must(t, "chmod", syscall.Chmod(p, uint32(mode)))
}

// pick returns one of the values, chosen by arg.
func pick[T any](arg uint64, vs ...T) T { return vs[arg%uint64(len(vs))] }

var ruleScenarios = []ruleScenario{
	{name: "create a file",
		op:    func(d string, _ uint64) syscall.Errno { return errnoOfErr(os.WriteFile(d+"/f", nil, 0o644)) },
		watch: []string{".", "f"}},
	{name: "unlink a file", setup: func(t *testing.T, d string, _ uint64) { mkfile(t, d+"/f", 0o644, 0, 0) },
		op:    func(d string, _ uint64) syscall.Errno { return errnoOfErr(syscall.Unlink(d + "/f")) },
		watch: []string{"."}},
	{name: "mkdir and rmdir", op: func(d string, arg uint64) syscall.Errno {
		if e := errnoOfErr(syscall.Mkdir(d+"/sub", 0o755)); e != 0 || arg%2 == 0 {
			return e
		}
		return errnoOfErr(syscall.Rmdir(d + "/sub"))
	}, watch: []string{"."}},
	{name: "rename a file into another directory",
		setup: func(t *testing.T, d string, _ uint64) {
			must(t, "mkdir", os.Mkdir(d+"/a", 0o755))
			must(t, "mkdir", os.Mkdir(d+"/b", 0o755))
			mkfile(t, d+"/a/f", 0o644, 0, 0)
		},
		op:    func(d string, _ uint64) syscall.Errno { return errnoOfErr(syscall.Rename(d+"/a/f", d+"/b/g")) },
		watch: []string{"a", "b", "b/g"}},
	{name: "rename a directory into another directory",
		setup: func(t *testing.T, d string, _ uint64) {
			must(t, "mkdir", os.MkdirAll(d+"/a/moved/sub", 0o755))
			must(t, "mkdir", os.Mkdir(d+"/b", 0o755))
			mkfile(t, d+"/a/moved/f", 0o644, 0, 0)
		},
		op:    func(d string, _ uint64) syscall.Errno { return errnoOfErr(syscall.Rename(d+"/a/moved", d+"/b/moved")) },
		watch: []string{"a", "b", "b/moved", "b/moved/f"}},
	{name: "symlink, mkfifo or mknod",
		op: func(d string, arg uint64) syscall.Errno {
			switch arg % 3 {
			case 0:
				return errnoOfErr(syscall.Symlink("target", d+"/n"))
			case 1:
				return errnoOfErr(syscall.Mkfifo(d+"/n", 0o640))
			default:
				return errnoOfErr(syscall.Mknod(d+"/n", syscall.S_IFCHR|0o600, 1<<8|3))
			}
		},
		watch: []string{".", "n"}},
	{name: "chmod, chown, truncate or write",
		setup: func(t *testing.T, d string, _ uint64) { mkfile(t, d+"/f", 0o6755, 0, 0) },
		op: func(d string, arg uint64) syscall.Errno {
			p := d + "/f"
			switch arg % 5 {
			case 0:
				return errnoOfErr(syscall.Chmod(p, uint32(arg>>8)&0o7777))
			case 1:
				return errnoOfErr(os.Lchown(p, pick(arg>>8, 0, ruleUser, -1), pick(arg>>12, 0, ruleUser, -1)))
			case 2:
				return errnoOfErr(os.Truncate(p, int64(arg>>8)%100))
			case 3:
				return errnoOfErr(appendFile(p, "more"))
			default:
				return errnoOfErr(syscall.Chmod(p, 0o644))
			}
		},
		watch: []string{".", "f"}},
	{name: "truncate to the size it has",
		setup: func(t *testing.T, d string, _ uint64) { mkfile(t, d+"/f", 0o644, 0, 0) },
		op: func(d string, arg uint64) syscall.Errno {
			if arg%2 == 0 {
				return errnoOfErr(os.Truncate(d+"/f", int64(len("content"))))
			}
			f, err := os.OpenFile(d+"/f", os.O_WRONLY, 0)
			if err != nil {
				return errnoOfErr(err)
			}
			defer f.Close()
			return errnoOfErr(f.Truncate(int64(len("content"))))
		},
		watch: []string{".", "f"}},
	{name: "link and unlink of another name",
		setup: func(t *testing.T, d string, _ uint64) {
			mkfile(t, d+"/f", 0o644, 0, 0)
			must(t, "link", os.Link(d+"/f", d+"/g"))
		},
		op: func(d string, arg uint64) syscall.Errno {
			if arg%2 == 0 {
				return errnoOfErr(os.Link(d+"/f", d+"/h"))
			}
			return errnoOfErr(syscall.Unlink(d + "/g"))
		},
		watch: []string{".", "f"}},
	{name: "chown by a user",
		setup: func(t *testing.T, d string, arg uint64) {
			mkfile(t, d+"/f", pick(arg, os.FileMode(0o644), 0o6755, 0o2755), ruleUser, ruleUser)
		},
		op: func(d string, arg uint64) syscall.Errno {
			// nobody is in its own group only: a change to its group is a no-op it may make,
			// any other owner or group is EPERM.
			return asUserErrno(ruleUser, ruleUser, fmt.Sprintf("chown %s %s/f", pick(arg>>4, "65534", ":65534", "0", ":0", "12345:65534"), d))
		},
		watch: []string{"f"}},
	{name: "write by a non-owner clears set-id bits",
		setup: func(t *testing.T, d string, arg uint64) {
			// Not 0o2767: set-group-id without group-execute is kept by the kernel's FUSE
			// write path where local file systems drop it (SEMANTICS.md, Permissions).
			mkfile(t, d+"/f", pick(arg, os.FileMode(0o6777), 0o4777, 0o2777, 0o6757), 0, 0)
		},
		op:    func(d string, _ uint64) syscall.Errno { return asUserErrno(ruleUser, ruleUser, "echo x >> "+d+"/f") },
		watch: []string{"f"}},
	{name: "sticky directory",
		setup: func(t *testing.T, d string, arg uint64) {
			must(t, "mkdir", os.Mkdir(d+"/tmp", 0o777))
			must(t, "chmod", os.Chmod(d+"/tmp", 0o777|os.ModeSticky))
			mkfile(t, d+"/tmp/f", 0o666, pick(arg, 0, ruleUser, ruleOther), 0)
			must(t, "chown dir", os.Lchown(d+"/tmp", pick(arg>>4, 0, ruleUser), 0))
		},
		op: func(d string, arg uint64) syscall.Errno {
			return asUserErrno(ruleUser, ruleUser, pick(arg>>8, "rm -f ", "mv -f ")+d+"/tmp/f"+pick(arg>>8, "", " "+d+"/tmp/g"))
		},
		watch: []string{"tmp"}},
	{name: "utimensat",
		setup: func(t *testing.T, d string, arg uint64) {
			mkfile(t, d+"/f", pick(arg, os.FileMode(0o666), 0o644), pick(arg>>2, 0, ruleUser), 0)
			must(t, "times", os.Chtimes(d+"/f", time.Unix(1e9, 0), time.Unix(1e9, 0)))
		},
		op: func(d string, arg uint64) syscall.Errno {
			now, omit := unix.Timespec{Nsec: unix.UTIME_NOW}, unix.Timespec{Nsec: unix.UTIME_OMIT}
			given := unix.Timespec{Sec: 1.2e9}
			ts := []unix.Timespec{pick(arg>>4, now, omit, given), pick(arg>>6, now, omit, given)}
			if arg>>8%2 == 0 {
				return errnoOfErr(unix.UtimesNanoAt(unix.AT_FDCWD, d+"/f", ts, 0))
			}
			// As nobody, through touch: -a / -m / both, to now or to a given time.
			flag := pick(arg>>10, "-a", "-m", "")
			date := pick(arg>>12, "", "-d 2001-01-01")
			return asUserErrno(ruleUser, ruleUser, fmt.Sprintf("touch -c %s %s %s/f", flag, date, d))
		},
		watch: []string{"f"}},
	{name: "errno of paths",
		setup: func(t *testing.T, d string, _ uint64) {
			mkfile(t, d+"/f", 0o644, 0, 0)
			must(t, "mkdir", os.Mkdir(d+"/dir", 0o755))
			mkfile(t, d+"/dir/x", 0o644, 0, 0)
			must(t, "mkdir", os.Mkdir(d+"/empty", 0o755))
			must(t, "symlink", os.Symlink("loop2", d+"/loop1"))
			must(t, "symlink", os.Symlink("loop1", d+"/loop2"))
		},
		op: func(d string, arg uint64) syscall.Errno {
			long := strings.Repeat("n", 256)
			ops := []func() error{
				func() error { _, err := os.Stat(d + "/f/x"); return err },                   // ENOTDIR
				func() error { return os.WriteFile(d+"/f/x", nil, 0o644) },                   // ENOTDIR
				func() error { return syscall.Mkdir(d+"/f", 0o755) },                         // EEXIST
				func() error { return syscall.Rmdir(d + "/dir") },                            // ENOTEMPTY
				func() error { return syscall.Rmdir(d + "/f") },                              // ENOTDIR
				func() error { return syscall.Unlink(d + "/dir") },                           // EISDIR
				func() error { _, err := os.OpenFile(d+"/dir", os.O_WRONLY, 0); return err }, // EISDIR
				func() error { _, err := os.ReadFile(d + "/loop1"); return err },             // ELOOP
				func() error { return os.WriteFile(d+"/"+long, nil, 0o644) },                 // ENAMETOOLONG
				func() error { return syscall.Rename(d+"/dir", d+"/f") },                     // ENOTDIR
				func() error { return syscall.Rename(d+"/f", d+"/empty") },                   // EISDIR
				func() error { return syscall.Rename(d+"/empty", d+"/dir") },                 // ENOTEMPTY
				func() error { return os.Link(d+"/dir", d+"/dir2") },                         // EPERM
				func() error { return syscall.Symlink("x", d+"/f") },                         // EEXIST
				func() error { return syscall.Mknod(d+"/dir", syscall.S_IFIFO|0o644, 0) },    // EEXIST
				func() error { return syscall.Rename(d+"/dir", d+"/dir/x/y") },               // EINVAL or ENOTDIR
				func() error { return syscall.Link(d+"/f", d+"/dir/x") },                     // EEXIST
				func() error { _, err := os.Readlink(d + "/f"); return err },                 // EINVAL
				func() error { return syscall.Truncate(d+"/dir", 0) },                        // EISDIR
				func() error { return syscall.Mkdir(d+"/missing/x", 0o755) },                 // ENOENT
			}
			return errnoOfErr(ops[arg%uint64(len(ops))]())
		},
		watch: []string{"."}},
}

// TestRulesShadowedKey: where S3 holds both a key and a "directory" of the same name (keys
// "both" and "both/x"), the directory wins, and every operation on the name gets the errno
// it gets on a local directory holding x.
func TestRulesShadowedKey(t *testing.T) {
	l, mnt := setup(t, 1)
	ctx := context.Background()
	for _, k := range []string{"both", "both/x"} {
		_, err := l.PutObject(ctx, testBucket, k, strings.NewReader("content of "+k), -1, objstore.PutOptions{})
		must(t, "PutObject", err)
	}
	local := t.TempDir()
	must(t, "mkdir", os.Mkdir(local+"/both", 0o755))
	must(t, "write", os.WriteFile(local+"/both/x", []byte("content of both/x"), 0o644))
	mkfile(t, local+"/f", 0o644, 0, 0)
	mkfile(t, mnt+"/f", 0o644, 0, 0)
	ops := []struct {
		name string
		op   func(root string) error
	}{
		{"stat", func(r string) error {
			st, err := os.Stat(r + "/both")
			if err == nil && !st.IsDir() {
				return fmt.Errorf("not a directory: %v", st.Mode())
			}
			return err
		}},
		{"open for writing", func(r string) error { _, err := os.OpenFile(r+"/both", os.O_WRONLY, 0); return err }},
		{"create exclusive", func(r string) error {
			_, err := os.OpenFile(r+"/both", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			return err
		}},
		{"create", func(r string) error { _, err := os.OpenFile(r+"/both", os.O_WRONLY|os.O_CREATE, 0o644); return err }},
		{"unlink", func(r string) error { return syscall.Unlink(r + "/both") }},
		{"rmdir", func(r string) error { return syscall.Rmdir(r + "/both") }},
		{"mkdir", func(r string) error { return syscall.Mkdir(r+"/both", 0o755) }},
		{"symlink", func(r string) error { return syscall.Symlink("t", r+"/both") }},
		{"mkfifo", func(r string) error { return syscall.Mkfifo(r+"/both", 0o644) }},
		{"link onto", func(r string) error { return syscall.Link(r+"/f", r+"/both") }},
		{"rename a file onto", func(r string) error { return syscall.Rename(r+"/f", r+"/both") }},
		{"truncate", func(r string) error { return syscall.Truncate(r+"/both", 0) }},
		{"read", func(r string) error { _, err := os.ReadFile(r + "/both"); return err }},
		{"through a file", func(r string) error { _, err := os.Stat(r + "/both/x/y"); return err }},
		{"readlink", func(r string) error { _, err := os.Readlink(r + "/both"); return err }},
		{"listing", func(r string) error {
			got, err := listing(r)
			if err == nil && got != "both:d--------- f:----------" {
				return fmt.Errorf("listing %q", got)
			}
			return err
		}},
	}
	for _, o := range ops {
		m, lo := errnoOf(o.op(mnt)), errnoOf(o.op(local))
		if m != lo {
			t.Errorf("%s of the name of both a key and a directory: mount %v, local %v", o.name, m, lo)
		}
	}
	// The object "both" is still there, unchanged, for S3.
	if got, _ := getObject(t, l, "both"); string(got) != "content of both" {
		t.Errorf("the shadowed object holds %q", got)
	}
}
