package fusefs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// linkTree returns a local directory with files that are hard links of each other (two
// names in one directory, a third in a subdirectory) and a file with one name.
func linkTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "tree")
	must(t, "mkdir", os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, "write", os.WriteFile(filepath.Join(src, "one"), []byte("one name"), 0o644))
	must(t, "write", os.WriteFile(filepath.Join(src, "a"), []byte("three names"), 0o600))
	must(t, "link", os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	must(t, "link", os.Link(filepath.Join(src, "a"), filepath.Join(src, "sub", "c")))
	return src
}

// sameLinks fails unless the copy of linkTree at dst has its links: a, b and sub/c one
// inode with three names, one another with one.
func sameLinks(t *testing.T, src, dst string) {
	t.Helper()
	sameTree(t, src, dst, true)
	sameInode(t, 3, filepath.Join(dst, "a"), filepath.Join(dst, "b"), filepath.Join(dst, "sub", "c"))
	if st := statOf(t, filepath.Join(dst, "one")); st.Nlink != 1 || st.Ino == statOf(t, filepath.Join(dst, "a")).Ino {
		t.Fatalf("one: ino %d nlink %d", st.Ino, st.Nlink)
	}
}

// TestToolsHardLinks copies trees with hard links into the mount with tar, cp -a and
// rsync -H, links trees inside it with cp -al, and makes rsync --link-dest snapshots:
// the links arrive as links.
func TestToolsHardLinks(t *testing.T) {
	_, dir := setup(t, 4)
	src := linkTree(t)
	t.Run("tar", func(t *testing.T) {
		// Into the mount, and back out: tar of the mount archives the links as links.
		tarThrough(t, src, filepath.Join(dir, "tar"), sameLinks)
	})
	t.Run("cp -a and cp -al", func(t *testing.T) {
		dst := filepath.Join(dir, "cp")
		run(t, nil, "cp", "-a", src, dst)
		sameLinks(t, src, dst)
		linked := filepath.Join(dir, "cp-al")
		run(t, nil, "cp", "-al", dst, linked)
		for _, rel := range []string{"a", "b", "sub/c"} {
			if a, b := statOf(t, filepath.Join(dst, rel)), statOf(t, filepath.Join(linked, rel)); a.Ino != b.Ino || b.Nlink != 6 {
				t.Fatalf("cp -al %s: ino %d nlink %d, original ino %d", rel, b.Ino, b.Nlink, a.Ino)
			}
		}
		sameInode(t, 2, filepath.Join(dst, "one"), filepath.Join(linked, "one"))
	})
	t.Run("rsync -H", func(t *testing.T) {
		dst := filepath.Join(dir, "rsync")
		run(t, nil, "rsync", "-aH", src+"/", dst+"/")
		sameLinks(t, src, dst)
	})
	t.Run("rsync --link-dest", func(t *testing.T) {
		snap0, snap1 := filepath.Join(dir, "snap.0"), filepath.Join(dir, "snap.1")
		run(t, nil, "rsync", "-a", src+"/", snap0+"/")
		must(t, "change", appendFile(filepath.Join(src, "one"), " changed"))
		run(t, nil, "rsync", "-a", "--link-dest="+snap0, src+"/", snap1+"/")
		sameTree(t, src, snap1, true)
		// Unchanged files are links into the previous snapshot; the changed one is new.
		sameInode(t, 2, filepath.Join(snap0, "sub", "c"), filepath.Join(snap1, "sub", "c"))
		sameInode(t, 2, filepath.Join(snap0, "a"), filepath.Join(snap1, "a"))
		var s0, s1 syscall.Stat_t
		must(t, "stat", syscall.Stat(filepath.Join(snap0, "one"), &s0))
		must(t, "stat", syscall.Stat(filepath.Join(snap1, "one"), &s1))
		if s0.Ino == s1.Ino || s1.Nlink != 1 {
			t.Fatalf("the changed file is linked: ino %d/%d nlink %d", s0.Ino, s1.Ino, s1.Nlink)
		}
		readIs(t, filepath.Join(snap0, "one"), "one name")
	})
}
