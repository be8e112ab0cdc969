package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDirSetattrNoChange checks that a chown or chmod of a directory that changes nothing
// stored (tar's chown of every directory it extracts, to the owner it has) moves the
// directory's ctime, as on ext4, without a commit of its marker, and that the next real
// change stores that ctime.
func TestDirSetattrNoChange(t *testing.T) {
	l, dir := setup(t, 4)
	p := filepath.Join(dir, "d")
	must(t, "mkdir", os.Mkdir(p, 0o700))
	must(t, "chmod", os.Chmod(p, 0o750))
	marker := func() (time.Time, attrs) {
		t.Helper()
		info, err := l.StatObject(context.Background(), testBucket, "d/")
		must(t, "StatObject", err)
		return info.ModTime, attrsFromInfo(info, true, owner{})
	}
	mod1, stored1 := marker()
	st1 := statOf(t, p)
	ctime1 := ctimeOf(st1)

	for _, c := range []struct {
		name   string
		change func() error
	}{
		{"chown to its owner", func() error { return os.Lchown(p, int(st1.Uid), int(st1.Gid)) }},
		{"chown -1:-1", func() error { return os.Lchown(p, -1, -1) }},
		{"chmod to its mode", func() error { return os.Chmod(p, 0o750) }},
	} {
		before := ctimeOf(statOf(t, p))
		waitPast(t, before)
		must(t, c.name, c.change())
		st := statOf(t, p)
		if ctime := ctimeOf(st); !ctime.After(before) {
			t.Errorf("%s: ctime %v did not move past %v", c.name, ctime, before)
		}
		if st.Mode&0o7777 != 0o750 || st.Uid != st1.Uid || st.Gid != st1.Gid {
			t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", c.name, st.Mode&0o7777, st.Uid, st.Gid, 0o750, st1.Uid, st1.Gid)
		}
		if mod, stored := marker(); !mod.Equal(mod1) || !stored.ctime.Equal(stored1.ctime) {
			t.Errorf("%s: the marker was committed again (modified %v, was %v; stored ctime %v, was %v)",
				c.name, mod, mod1, stored.ctime, stored1.ctime)
		}
	}

	shown := ctimeOf(statOf(t, p))
	if !shown.After(ctime1) {
		t.Fatalf("ctime %v did not move past %v", shown, ctime1)
	}
	must(t, "chmod", os.Chmod(p, 0o700))
	if _, stored := marker(); stored.mode&0o7777 != 0o700 || stored.ctime.Before(shown) {
		t.Errorf("after a real chmod the marker stores mode %o ctime %v, want 700 and a ctime from %v on",
			stored.mode&0o7777, stored.ctime, shown)
	}
}

func ctimeOf(st syscall.Stat_t) time.Time { return time.Unix(st.Ctim.Sec, st.Ctim.Nsec) }
